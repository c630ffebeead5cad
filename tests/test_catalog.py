"""The dataset catalog: cards, checksummed download and import, provenance, offline messages."""
from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from radlab.data.catalog import dataset_status, fetch, get_card, load_catalog, md5sum
from radlab.errors import ChecksumError, DataError
from radlab.paths import PROJECT_ROOT

RADIOLOGY_SUBSETS = {"pneumoniamnist", "breastmnist", "chestmnist", "organamnist", "organcmnist",
                     "organsmnist", "nodulemnist3d"}


# --- helpers shared with test_medmnist.py and test_cli.py ----------------------------------

def write_npz(path: Path, *, sizes=(6, 2, 3), shape=(28, 28), n_classes=2, multi_label=False,
              seed=0, **replace) -> Path:
    """A small MedMNIST-format npz; ``replace`` swaps (or, with None, drops) named arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        if multi_label:
            arrays[f"{split}_labels"] = rng.integers(0, 2, (n, n_classes), dtype=np.uint8)
        else:
            arrays[f"{split}_labels"] = (np.arange(n) % n_classes).astype(np.uint8)[:, None]
    for key, value in replace.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez_compressed(path, **arrays)
    return path


def make_toy_catalog(tmp_path: Path, monkeypatch, *, md5: str = "0" * 32, name: str = "toymnist",
                     url: str | None = None, image_size: str = "28×28",
                     classes: str = "{0: normal, 1: abnormal}",
                     task: str = "binary classification") -> Path:
    """Point RADLAB_CARDS at a copy of the real cards plus one toy card, RADLAB_DATA at an empty cache."""
    cards = tmp_path / "cards"
    shutil.copytree(PROJECT_ROOT / "datasets", cards)
    url = url or f"https://example.org/{name}.npz"
    (cards / f"{name}.md").write_text(f"""---
