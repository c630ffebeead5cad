"""The dataset catalog: cards in ``datasets/*.md`` and a checksummed fetch into the data cache.

Each card is Markdown with YAML front matter (name, modality, task, classes, image size,
split sizes, source URL, MD5, license, citation); its body explains the dataset to a student.
``fetch`` downloads a dataset with pooch, or imports a local copy, and checks its MD5 against
the card so that everyone knows whether they work on the official release.
"""
from __future__ import annotations

import enum
import functools
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from radlab.data.cards import DOWNLOAD_FIELDS, KINDS, REQUIRED_FIELDS, DatasetCard, UnofficialDataWarning, read_card  # noqa: F401  (re-exported)
from radlab.data.medmnist_npz import read_medmnist_npz
from radlab.errors import ChecksumError, DataError
from radlab.paths import cards_dir, data_cache


@dataclass
class FetchResult:
    """What ``fetch`` did: where the file is, its checksum, and whether it is the official release."""

    name: str
    path: Path
    md5: str
    expected_md5: str | None
    official: bool
    action: str  # "downloaded" | "verified" | "imported"
    imported_from: str | None = None
    replaced_md5: str | None = None  # md5 of a different cached copy this import replaced


def load_catalog() -> dict[str, DatasetCard]:
    """Read every card in the cards folder (``datasets/``, or ``RADLAB_CARDS``), by name."""
    folder = cards_dir()
    paths = sorted(folder.glob("*.md"))
    if not paths:
        raise DataError("no dataset cards found", path=folder,
                        fix="run from a RadLab checkout, or point RADLAB_CARDS to its datasets/ folder")
    # Cards are re-read only when a file changes (its size or modification time).
    stamp = tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    return dict(_read_cards(stamp))


@functools.lru_cache(maxsize=8)
def _read_cards(stamp: tuple[tuple[Path, int, int], ...]) -> dict[str, DatasetCard]:
    return {card.name: card for card in (read_card(path) for path, _, _ in stamp)}


def get_card(name: str) -> DatasetCard:
    """The card of one dataset; an unknown name lists the known ones."""
    catalog = load_catalog()
    if name not in catalog:
        raise DataError(f"unknown dataset {name!r}",
                        fix=f"use one of: {', '.join(catalog)} (see `radlab datasets`)")
    return catalog[name]


# --- the cache --------------------------------------------------------------------------

def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks (``"md5"`` for MedMNIST, ``"sha256"`` for torch.hub weights)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def md5sum(path: Path) -> str:
    """MD5 of a file (how MedMNIST publishes its checksums)."""
    return file_digest(path, "md5")


def cached_path(name: str) -> Path:
    """Where a dataset's file lives in the data cache (it may not be there yet)."""
    card = get_card(name)
    if not card.downloadable:
        raise DataError(f"{name} is not a file to download ({_not_a_download(card)})")
    return data_cache() / card.filename


def provenance_path(path: Path) -> Path:
    """The sidecar JSON next to a cached file that records where it came from."""
    return path.with_name(path.name + ".provenance.json")


