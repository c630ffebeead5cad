"""Chapters and labs as an nbgrader course folder: ``radlab assignments build [--out DIR]``.

nbgrader (the grading system of JupyterHub courses) wants ``source/<assignment>/<notebook>.ipynb``
with cell metadata saying which cells hold solutions, which are autograded tests (with points
and a ``grade_id``) and which are read-only. This module writes that folder from RadLab's own
notebooks and :mod:`radlab.course` exercise modules, so the answers never sit in a notebook
students get: ``nbgrader generate_assignment`` strips them.

- **Chapter** ``course/NN_x.ipynb`` -> assignment ``chNN_x``, the chapter notebook itself: each
  ``ANSWER_X`` moves from the parameters cell into its own *solution cell*
  (``ANSWER_X = None`` then ``### BEGIN SOLUTION`` / the answer / ``### END SOLUTION``) just
  before the chapter's check cell; after it comes an autograded *test cell*
  ``assert ex.x.check(ANSWER_X, record=False)`` worth the exercise's points. Every other cell is
  locked (read-only).
- **Lab** ``labs/NN_x.ipynb`` -> assignment ``labNN_x`` with one generated notebook
  ``NN_x_questions.ipynb``: the lab's exercises whose answer does not depend on the student's own
  run, as question / answer / check / test cells. The lab notebook itself is not part of the
  assignment: it trains models and opens widgets, which autograding would rerun for every
  student; questions about the student's own run (their best epoch, their AUC) stay in the lab,
  checked there and saved in the progress file, and the questions notebook lists them.

The build writes a new folder and never touches ``course/`` or ``labs/``; it refuses to replace
an assignment that exists unless ``force=True``, and leaves an instructor's ``nbgrader_config.py``
alone.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from radlab.course import catalog
from radlab.errors import DataError
from radlab.exercises import Exercise, ExerciseSet
from radlab.paths import PROJECT_ROOT

SCHEMA_VERSION = 3
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
#: What nbgrader puts where a solution was (set in the course's nbgrader_config.py): the student
#: replaces ``None`` on the line above, and a notebook run before that still runs to the end.
CODE_STUB = "# YOUR ANSWER: replace None above with it"
CONFIG = f'''# nbgrader configuration written by `radlab assignments build` (edit freely; it is not rewritten).
c = get_config()  # noqa: F821
# Where a solution was, students see this comment (the ANSWER_ line above it stays, set to None),
# so a notebook run before every answer is filled in still runs to the end.
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
'''
_ANSWER_LINE = re.compile(r"^(ANSWER_\w+)\s*=.*$")
_CHECK_CELL = re.compile(r"^\s*ex\.(\w+)\.check\((ANSWER_\w+)\)\s*$")


@dataclass
class BuiltAssignment:
    """One assignment of the course folder: its name, notebook and graded exercises."""

    name: str
    notebook: Path
    graded: list[str]
    points: int
    ungraded: list[str] = field(default_factory=list)   # questions about the student's own run

    def __str__(self) -> str:
        more = f"; in the lab only (about the student's own run): {', '.join(self.ungraded)}" if self.ungraded else ""
        return f"{self.name}: {self.notebook.name}, {len(self.graded)} graded exercise(s), {self.points} point(s){more}"


def assignment_name(notebook: str) -> str:
    """``"course/01_how_a_cnn…"`` -> ``"ch01_how_a_cnn…"``; ``"labs/03_training"`` -> ``"lab03_training"``."""
    folder, stem = notebook.split("/", 1)
    return ("ch" if folder == "course" else "lab") + stem


# ------------------------------------------------------------------ nbgrader cell metadata
def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
                            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _cell(kind: str, source: str, nbgrader: dict[str, Any], cell_id: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "id": cell_id, "metadata": {"nbgrader": nbgrader},
                            "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def answer_cell(exercise: Exercise) -> dict[str, Any]:
    """The student's answer cell: ``ANSWER_X = None``, then the instructor's solution between the markers."""
    source = (f"{exercise.variable} = None   # your answer\n{BEGIN}\n"
              f"{exercise.variable} = {exercise.solution_source()}\n{END}")
    return _cell("code", source, _meta(f"answer_{exercise.name}", solution=True), f"answer-{exercise.name}")


def test_cell(exercise: Exercise) -> dict[str, Any]:
    """The autograded cell: full points when the exercise accepts the answer, none otherwise."""
    source = (f"# autograded ({exercise.points} point{'s' if exercise.points != 1 else ''}): "
              "the check cell above tells you what is wrong\n"
              f"assert ex.{exercise.name}.check({exercise.variable}, record=False)")
    return _cell("code", source, _meta(f"test_{exercise.name}", grade=True, locked=True, points=exercise.points),
                 f"test-{exercise.name}")


def _lock(cell: dict[str, Any], index: int) -> dict[str, Any]:
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    cell.setdefault("metadata", {})["nbgrader"] = _meta(f"locked_{index:03d}_{cell.get('id', index)}", locked=True)
    return cell


def _notebook(cells: list[dict[str, Any]], kernel: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"cells": cells,
            "metadata": {"kernelspec": kernel or {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


# ------------------------------------------------------------------ chapters and labs
def chapter_notebook(notebook: str, exercises: ExerciseSet, root: Path = PROJECT_ROOT) -> tuple[dict, list[str]]:
    """The chapter as an nbgrader source notebook (see the module docstring); returns it and the graded names."""
    nb = json.loads((root / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    cells, graded = [], []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell.get("source", []))
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            kept = [line for line in source.splitlines()
                    if not _ANSWER_LINE.match(line) and not line.lstrip().startswith("# Your answers")]
            cell = dict(cell, source="\n".join(kept).rstrip().splitlines(keepends=True))
        found = _CHECK_CELL.match(source) if cell["cell_type"] == "code" else None
        if found and found.group(1) in exercises:
            exercise = exercises[found.group(1)]
            if exercise.variable != found.group(2):
                raise DataError(f"{notebook}: the check of {exercise.name!r} reads {found.group(2)}",
                                fix=f"write ex.{exercise.name}.check({exercise.variable})")
            cells += [answer_cell(exercise), _lock(cell, i), test_cell(exercise)]
            graded.append(exercise.name)
            continue
        cells.append(_lock(cell, i))
    missing = [e.name for e in exercises if e.name not in graded and not e.depends_on_run]
    if missing:
        raise DataError(f"{notebook}: no check cell for {', '.join(missing)}",
                        fix="add a cell `ex.NAME.check(ANSWER_NAME)` for each exercise of the chapter")
    intro = _cell("markdown", "**Assignment.** Write each answer into its answer cell (replace `None`), run the "
                              "check cell under it for feedback (`ex.NAME.hint()` and `ex.NAME.solution()` work "
                              "too), and submit. The cells marked *autograded* give the points.",
                  _meta("assignment_intro", locked=True), "assignment-intro")
    return _notebook(cells[:1] + [intro] + cells[1:], nb.get("metadata", {}).get("kernelspec")), graded


def _title(notebook: str, root: Path) -> str:
    path = root / f"{notebook}.ipynb"
    if path.is_file():
        first = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
        line = "".join(first["source"]).splitlines()[0]
        if line.startswith("# "):
            return line[2:].strip()
    return notebook


def lab_questions_notebook(notebook: str, exercises: ExerciseSet, root: Path = PROJECT_ROOT) -> tuple[dict, list[str]]:
    """The lab's run-independent exercises as an nbgrader source notebook; returns it and the graded names."""
    module = f"radlab.course.lab{notebook.split('/', 1)[1]}"
    fixed = [e for e in exercises if not e.depends_on_run]
    in_lab = [e for e in exercises if e.depends_on_run]
    intro = (f"# {_title(notebook, root)} — questions\n"
             f"Explore the lab first (`{notebook}.ipynb` in RadLab), then answer here: write each answer into its "
             "answer cell (replace `None`) and run the check cell under it. `ex.NAME.hint()` gives a hint, "
             "`ex.NAME.hint(2)` a more specific one, `ex.NAME.solution()` the answer and why. The cells marked "
             "*autograded* give the points.")
    if in_lab:
        intro += ("\n\nAnswered in the lab itself, about your own run (checked there and saved in your progress "
                  "file, not graded here): " + "; ".join(e.question for e in in_lab))
    cells = [_cell("markdown", intro, _meta("title", locked=True), "title"),
             _cell("code", f"from {module} import exercises\n\nex = exercises()", _meta("setup", locked=True),
                   "setup")]
    for n, exercise in enumerate(fixed, 1):
        options = ("\n\nOptions: " + ", ".join(f"`{c!r}`" for c in exercise.choices)) if exercise.choices else ""
        kind = "a number" if exercise.kind == "number" else ("one of the options, in quotes" if exercise.choices
                                                            else "a short text, in quotes")
        cells += [_cell("markdown", f"**Question {n}.** {exercise.question}{options}\n\n*Answer:* {kind}.",
                        _meta(f"question_{exercise.name}", locked=True), f"question-{exercise.name}"),
                  answer_cell(exercise),
                  _cell("code", f"ex.{exercise.name}.check({exercise.variable})",
                        _meta(f"check_{exercise.name}", locked=True), f"check-{exercise.name}"),
                  test_cell(exercise)]
    return _notebook(cells), [e.name for e in fixed]