name: {name}
title: Toy MedMNIST
kind: medmnist
modality: test images
task: {task}
classes: {classes}
image_size: {image_size}
splits: {{train: 6, val: 2, test: 3}}
url: {url}
md5: "{md5}"
filename: {name}.npz
license: CC0
citation: none
---
A toy dataset for the tests.
""", encoding="utf-8")
    monkeypatch.setenv("RADLAB_CARDS", str(cards))
    monkeypatch.setenv("RADLAB_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --- the cards ---------------------------------------------------------------------------

def test_catalog_has_the_radiology_subsets_the_phantoms_and_the_dicom_samples():
    cards = load_catalog()
    assert RADIOLOGY_SUBSETS <= set(cards)
    assert {cards[n].kind for n in RADIOLOGY_SUBSETS} == {"medmnist"}
    assert cards["chest-phantoms"].kind == cards["ct-phantoms"].kind == "phantom"
    assert cards["pydicom-samples"].kind == "dicom"


def test_medmnist_cards_point_to_the_official_zenodo_files_with_md5s():
    for name in RADIOLOGY_SUBSETS:
        card = get_card(name)
        assert card.filename == f"{name}.npz"
        assert card.url == f"https://zenodo.org/records/10519652/files/{name}.npz?download=1"
        assert re.fullmatch(r"[0-9a-f]{32}", card.md5)
        assert set(card.splits) == {"train", "val", "test"} and min(card.splits.values()) > 0
        assert card.license == "CC BY 4.0" and "Scientific Data" in card.citation
    assert len({get_card(n).md5 for n in RADIOLOGY_SUBSETS}) == len(RADIOLOGY_SUBSETS)


def test_pneumoniamnist_card_has_the_official_md5_classes_and_split_sizes():
    card = get_card("pneumoniamnist")
    assert card.md5 == "28209eda62fecd6e6a2d98b1501bb15f"
    assert card.splits == {"train": 4708, "val": 524, "test": 624}
    assert card.classes == {0: "normal", 1: "pneumonia"}
    assert card.image_shape == (28, 28) and not card.multi_label


def test_card_shapes_and_label_kinds_follow_the_medmnist_release():
    assert get_card("nodulemnist3d").image_shape == (28, 28, 28)
    chest = get_card("chestmnist")
    assert chest.multi_label and len(chest.classes) == 14
    assert len(get_card("organamnist").classes) == 11
    assert get_card("breastmnist").classes[0] == "malignant"  # the label students get backwards


def test_every_card_explains_its_dataset_to_a_student():
    for card in load_catalog().values():
        assert len(card.description) > 400, card.name
        assert "Pitfalls" in card.description, card.name
        assert card.license and card.citation and card.modality and card.task
    assert "28 × 28" in get_card("pneumoniamnist").description
    assert "children" in get_card("pneumoniamnist").description.lower()


def test_phantom_and_dicom_cards_have_no_download():
    for name in ("chest-phantoms", "ct-phantoms", "pydicom-samples"):
        card = get_card(name)
        assert card.url is None or name == "pydicom-samples"
        assert card.md5 is None and card.filename is None and not card.downloadable
    assert get_card("chest-phantoms").license == "MIT"


def test_a_card_missing_a_field_is_refused_naming_the_card_and_the_field(tmp_path, monkeypatch):
    make_toy_catalog(tmp_path, monkeypatch)
    card = tmp_path / "cards" / "toymnist.md"
    card.write_text(card.read_text().replace('md5: "' + "0" * 32 + '"\n', ""))
    with pytest.raises(DataError, match="md5") as err:
        load_catalog()
    assert str(card) in str(err.value)


def test_a_card_whose_name_differs_from_its_file_is_refused(tmp_path, monkeypatch):
    make_toy_catalog(tmp_path, monkeypatch)
    (tmp_path / "cards" / "toymnist.md").rename(tmp_path / "cards" / "other.md")
    with pytest.raises(DataError, match="differs from its file name"):
        load_catalog()


def test_an_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(DataError, match="unknown dataset 'pneumonia'") as err:
        fetch("pneumonia")
    assert "pneumoniamnist" in str(err.value) and "chestmnist" in str(err.value)


def test_phantoms_and_dicom_samples_have_nothing_to_fetch():
    with pytest.raises(DataError, match=r"make_phantoms\('chest'\)"):
        fetch("chest-phantoms")
    with pytest.raises(DataError, match="pydicom-data"):
        fetch("pydicom-samples")
    assert dataset_status("ct-phantoms").startswith("generated on demand")


# --- importing a local copy ----------------------------------------------------------------

def test_a_file_that_is_not_the_official_release_is_refused_showing_both_checksums(tmp_path, monkeypatch):
    cache = make_toy_catalog(tmp_path, monkeypatch, md5="1" * 32)
    source = write_npz(tmp_path / "copy.npz")
    with pytest.raises(ChecksumError) as err:
        fetch("toymnist", source=source)
    message = str(err.value)
    assert err.value.expected == "1" * 32 and err.value.actual == md5sum(source)
    assert "1" * 32 in message and md5sum(source) in message and "--unofficial" in message
    assert not (cache / "toymnist.npz").exists()
    assert dataset_status("toymnist") == "not in cache: radlab fetch toymnist"


def test_an_unofficial_import_is_labelled_and_keeps_its_provenance(tmp_path, monkeypatch):
    cache = make_toy_catalog(tmp_path, monkeypatch, md5="1" * 32)
    source = write_npz(tmp_path / "copy.npz")
    result = fetch("toymnist", source=source, unofficial=True)
    assert (result.official, result.action, result.path) == (False, "imported", cache / "toymnist.npz")
    assert result.md5 == md5sum(source) == md5sum(result.path) and result.expected_md5 == "1" * 32
    record = json.loads((cache / "toymnist.npz.provenance.json").read_text())
    assert record["official"] is False and record["md5"] == result.md5
    assert record["imported_from"] == str(source.resolve()) and record["imported_at"]
    assert dataset_status("toymnist") == "cached (UNOFFICIAL copy)"
    again = fetch("toymnist")  # no source: verifies the cached copy, stays unofficial, no download
    assert (again.official, again.action) == (False, "verified")
    assert sorted(p.name for p in cache.iterdir()) == ["toymnist.npz", "toymnist.npz.provenance.json"]


def test_an_official_import_is_recognised_by_its_md5(tmp_path, monkeypatch):
    source = write_npz(tmp_path / "official.npz")
    make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(source))
    result = fetch("toymnist", source=source)
    assert (result.official, result.action) == (True, "imported")
    assert dataset_status("toymnist") == "cached (official)"
    assert fetch("toymnist", source=source).action == "verified"  # importing the same bytes again


def test_an_official_cached_file_is_never_replaced_by_an_unofficial_one(tmp_path, monkeypatch):
    official = write_npz(tmp_path / "official.npz")
    cache = make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(official))
    fetch("toymnist", source=official)
    other = write_npz(tmp_path / "other.npz", seed=1)
    with pytest.raises(DataError, match="refusing to replace") as err:
        fetch("toymnist", source=other, unofficial=True)
    assert str(cache / "toymnist.npz") in str(err.value)
    assert md5sum(cache / "toymnist.npz") == md5sum(official)
    assert dataset_status("toymnist") == "cached (official)"


def test_an_unofficial_copy_gives_way_to_the_official_release_and_says_so(tmp_path, monkeypatch):
    official = write_npz(tmp_path / "official.npz")
    cache = make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(official))
    unofficial = write_npz(tmp_path / "copy.npz", seed=1)
    fetch("toymnist", source=unofficial, unofficial=True)
    result = fetch("toymnist", source=official)
    assert result.official and result.replaced_md5 == md5sum(unofficial)
    assert json.loads((cache / "toymnist.npz.provenance.json").read_text())["official"] is True
    assert dataset_status("toymnist") == "cached (official)"


def test_a_corrupt_file_is_refused_even_as_unofficial(tmp_path, monkeypatch):
    cache = make_toy_catalog(tmp_path, monkeypatch)
    good = write_npz(tmp_path / "good.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a truncated download
    with pytest.raises(DataError, match="not a readable .npz") as err:
        fetch("toymnist", source=broken, unofficial=True)
    assert str(broken) in str(err.value) and "radlab fetch toymnist" in str(err.value)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_file_with_the_wrong_arrays_is_refused_on_import(tmp_path, monkeypatch):
    make_toy_catalog(tmp_path, monkeypatch)
    bad = write_npz(tmp_path / "bad.npz", test_labels=None)
    with pytest.raises(DataError, match="lacks the key"):
        fetch("toymnist", source=bad, unofficial=True)


def test_a_missing_source_file_is_named():
    with pytest.raises(DataError, match="no such file") as err:
        fetch("pneumoniamnist", source=Path("/nonexistent/pneumoniamnist.npz"))
    assert "/nonexistent/pneumoniamnist.npz" in str(err.value)


def test_a_cached_file_nobody_vouched_for_is_not_trusted(tmp_path, monkeypatch):
    cache = make_toy_catalog(tmp_path, monkeypatch, md5="1" * 32)
    cache.mkdir()
    stray = write_npz(cache / "toymnist.npz")  # placed by hand, no provenance
    with pytest.raises(ChecksumError, match="--unofficial"):
        fetch("toymnist")
    assert "does not match" in dataset_status("toymnist")
    result = fetch("toymnist", source=stray, unofficial=True)  # the fix the message gives
    assert (result.official, result.action) == (False, "verified")
    assert dataset_status("toymnist") == "cached (UNOFFICIAL copy)"


# --- downloading -----------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def local_server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/www: a real download without the internet."""
    www = tmp_path / "www"
    www.mkdir()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=www))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_download_checks_the_md5_and_records_provenance(tmp_path, monkeypatch, local_server):
    www, base = local_server
    served = write_npz(www / "toymnist.npz")
    cache = make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(served), url=f"{base}/toymnist.npz")
    result = fetch("toymnist")
    assert (result.action, result.official, result.md5) == ("downloaded", True, md5sum(served))
    assert json.loads((cache / "toymnist.npz.provenance.json").read_text())["imported_from"] == f"{base}/toymnist.npz"
    served.unlink()  # the second fetch must not need the server
    assert fetch("toymnist").action == "verified"