def read_provenance(path: Path) -> dict | None:
    """The provenance recorded for a cached file, or None when there is none (or it is unreadable)."""
    try:
        return json.loads(provenance_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_atomically(path: Path, write) -> None:
    """Write ``path`` through a temporary file and ``os.replace``: never a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _record_provenance(path: Path, *, official: bool, md5: str, imported_from: str) -> None:
    record = {"official": official, "md5": md5, "imported_from": imported_from,
              "imported_at": datetime.now(UTC).isoformat(timespec="seconds")}
    _write_atomically(provenance_path(path),
                      lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8"))


def _is_labelled_unofficial(path: Path, md5: str) -> bool:
    """True when the file was imported on purpose with ``unofficial=True`` (its md5 recorded)."""
    record = read_provenance(path)
    return bool(record) and record.get("official") is False and record.get("md5") == md5


def _not_a_download(card: DatasetCard) -> str:
    if card.kind == "phantom":
        kind = card.name.split("-")[0]
        return f"it is generated on your computer: radlab.data.phantoms.make_phantoms({kind!r})"
    return "its files come with the pydicom and pydicom-data packages: pip install pydicom-data"


def _fetch_fix(card: DatasetCard, target: Path) -> str:
    return (f"download {card.url} (md5 {card.md5}) and place it at {target}, "
            f"or import a copy you have: radlab fetch {card.name} --from FILE")


# --- fetch ------------------------------------------------------------------------------

def fetch(name: str, *, source: Path | None = None, unofficial: bool = False) -> FetchResult:
    """Put a dataset's file in the data cache and check it against the card's MD5.

    Without ``source`` the official release is downloaded (or the cached copy verified).
    With ``source`` a local copy is imported; one that is not the official release is refused
    unless ``unofficial=True``, and is then labelled unofficial wherever it is listed or loaded.
    """
    card = get_card(name)
    if not card.downloadable:
        raise DataError(f"{name} has nothing to fetch: {_not_a_download(card)}")
    cache = data_cache()
    target = cache / card.filename
    if source is not None:
        return _import(card, Path(source), target, unofficial=unofficial)
    if target.is_file():
        return _verify_cached(card, target)
    cache.mkdir(parents=True, exist_ok=True)
    _download(card, target)
    md5 = md5sum(target)
    _record_provenance(target, official=True, md5=md5, imported_from=card.url)
    return FetchResult(name, target, md5, card.md5, official=True, action="downloaded",
                       imported_from=card.url)


def _verify_cached(card: DatasetCard, target: Path) -> FetchResult:
    """Check a file already in the cache: official, a labelled unofficial copy, or not to be trusted."""
    md5 = md5sum(target)
    if md5 == card.md5:
        return FetchResult(card.name, target, md5, card.md5, official=True, action="verified")
    if _is_labelled_unofficial(target, md5):
        return FetchResult(card.name, target, md5, card.md5, official=False, action="verified",
                           imported_from=read_provenance(target).get("imported_from"))
    raise ChecksumError(target, expected=card.md5, actual=md5, fix=(
        f"this cached file is not the official release and was not imported as an unofficial copy. "
        f"If you trust it: radlab fetch {card.name} --from {target} --unofficial; "
        f"otherwise delete it and run: radlab fetch {card.name}"))


def _download_checked(url: str, target: Path, *, known_hash: str | None, check) -> None:
    """Download ``url`` into a temporary name, ``check(part)`` it, then ``os.replace`` it onto ``target``.

    The file appears under its own name only complete and checked: an interrupted download
    (Ctrl-C, a lost connection, a killed process) never leaves a half file that a later
    ``fetch`` or loader could take as good. pooch does the transfer (proxies from
    ``HTTPS_PROXY``/``HTTP_PROXY``, progress bar). Used for datasets and for pretrained weights.
    """
    import pooch  # noqa: PLC0415  (only needed for a download)

    _remove_stale_parts(target)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        pooch.retrieve(url, known_hash=known_hash, fname=part.name, path=target.parent, progressbar=True)
        check(part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _download(card: DatasetCard, target: Path) -> None:
    """Download the official file; the cache gets it only complete and with the card's MD5."""

    def official_bytes(part: Path) -> None:  # whatever did the transfer, the cache only gets the official bytes
        md5 = md5sum(part)
        if md5 != card.md5:
            raise ValueError(f"the file received has md5 {md5}, the card expects {card.md5}")

    try:
        _download_checked(card.url, target, known_hash=f"md5:{card.md5}", check=official_bytes)
    except (OSError, ValueError) as err:  # no network, HTTP error, or a checksum mismatch
        raise DataError(f"could not download {card.name} from {card.url} ({type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else 'no details'})",
                        path=target, fix=_fetch_fix(card, target)) from err


def _remove_stale_parts(target: Path) -> None:
    """Delete partial downloads of ``target`` left by processes that no longer run (e.g. kill -9)."""
    for part in target.parent.glob(f".{target.name}.*.part"):
        pid = part.name[len(target.name) + 2:-len(".part")]
        if pid.isdigit() and not _process_is_running(int(pid)):
            part.unlink(missing_ok=True)


def _process_is_running(pid: int) -> bool:
    if os.name == "nt":  # signal 0 means Ctrl-C there: keep the part file (it is never read)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


def _import(card: DatasetCard, source: Path, target: Path, *, unofficial: bool) -> FetchResult:
    """Copy a local file into the cache after checking its MD5 and its contents."""
    if not source.is_file():
        raise DataError("no such file to import", path=source, fix=(
            f"give the path of a copy of {card.filename}, "
            f"e.g. radlab fetch {card.name} --from ~/Downloads/{card.filename}"))
    md5 = md5sum(source)
    official = md5 == card.md5
    if not official and not unofficial:
        raise ChecksumError(source, expected=card.md5, actual=md5, fix=(
            f"this is not the official release of {card.name}. Use the official file ({card.url}), "
            f"or, if you trust this copy, import it labelled unofficial: "
            f"radlab fetch {card.name} --from {source} --unofficial"))
    _check_contents(card, source)

    replaced = None
    if target.is_file():
        cached_md5 = md5sum(target)
        if cached_md5 == md5:  # the same bytes: keep the file, make sure its label is right
            record = read_provenance(target) or {}
            if (record.get("official"), record.get("md5")) != (official, md5):
                _record_provenance(target, official=official, md5=md5, imported_from=str(source.resolve()))
            return FetchResult(card.name, target, md5, card.md5, official, "verified", str(source.resolve()))
        if cached_md5 == card.md5:
            raise DataError(
                f"the official release of {card.name} is already in the cache; "
                f"refusing to replace it with the unofficial copy {source} (md5 {md5})", path=target,
                fix=f"nothing to do: use the official file. To replace it anyway, delete {target} first")
        replaced = cached_md5
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, lambda tmp: shutil.copyfile(source, tmp))
    _record_provenance(target, official=official, md5=md5, imported_from=str(source.resolve()))
    return FetchResult(card.name, target, md5, card.md5, official, "imported",
                       str(source.resolve()), replaced_md5=replaced)


