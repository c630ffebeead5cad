"""Run folders and checkpoints: where a training run's files go, written so that nothing is lost.

- every run gets a new folder (``<runs_dir>/<timestamp>-<name>``, suffixed ``-2``, ``-3``... when
  taken); the folder is claimed with one atomic ``mkdir``, so two kernels starting a run at
  the same moment never share one;
- every file is written to a temporary file in the same folder, flushed to disk, then renamed
  over the old one (``os.replace``): a crash (``kill -9``, a full disk, a power cut after the
  flush) leaves the previous complete file, never half a file;
- a disk that is full or read-only raises :class:`RunFolderError` (a ``DataError``) naming
  the file, instead of an ``OSError`` from deep inside torch;
- a damaged checkpoint is reported as such, naming the file, distinct from weights that do
  not fit the architecture.
"""
from __future__ import annotations

import errno
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from radlab.errors import DataError
from radlab.paths import runs_dir


class RunFolderError(DataError):
    """A run folder or one of its files could not be written (disk full, read-only, no permission)."""


def _write_problem(err: OSError) -> str:
    """A short, plain reason for a failed write."""
    reasons = {errno.ENOSPC: "the disk is full", errno.EROFS: "the disk is read-only",
               errno.EACCES: "no permission to write here", errno.EPERM: "no permission to write here",
               errno.EDQUOT: "the disk quota is used up"}
    return reasons.get(err.errno, err.strerror or str(err))


def _run_folder_error(path: Path, err: OSError) -> RunFolderError:
    return RunFolderError(f"could not write {path.name}: {_write_problem(err)}", path=path,
                          fix="free some disk space, or save runs elsewhere: fit(..., run_dir=...) or the "
                              "RADLAB_RUNS environment variable; fit(..., save=False) keeps the run in memory only")


def atomic_write(path: str | Path, write: Callable[[Any], Any]) -> Path:
    """Call ``write(binary_file)`` on a temporary file, flush it to disk, then rename it to ``path``.

    A reader (or a crash) never sees half a file: ``path`` holds the old or the new contents.
    An ``OSError`` (full or read-only disk) becomes a :class:`RunFolderError` naming ``path``;
    the old file, if any, is left as it was.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; runs are meant to be shared
        os.replace(tmp, path)
    except OSError as err:
        raise _run_folder_error(path, err) from err
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return path


def save_checkpoint(path: str | Path, model: nn.Module | dict[str, torch.Tensor], **meta: Any) -> Path:
    """Save a model's weights (+ JSON-able ``meta``) atomically, loadable with ``weights_only=True``."""
    state = model.state_dict() if isinstance(model, nn.Module) else model
    payload = {"model_state": {k: v.detach().cpu() for k, v in state.items()}, "meta": meta}
    return atomic_write(path, lambda f: torch.save(payload, f))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The contents of a checkpoint written by :func:`save_checkpoint`; a clear error naming a bad file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("checkpoint not found", path=path, fix="train first (fit writes best.pt in its run folder)")
    damaged = ("delete it and train again, or load another run's best.pt (every run folder under "
               "radlab.paths.runs_dir() has one)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, TypeError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise DataError(f"the checkpoint file is damaged or not a checkpoint "
                        f"({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})",
                        path=path, fix=damaged) from None
    if not (isinstance(payload, dict) and isinstance(payload.get("model_state"), dict)):
        raise DataError("not a RadLab checkpoint (no model_state inside)", path=path,
                        fix="load a best.pt written by fit() / save_checkpoint()")
    return payload


def load_checkpoint(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load weights saved by :func:`save_checkpoint` into ``model``; returns the checkpoint's meta."""
    payload = read_checkpoint(path)
    try:
        model.load_state_dict(payload["model_state"])
    except (RuntimeError, KeyError, TypeError) as err:
        raise DataError(f"cannot load these weights into {type(model).__name__}: {err}", path=path,
                        fix="build the same architecture (same widths/blocks) that was trained, "
                            "or delete the file to train again") from None
    return dict(payload.get("meta", {}))


def new_run_dir(name: str = "run", *, parent: str | Path | None = None) -> Path:
    """Create and return a new, empty run folder ``<runs_dir>/<timestamp>-<name>``; never reuses one."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "run"
    base = Path(parent) if parent is not None else runs_dir()
    return fresh_dir(base / f"{datetime.now():%Y%m%d-%H%M%S}-{safe}")


def fresh_dir(path: str | Path) -> Path:
    """Create ``path``, or ``path-2``, ``path-3``... if it exists: a student's run is never overwritten.

    ``mkdir`` either creates the folder or fails because it exists, in one step of the file
    system, so of two processes asking for the same name at the same moment exactly one gets it.
    """
    path = Path(path)
    candidate, n = path, 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                n += 1
                candidate = path.with_name(f"{path.name}-{n}")
    except OSError as err:
        raise _run_folder_error(candidate, err) from err


__all__ = ["RunFolderError", "atomic_write", "fresh_dir", "load_checkpoint", "new_run_dir", "read_checkpoint",
           "save_checkpoint"]