def test_a_download_with_the_wrong_checksum_leaves_nothing_in_the_cache(tmp_path, monkeypatch, local_server):
    www, base = local_server
    write_npz(www / "toymnist.npz")
    cache = make_toy_catalog(tmp_path, monkeypatch, md5="1" * 32, url=f"{base}/toymnist.npz")
    with pytest.raises(DataError, match="could not download"):
        fetch("toymnist")
    assert not (cache / "toymnist.npz").exists()


def test_offline_says_which_file_to_place_where_or_how_to_import_it(tmp_path, monkeypatch):
    cache = make_toy_catalog(tmp_path, monkeypatch, url="http://127.0.0.1:9/toymnist.npz")  # nothing listens
    with pytest.raises(DataError, match="could not download toymnist") as err:
        fetch("toymnist")
    message = str(err.value)
    assert f"place it at {cache / 'toymnist.npz'}" in message
    assert "radlab fetch toymnist --from FILE" in message and "0" * 32 in message


def test_the_offline_message_of_a_real_card_names_the_official_file(tmp_path, monkeypatch):
    import pooch

    def no_network(url, **kwargs):
        raise ConnectionError(f"Max retries exceeded with url: {url}")  # what requests raises offline

    monkeypatch.setenv("RADLAB_DATA", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(DataError) as err:
        fetch("pneumoniamnist")
    message = str(err.value)
    assert "https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1" in message
    assert "28209eda62fecd6e6a2d98b1501bb15f" in message
    assert f"place it at {tmp_path / 'pneumoniamnist.npz'}" in message
    assert "radlab fetch pneumoniamnist --from FILE" in message


def test_dataset_state_is_data_that_code_branches_on_with_the_phrase_for_people(tmp_path, monkeypatch):
    from radlab.data.catalog import Availability, dataset_state

    cache = make_toy_catalog(tmp_path, monkeypatch, md5="1" * 32)
    missing = dataset_state("toymnist")
    assert missing.availability is Availability.MISSING and not missing.cached
    assert str(missing) == missing.text == dataset_status("toymnist") == "not in cache: radlab fetch toymnist"
    fetch("toymnist", source=write_npz(tmp_path / "copy.npz"), unofficial=True)
    copy = dataset_state("toymnist")
    assert copy.availability is Availability.UNOFFICIAL and copy.cached and not copy.official
    (cache / "toymnist.npz").write_bytes(b"changed")
    changed = dataset_state("toymnist")
    assert changed.availability is Availability.MISMATCH and not changed.cached and "delete it" in changed.text
    assert dataset_state("ct-phantoms").availability is Availability.GENERATED
