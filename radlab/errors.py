"""Errors that tell a student what went wrong, with which file, and how to fix it."""
from __future__ import annotations

from pathlib import Path


class RadlabError(Exception):
    """Base class of every error RadLab raises on purpose."""


class DataError(RadlabError, ValueError):
    """Bad input data. The message names the file and the fix.

    >>> raise DataError("not a DICOM file", path="x.txt", fix="pick a .dcm file")
    """

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.problem, self.path, self.fix = problem, (str(path) if path is not None else None), fix
        parts = [f"{self.path}: {problem}" if self.path else problem]
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__("\n".join(parts))


class ChecksumError(DataError):
    """A downloaded or imported file is not the one the dataset card names."""

    def __init__(self, path: str | Path, *, expected: str, actual: str, fix: str):
        self.expected, self.actual = expected, actual
        super().__init__(f"checksum mismatch: expected md5 {expected}, file has md5 {actual}",
                         path=path, fix=fix)
