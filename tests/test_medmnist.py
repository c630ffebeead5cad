"""Loading MedMNIST files: the real PneumoniaMNIST, and every way a file can be wrong."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from radlab.data.catalog import UnofficialDataWarning, fetch, get_card, md5sum
from radlab.data.medmnist import load_medmnist, read_medmnist_npz
from radlab.errors import ChecksumError, DataError
from test_catalog import make_toy_catalog, write_npz


def test_real_pneumoniamnist_has_the_split_sizes_and_label_counts_of_sources_md(data_cache):
    with pytest.warns(UnofficialDataWarning, match="UNOFFICIAL copy of PneumoniaMNIST"):
        data = load_medmnist("pneumoniamnist")
    # ../shared/datasets/SOURCES.md: train 3882 = 388/3494, val 524 = 135/389, test 624 = 234/390
    assert [len(data.train), len(data.val), len(data.test)] == [3882, 524, 624]
    assert data.train.class_counts() == {0: 388, 1: 3494}
    assert data.val.class_counts() == {0: 135, 1: 389}
    assert data.test.class_counts() == {0: 234, 1: 390}
    for part in (data.train, data.val, data.test):
        assert part.images.dtype == np.uint8 and part.images.shape[1:] == (28, 28)
        assert part.labels.dtype == np.int64 and part.labels.shape == (len(part.images),)
    assert data.official is False and data.path == data_cache / "pneumoniamnist.npz"
    assert data.card.name == "pneumoniamnist"
    assert "UNOFFICIAL" in str(data) and "official release: 4708" in str(data)


def test_an_official_file_loads_without_a_warning(tmp_path, monkeypatch):
    source = write_npz(tmp_path / "official.npz", sizes=(5, 3, 4))
    make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(source))
    fetch("toymnist", source=source)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_medmnist("toymnist")
    assert data.official and [len(data.train), len(data.val), len(data.test)] == [5, 3, 4]
    assert np.array_equal(data.val.labels, [0, 1, 0])


def test_a_missing_file_says_to_run_radlab_fetch(tmp_path, monkeypatch):
    cache = make_toy_catalog(tmp_path, monkeypatch)
    with pytest.raises(DataError, match="not in the data cache") as err:
        load_medmnist("toymnist")
    assert str(cache / "toymnist.npz") in str(err.value)
    assert "radlab fetch toymnist" in str(err.value) and "--from FILE" in str(err.value)


def test_a_cached_file_that_does_not_match_its_card_is_not_loaded(tmp_path, monkeypatch):
    cache = make_toy_catalog(tmp_path, monkeypatch, md5="1" * 32)
    cache.mkdir()
    write_npz(cache / "toymnist.npz")
    with pytest.raises(ChecksumError, match="--unofficial"):
        load_medmnist("toymnist")


def test_only_medmnist_datasets_load_here():
    with pytest.raises(DataError, match="not a MedMNIST dataset"):
        load_medmnist("chest-phantoms")


# --- what read_medmnist_npz checks -----------------------------------------------------------

@pytest.fixture()
def card(tmp_path, monkeypatch):
    make_toy_catalog(tmp_path, monkeypatch)
    return get_card("toymnist")


def test_wrong_keys_are_named_with_the_keys_expected_and_found(tmp_path, card):
    path = write_npz(tmp_path / "bad.npz", train_images=None, train_labels=None,
                     x_train=np.zeros((6, 28, 28), np.uint8))
    with pytest.raises(DataError) as err:
        read_medmnist_npz(path, card)
    message = str(err.value)
    assert "lacks the key(s) train_images, train_labels" in message
    assert "expected keys train_images, train_labels, val_images" in message
    assert "found test_images, test_labels, val_images, val_labels, x_train" in message
    assert str(path) in message and "radlab fetch toymnist" in message


def test_a_label_count_that_differs_from_the_image_count_is_refused(tmp_path, card):
    path = write_npz(tmp_path / "bad.npz", val_labels=np.zeros((5, 1), np.uint8))
    with pytest.raises(DataError, match="val has 2 images but 5 labels") as err:
        read_medmnist_npz(path, card)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("images, problem", [
    (np.zeros((6, 28, 28), np.float32), "dtype float32; MedMNIST images are uint8"),
    (np.zeros((6, 32, 32), np.uint8), r"shape \(6, 32, 32\); expected \(N, 28, 28\)"),
    (np.zeros((6, 28, 28, 3), np.uint8), r"shape \(6, 28, 28, 3\)"),
    (np.full((6, 28, 28), np.nan, np.float32), "train_images contain NaN"),
])
def test_images_of_the_wrong_dtype_or_shape_or_with_nan_are_refused(tmp_path, card, images, problem):
    path = write_npz(tmp_path / "bad.npz", train_images=images)
    with pytest.raises(DataError, match=problem):
        read_medmnist_npz(path, card)


@pytest.mark.parametrize("labels, problem", [
    (np.array([[0.0], [1.0], [np.nan]]), "test_labels contain NaN"),
    (np.array([[0.0], [1.5], [1.0]]), "not whole numbers"),
    (np.array([[0], [1], [2]]), "range from 0 to 2; the card has 2 classes"),
    (np.array([[0, 1], [1, 0], [0, 0]]), r"shape \(3, 2\); expected \(N,\) or \(N, 1\)"),
    (np.array(["a", "b", "c"]), "expected integers"),
])
def test_labels_that_are_not_class_numbers_are_refused(tmp_path, card, labels, problem):
    path = write_npz(tmp_path / "bad.npz", test_labels=labels)
    with pytest.raises(DataError, match=problem):
        read_medmnist_npz(path, card)


def test_whole_number_float_labels_are_accepted_as_int64(tmp_path, card):
    path = write_npz(tmp_path / "ok.npz", test_labels=np.array([[1.0], [0.0], [1.0]]))
    test = read_medmnist_npz(path, card)["test"]
    assert test.labels.dtype == np.int64 and test.labels.tolist() == [1, 0, 1]


def test_a_file_that_is_not_an_npz_is_called_corrupt(tmp_path, card):
    path = tmp_path / "toymnist.npz"
    path.write_text("<html>Too many requests</html>")  # what a failed download sometimes saves
    with pytest.raises(DataError, match="not a readable .npz file, corrupt or truncated"):
        read_medmnist_npz(path, card)


def test_multi_label_files_keep_one_column_per_finding(tmp_path, monkeypatch):
    classes = "{" + ", ".join(f"{k}: finding{k}" for k in range(14)) + "}"
    make_toy_catalog(tmp_path, monkeypatch, classes=classes, task="multi-label binary classification")
    card = get_card("toymnist")
    path = write_npz(tmp_path / "chest.npz", n_classes=14, multi_label=True)
    train = read_medmnist_npz(path, card)["train"]
    assert train.labels.shape == (6, 14) and train.labels.dtype == np.int64
    assert train.class_counts() == {k: int(n) for k, n in enumerate(train.labels.sum(axis=0))}
    wrong = write_npz(tmp_path / "wrong.npz", n_classes=13, multi_label=True)
    with pytest.raises(DataError, match=r"expected \(N, 14\) 0/1 findings"):
        read_medmnist_npz(wrong, card)


def test_3d_files_load_as_volumes(tmp_path, monkeypatch):
    make_toy_catalog(tmp_path, monkeypatch, image_size="28×28×28")
    path = write_npz(tmp_path / "nodules.npz", sizes=(2, 1, 1), shape=(28, 28, 28))
    splits = read_medmnist_npz(path, get_card("toymnist"))
    assert splits["train"].images.shape == (2, 28, 28, 28)
    flat = write_npz(tmp_path / "flat.npz")
    with pytest.raises(DataError, match=r"expected \(N, 28, 28, 28\)"):
        read_medmnist_npz(flat, get_card("toymnist"))