# ------------------------------------------------------------------ the course folder
def _refuse_inside_the_project(out: Path) -> None:
    out = out.resolve()
    for protected in (PROJECT_ROOT / "course", PROJECT_ROOT / "labs", PROJECT_ROOT):
        if out == protected.resolve() or (protected != PROJECT_ROOT and protected.resolve() in out.parents):
            raise DataError("refusing to build the nbgrader course inside RadLab's own notebooks", path=out,
                            fix="choose a new folder, e.g. --out ~/radlab-nbgrader")


def build(out: Path | str, notebooks: Iterable[str] | None = None, *, force: bool = False,
          root: Path = PROJECT_ROOT) -> list[BuiltAssignment]:
    """Write ``out/source/<assignment>/<notebook>.ipynb`` for ``notebooks`` (default: every chapter and lab).

    An assignment folder that exists is only replaced with ``force=True`` (nothing else in ``out`` —
    gradebook, release, submissions, the instructor's config — is touched).
    """
    out = Path(out).expanduser()
    _refuse_inside_the_project(out)
    sets = catalog()
    chosen = list(sets) if notebooks is None else [_resolve(n, sets) for n in notebooks]
    plans = []
    for notebook in chosen:
        ex = sets[notebook]
        if notebook.startswith("course/"):
            nb, graded = chapter_notebook(notebook, ex, root)
            filename = f"{notebook.split('/', 1)[1]}.ipynb"
        else:
            nb, graded = lab_questions_notebook(notebook, ex, root)
            filename = f"{notebook.split('/', 1)[1]}_questions.ipynb"
        if not graded:
            continue
        points = sum(ex[name].points for name in graded)
        ungraded = [e.name for e in ex if e.name not in graded]
        plans.append((BuiltAssignment(assignment_name(notebook), out / "source" / assignment_name(notebook) / filename,
                                      graded, points, ungraded), nb))
    existing = [p.notebook.parent for p, _ in plans if p.notebook.parent.exists()]
    if existing and not force:
        raise DataError(f"{len(existing)} assignment folder(s) exist already: "
                        f"{', '.join(p.name for p in existing)}", path=out / "source",
                        fix="choose another --out, or pass --force to replace these source folders "
                            "(the gradebook, release and submissions are never touched)")
    (out / "source").mkdir(parents=True, exist_ok=True)
    config = out / "nbgrader_config.py"
    if not config.exists():
        _write_atomic(config, CONFIG)
    for plan, nb in plans:
        _replace_folder(plan.notebook.parent, {plan.notebook.name: json.dumps(nb, indent=1, ensure_ascii=False) + "\n"})
    return [plan for plan, _ in plans]


def _resolve(name: str, sets: dict[str, ExerciseSet]) -> str:
    """A notebook id, an assignment name (``ch01_…``/``lab03_…``) or a notebook path -> the notebook id."""
    cleaned = name.strip().removesuffix(".ipynb").strip("/")
    for notebook in sets:
        if cleaned in (notebook, assignment_name(notebook), notebook.split("/", 1)[1]) or cleaned.endswith(notebook):
            return notebook
    raise DataError(f"no chapter or lab called {name!r}",
                    fix=f"choose from: {', '.join(assignment_name(n) for n in sets)}")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _replace_folder(folder: Path, files: dict[str, str]) -> None:
    """Write ``files`` into a fresh sibling folder, then swap it in (an old one is removed only afterwards)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8")
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(folder, old)
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old)


__all__ = ["BuiltAssignment", "assignment_name", "build", "chapter_notebook", "lab_questions_notebook"]