def _check_contents(card: DatasetCard, path: Path) -> None:
    """Refuse a file whose contents cannot be loaded (wrong keys, shapes, a corrupt archive)."""
    if card.kind == "medmnist":
        read_medmnist_npz(path, card)


# --- status -----------------------------------------------------------------------------

class Availability(enum.Enum):
    """Whether a dataset is ready to use; widgets and the CLI branch on this, never on the words shown."""

    OFFICIAL = "cached, official release"
    UNOFFICIAL = "cached, labelled UNOFFICIAL copy"
    MISMATCH = "cached file does not match the card"
    MISSING = "not in the cache"
    GENERATED = "generated on demand"
    INSTALLED = "installed with a package"
    PARTIAL = "partly installed"


@dataclass(frozen=True)
class DatasetStatus:
    """A dataset's availability (data) and the phrase a person reads (``text``, also ``str(status)``)."""

    name: str
    availability: Availability
    text: str

    @property
    def cached(self) -> bool:
        """The dataset's file is in the cache and vouched for (official, or an imported copy labelled unofficial)."""
        return self.availability in (Availability.OFFICIAL, Availability.UNOFFICIAL)

    @property
    def official(self) -> bool:
        return self.availability is Availability.OFFICIAL

    def __str__(self) -> str:
        return self.text


