"""The dataset card format: a Markdown file with YAML front matter, read and checked into a ``DatasetCard``.

The bottom of ``radlab.data``: the catalog (fetching, status) and the MedMNIST reader both
build on it, so neither needs the other at import time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from radlab.errors import DataError

KINDS = ("medmnist", "phantom", "dicom")
REQUIRED_FIELDS = ("name", "title", "kind", "modality", "task", "classes", "image_size",
                   "splits", "license", "citation")
DOWNLOAD_FIELDS = ("url", "md5", "filename")  # required when a dataset is a file to fetch
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class UnofficialDataWarning(UserWarning):
    """Loaded data is a copy that is not the official release (results are not comparable)."""


@dataclass(frozen=True)
class DatasetCard:
    """One dataset's card: what it is, where it comes from, and how to cite it."""

    name: str
    title: str
    modality: str
    task: str
    classes: dict[int, str]
    image_size: str
    splits: dict[str, int]
    url: str | None
    md5: str | None
    filename: str | None
    license: str
    citation: str
    kind: str
    description: str
    path: Path

    @property
    def multi_label(self) -> bool:
        """True when an image may carry several findings at once (labels of shape (N, K))."""
        return "multi-label" in self.task.lower()

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The image size as numbers, e.g. ``(28, 28)`` or ``(28, 28, 28)``; () when it varies."""
        match = re.match(r"\s*(\d+(?:\s*[×x]\s*\d+)+)", self.image_size)
        return tuple(int(n) for n in re.findall(r"\d+", match.group(1))) if match else ()

    @property
    def downloadable(self) -> bool:
        """True for datasets that are files to fetch (not generated, not shipped with a package)."""
        return self.filename is not None


# --- cards ------------------------------------------------------------------------------

def _split_front_matter(text: str, path: Path) -> tuple[str, str]:
    """Return (YAML front matter, Markdown body) of a card."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise DataError("a dataset card must start with a '---' line (YAML front matter)", path=path,
                        fix="begin the file with ---, the card's fields, then --- and the text")
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:end]), "\n".join(lines[end + 1:]).strip()
    raise DataError("the YAML front matter is not closed", path=path,
                    fix="add a line '---' after the card's fields")


def read_card(path: Path) -> DatasetCard:
    """Read and check one card file."""
    path = Path(path)
    front, body = _split_front_matter(path.read_text(encoding="utf-8"), path)
    try:
        meta: Any = yaml.load(front, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise DataError(f"the front matter is not valid YAML ({err})", path=path,
                        fix="fix the YAML between the two '---' lines") from err
    if not isinstance(meta, dict):
        raise DataError("the front matter is not a mapping of fields", path=path,
                        fix="write one 'field: value' per line")
    missing = [f for f in REQUIRED_FIELDS if meta.get(f) in (None, "")]
    if meta.get("kind") == "medmnist":
        missing += [f for f in DOWNLOAD_FIELDS if not meta.get(f)]
    if missing:
        raise DataError(f"the card lacks the field(s) {', '.join(missing)}", path=path,
                        fix=f"add {', '.join(missing)} to the front matter")
    if meta["name"] != path.stem:
        raise DataError(f"the card's name {meta['name']!r} differs from its file name", path=path,
                        fix=f"name the file {meta['name']}.md or set name: {path.stem}")
    if meta["kind"] not in KINDS:
        raise DataError(f"unknown kind {meta['kind']!r}", path=path, fix=f"use one of {', '.join(KINDS)}")
    md5 = meta.get("md5")
    if md5 is not None and not (isinstance(md5, str) and _MD5.match(md5)):
        raise DataError(f"md5 {md5!r} is not 32 lowercase hex digits", path=path,
                        fix="write the MD5 in quotes, e.g. md5: \"28209eda62fecd6e6a2d98b1501bb15f\"")
    for field in ("classes", "splits"):
        if not isinstance(meta[field], dict):
            raise DataError(f"{field} must be a mapping", path=path, fix=f"write {field}: {{...}}")
    return DatasetCard(
        name=meta["name"], title=str(meta["title"]), modality=str(meta["modality"]),
        task=str(meta["task"]), classes={int(k): str(v) for k, v in meta["classes"].items()},
        image_size=str(meta["image_size"]), splits={str(k): int(v) for k, v in meta["splits"].items()},
        url=meta.get("url"), md5=md5, filename=meta.get("filename"), license=str(meta["license"]),
        citation=str(meta["citation"]).strip(), kind=meta["kind"], description=body, path=path,
    )


__all__ = ["DOWNLOAD_FIELDS", "KINDS", "REQUIRED_FIELDS", "DatasetCard", "UnofficialDataWarning", "read_card"]
