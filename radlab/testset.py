"""The test set is looked at once: :class:`TestSetGuard` keeps a log of every look and warns from the second on.

Taught in Lab 4 (testing); :mod:`radlab.metrics` re-exports it.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radlab.errors import DataError


class TestSetWarning(UserWarning):
    """The test set was looked at again: its numbers no longer estimate performance on new patients."""

    __test__ = False          # not a pytest test class, despite the name


class TestSetGuard:
    """Records every look at the test split in a JSON log and warns from the second look on.

    Every decision made after seeing test results (another threshold, another epoch,
    another model) fits the test set a little, and the reported AUC becomes optimistic.
    Use ``look()`` right before computing test metrics; ``final=True`` acknowledges a
    deliberate repeat (e.g. re-running the final report) and is recorded as such.

    ``log`` is a JSON file or a run folder (then ``<folder>/test_set_looks.json``). The log
    is rewritten atomically (temporary file + ``os.replace``), so a crash never corrupts it.
    """

    __test__ = False          # not a pytest test class, despite the name
    LOG_NAME = "test_set_looks.json"

    def __init__(self, log: str | Path, *, dataset: str = "test"):
        path = Path(log).expanduser()
        self.path = path if path.suffix == ".json" else path / self.LOG_NAME
        self.dataset = dataset

    @property
    def looks(self) -> list[dict[str, Any]]:
        """Every recorded look at this guard's dataset, oldest first."""
        return [d for d in self._read_log() if d.get("dataset", "test") == self.dataset]

    def _read_log(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"the test-set log is unreadable ({err})", path=self.path,
                            fix="restore it from a backup, or delete it to start a new count "
                                "(and say so in your report)") from err
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise DataError("the test-set log is not a list of looks", path=self.path,
                            fix="delete or restore the file")
        return data

    def look(self, purpose: str = "", *, final: bool = False) -> int:
        """Record one look at the test set and return its number (1 for the first).

        Warns with :class:`TestSetWarning` when the test set was looked at before, unless
        ``final=True`` acknowledges it; warns anyway after a look already marked final.
        """
        previous = self.looks
        number = len(previous) + 1
        record = {"dataset": self.dataset, "look": number, "final": bool(final), "purpose": str(purpose)[:500],
                  "time": datetime.now(UTC).isoformat(timespec="seconds")}
        self._append(record)
        if any(p.get("final") for p in previous):
            warnings.warn(f"Look #{number} at the '{self.dataset}' set after a look marked final "
                          f"(log: {self.path}). The final result was already reported; anything "
                          "decided from this look makes the test numbers optimistic.", TestSetWarning, stacklevel=2)
        elif previous and not final:
            warnings.warn(f"This is look #{number} at the '{self.dataset}' set (log: {self.path}). "
                          "Every look that changes a decision (threshold, epoch, model) tunes the model to the "
                          "test set and makes its AUC optimistic. Make decisions on the validation set; if this "
                          "repeat is deliberate (the same final evaluation again), pass final=True.",
                          TestSetWarning, stacklevel=2)
        return number

    def _append(self, record: dict[str, Any]) -> None:
        everything = self._read_log() + [record]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".test_looks_", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(everything, fh, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
