"""The exercises of every chapter and lab, one light module per notebook.

- ``chNN_<stem>.py`` holds chapter ``course/NN_<stem>.ipynb``'s exercises as ``exercises() -> ExerciseSet``.
- ``labNN_<stem>.py`` holds lab ``labs/NN_<stem>.ipynb``'s exercises as ``exercises(lab=None) -> ExerciseSet``:
  the lab widget passes itself so that questions about the student's own run can read it; without a
  lab those questions answer :class:`radlab.exercises.NotReady`.

These modules import nothing heavy (no torch, no widgets), so :func:`catalog` can count every
notebook's exercises for the progress view in ``index.ipynb`` in a fraction of a second, and
``radlab assignments build`` can turn them into nbgrader cells.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
import warnings

from typing import Any

from radlab.exercises import ExerciseSet, NotReady

_MODULE = re.compile(r"^(ch|lab)(\d\d)_(\w+)$")


def need(value: Any, message: str) -> Any:
    """``value``, or :class:`NotReady` with ``message`` when it is missing (``None``): for answer callables."""
    if value is None:
        raise NotReady(message)
    return value


def notebook_of(module_name: str) -> str:
    """``"ch01_how_a_cnn_reads_an_image"`` -> ``"course/01_how_a_cnn_reads_an_image"`` (labs: ``labs/…``)."""
    found = _MODULE.match(module_name.rsplit(".", 1)[-1])
    if not found:
        raise ValueError(f"{module_name!r} is not named chNN_<stem> or labNN_<stem>")
    kind, number, stem = found.groups()
    return f"{'course' if kind == 'ch' else 'labs'}/{number}_{stem}"


def module_names() -> list[str]:
    """The exercise modules in this package, chapters first, each in notebook order."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if _MODULE.match(m.name)]
    return sorted(names, key=lambda n: (not n.startswith("ch"), n))


def exercises_for(notebook: str) -> ExerciseSet:
    """The ExerciseSet of ``notebook`` (``"course/01_…"`` or ``"labs/03_training"``), built without a lab."""
    for name in module_names():
        if notebook_of(name) == notebook:
            return importlib.import_module(f"{__name__}.{name}").exercises()
    raise KeyError(f"no exercise module for {notebook!r}; known: {', '.join(map(notebook_of, module_names()))}")


def catalog(*, strict: bool = True) -> dict[str, ExerciseSet]:
    """Every notebook's exercises by notebook id, built without widgets, models or training.

    ``strict=False`` skips (with a warning) a module that fails to build, so one broken chapter
    does not hide the student's progress in all the others.
    """
    found = {}
    for name in module_names():
        try:
            ex = importlib.import_module(f"{__name__}.{name}").exercises()
            if ex.notebook != notebook_of(name):
                raise ValueError(f"radlab.course.{name} builds {ex.notebook!r}, expected {notebook_of(name)!r}")
        except Exception as error:
            if strict:
                raise
            warnings.warn(f"radlab.course.{name}: {error}", stacklevel=2)
            continue
        found[ex.notebook] = ex
    return found


def totals(*, strict: bool = True) -> dict[str, int]:
    """How many exercises each notebook has (what the progress view divides by)."""
    return {notebook: len(ex) for notebook, ex in catalog(strict=strict).items()}


__all__ = ["catalog", "need", "exercises_for", "module_names", "notebook_of", "totals"]