def dataset_state(name: str) -> DatasetStatus:
    """Whether a dataset is ready: cached (official / UNOFFICIAL), generated, installed, or how to get it."""
    card = get_card(name)
    if card.kind == "phantom":
        return DatasetStatus(name, Availability.GENERATED, "generated on demand (no download)")
    if card.kind == "dicom":
        if _has_pydicom_data():
            return DatasetStatus(name, Availability.INSTALLED, "installed (pydicom + pydicom-data)")
        return DatasetStatus(name, Availability.PARTIAL,
                             "pydicom samples only: pip install pydicom-data for the CR/MR/CT files")
    target = data_cache() / card.filename
    if not target.is_file():
        return DatasetStatus(name, Availability.MISSING, f"not in cache: radlab fetch {name}")
    md5 = md5sum(target)
    if md5 == card.md5:
        return DatasetStatus(name, Availability.OFFICIAL, "cached (official)")
    if _is_labelled_unofficial(target, md5):
        return DatasetStatus(name, Availability.UNOFFICIAL, "cached (UNOFFICIAL copy)")
    return DatasetStatus(name, Availability.MISMATCH,
                         f"cached file does not match the card (md5 {md5}): delete it and radlab fetch {name}")


def dataset_status(name: str) -> str:
    """One phrase saying whether a dataset is ready (for people; code uses :func:`dataset_state`)."""
    return dataset_state(name).text


def _has_pydicom_data() -> bool:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        version("pydicom-data")
    except PackageNotFoundError:
        return False
    return True


# --- pretrained weights -------------------------------------------------------------------
# Not datasets (no card): files ``radlab fetch NAME`` knows, checked the way torch.hub checks
# them: the file's SHA-256 must start with the prefix torchvision puts in its name.

#: name -> (url, file in the data cache, SHA-256 prefix). The ResNet-18 entry is torchvision's
#: ``ResNet18_Weights.IMAGENET1K_V1`` (torchvision/models/resnet.py).
WEIGHTS: dict[str, tuple[str, str, str]] = {
    "resnet18-imagenet": ("https://download.pytorch.org/models/resnet18-f37072fd.pth",
                          "weights/resnet18-f37072fd.pth", "f37072fd"),
}


@dataclass
class WeightsResult:
    """What ``fetch_weights`` did: where the file is and its SHA-256 (which starts with the expected prefix)."""

    name: str
    path: Path
    sha256: str
    expected_prefix: str
    action: str  # "downloaded" | "verified" | "imported"
    imported_from: str | None = None


def sha256sum(path: Path) -> str:
    """SHA-256 of a file (how torch.hub checks downloaded weights)."""
    return file_digest(path, "sha256")


def fetch_weights(name: str, *, source: Path | None = None) -> WeightsResult:
    """Put pretrained weights in the data cache (download, or import ``source``), refusing a wrong file.

    The file is checked before it reaches the cache: its SHA-256 must start with the entry's prefix.
    """
    if name not in WEIGHTS:
        raise DataError(f"unknown weights {name!r}", fix=f"use one of: {', '.join(WEIGHTS)}")
    url, filename, prefix = WEIGHTS[name]
    target = data_cache() / filename

    def check(path: Path, what: str) -> str:
        digest = sha256sum(path)
        if not digest.startswith(prefix):
            raise DataError(f"{what} is not {Path(filename).name}: its SHA-256 starts {digest[:8]}, expected {prefix}",
                            path=path, fix=f"use the file from {url} (or pass your own weights to the lab as a path)")
        return digest

    if source is not None:
        source = Path(source)
        if not source.is_file():
            raise DataError("no such file to import", path=source, fix=f"give the path of a copy of {url}")
        digest = check(source, "this file")
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, lambda tmp: shutil.copyfile(source, tmp))
        return WeightsResult(name, target, digest, prefix, "imported", str(source.resolve()))
    if target.is_file():
        return WeightsResult(name, target, check(target, "the cached file"), prefix, "verified")
    target.parent.mkdir(parents=True, exist_ok=True)
    checked: list[str] = []
    try:
        _download_checked(url, target, known_hash=None,
                          check=lambda part: checked.append(check(part, "the downloaded file")))
    except OSError as err:  # no network, HTTP error
        raise DataError(f"could not download {name} from {url} ({type(err).__name__})", path=target,
                        fix=f"download it elsewhere, then: radlab fetch {name} --from FILE") from err
    return WeightsResult(name, target, checked[0], prefix, "downloaded", url)
