"""`radlab assignments build`: chapters and labs as an nbgrader course, checked with the real nbgrader."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from radlab.assignments import BEGIN, END, CODE_STUB, assignment_name, build
from radlab.cli import main
from radlab.course import catalog, exercises_for
from radlab.errors import DataError
from radlab.paths import PROJECT_ROOT

from conftest import IN_CI

CHAPTER = "course/01_how_a_cnn_reads_an_image"
CH01 = assignment_name(CHAPTER)
NOTEBOOK = "01_how_a_cnn_reads_an_image.ipynb"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _meta(cell: dict) -> dict:
    return cell["metadata"].get("nbgrader", {})


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    out = tmp_path / "course"
    build(out, [CHAPTER, "labs/05_convolution_playground", "labs/03_training"])
    return out


# ------------------------------------------------------------------ what the build writes
def test_the_chapter_becomes_solution_test_and_locked_cells(course: Path):
    cells = _cells(course / "source" / CH01 / NOTEBOOK)
    ex = exercises_for(CHAPTER)
    assert all(_meta(c).get("schema_version") == 3 for c in cells), "every cell carries nbgrader metadata"
    ids = [_meta(c)["grade_id"] for c in cells]
    assert len(ids) == len(set(ids))
    solutions = [c for c in cells if _meta(c)["solution"]]
    tests = [c for c in cells if _meta(c)["grade"]]
    assert len(solutions) == len(tests) == len(ex) == 4
    for e in ex:
        answer = next("".join(c["source"]) for c in solutions if _meta(c)["grade_id"] == f"answer_{e.name}")
        assert answer.startswith(f"{e.variable} = None") and f"{BEGIN}\n{e.variable} = " in answer and END in answer
        test = next(c for c in tests if _meta(c)["grade_id"] == f"test_{e.name}")
        assert f"assert ex.{e.name}.check({e.variable}, record=False)" in "".join(test["source"])
        assert _meta(test)["points"] == e.points and _meta(test)["locked"]
    others = [c for c in cells if not _meta(c)["solution"] and not _meta(c)["grade"]]
    assert all(_meta(c)["locked"] for c in others), "every other cell is read-only"
    params = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    assert "ANSWER_" not in "".join(params["source"]) and "FAST = False" in "".join(params["source"])
    assert all(c.get("outputs", []) == [] for c in cells)


def test_nbgrader_accepts_the_metadata(course: Path):
    nbformat = pytest.importorskip("nbformat")
    from nbgrader.nbgraderformat import MetadataValidator

    for path in (course / "source").glob("*/*.ipynb"):
        MetadataValidator().validate_nb(nbformat.read(path, as_version=4))


def test_lab_assignments_grade_only_the_questions_that_do_not_need_a_run(course: Path):
    path = course / "source" / "lab03_training" / "03_training_questions.ipynb"
    cells = _cells(path)
    graded = [_meta(c)["grade_id"] for c in cells if _meta(c)["grade"]]
    assert graded == ["test_gap", "test_mitigation", "test_learning_rate", "test_best_epoch"]
    intro = "".join(cells[0]["source"])
    assert intro.startswith("# Lab 3") and "your latest run" in intro      # listed, answered in the lab


@pytest.mark.parametrize("notebook", [nb for nb in catalog() if nb.startswith("labs/")])
def test_every_lab_assignment_solution_passes_its_own_tests(notebook: str, tmp_path: Path):
    """Run the source version's cells (solutions in place) without nbgrader: every assert holds."""
    built = build(tmp_path / "c", [notebook])
    if not built:
        pytest.skip(f"{notebook} has no question that does not depend on a run")
    namespace: dict = {}
    for cell in _cells(built[0].notebook):
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), namespace)  # our own generated cells
    assert built[0].points == len(built[0].graded) > 0


def test_the_build_never_overwrites_without_force(course: Path):
    (course / "gradebook.db").write_text("the instructor's grades")
    (course / "nbgrader_config.py").write_text("# the instructor's config\n")
    with pytest.raises(DataError, match="exist already"):
        build(course, [CHAPTER])
    notebook = course / "source" / CH01 / NOTEBOOK
    notebook.write_text("{}")
    build(course, [CHAPTER], force=True)
    assert _cells(notebook), "--force rebuilt the assignment"
    assert (course / "gradebook.db").read_text() == "the instructor's grades"
    assert (course / "nbgrader_config.py").read_text() == "# the instructor's config\n"


@pytest.mark.parametrize("inside", ["course", "labs", "labs/new", "."])
def test_the_build_refuses_to_write_into_the_projects_notebooks(inside: str):
    with pytest.raises(DataError, match="inside RadLab"):
        build(PROJECT_ROOT / inside, [CHAPTER])


def test_the_command_line_builds_and_explains_refusals(tmp_path: Path, capsys):
    out = tmp_path / "nb"
    assert main(["assignments", "build", "--out", str(out), "--only", CH01, "labs/05_convolution_playground"]) == 0
    shown = capsys.readouterr().out
    assert f"{CH01}: {NOTEBOOK}, 4 graded exercise(s), 4 point(s)" in shown and "generate_assignment" in shown
    assert (out / "source" / "lab05_convolution_playground" / "05_convolution_playground_questions.ipynb").is_file()
    assert main(["assignments", "build", "--out", str(out), "--only", CH01]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["assignments", "build", "--out", str(tmp_path / "x"), "--only", "ch99_nothing"]) == 1
    assert "choose from" in capsys.readouterr().err


# ------------------------------------------------------------------ the round trip with the real nbgrader
def _nbgrader(course: Path, *args: str) -> str:
    env = {**os.environ, "RADLAB_FAST": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader runs alembic
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _submit(course: Path, student: str, answers: dict[str, str]) -> None:
    """A student's submission: the release version with some answer cells filled in."""
    release = course / "release" / CH01 / NOTEBOOK
    nb = json.loads(release.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = _meta(cell)
        name = meta.get("grade_id", "").removeprefix("answer_")
        if meta.get("solution") and name in answers:
            cell["source"] = [f"ANSWER_{name.upper()} = {answers[name]}\n"]
    folder = course / "submitted" / student / CH01
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(json.dumps(nb), encoding="utf-8")


def _need_nbgrader() -> None:
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("nbgrader is a test extra: pip install -e '.[test]'")
        pytest.skip("nbgrader is not installed (pip install -e '.[test]')")


@pytest.mark.slow
def test_nbgrader_round_trip_generates_validates_and_autogrades(tmp_path: Path):
    _need_nbgrader()
    course = tmp_path / "course"
    build(course, [CHAPTER])
    _nbgrader(course, "generate_assignment", CH01)
    release = course / "release" / CH01 / NOTEBOOK
    text = release.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and CODE_STUB in text
    ex = exercises_for(CHAPTER)
    for e in ex:
        assert f"{e.variable} = {e.solution_source()}" not in text, f"the release shows the answer to {e.name}"
    # the student version: no test passes before anything is answered (nbgrader's check of a release)
    assert "does not pass any tests" in _nbgrader(course, "validate", "--invert", str(release))

    right = {e.name: e.solution_source() for e in ex}
    _submit(course, "full", right)
    _submit(course, "untouched", {})
    _submit(course, "partly", {"output_size": right["output_size"], "last_layer": right["last_layer"],
                               "pooled_size": "16"})               # two right, one wrong, one left empty
    _nbgrader(course, "autograde", CH01, "--create")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: (gb.find_submission(CH01, s).score, gb.find_submission(CH01, s).max_score)
                  for s in ("full", "untouched", "partly")}
    print("nbgrader scores (score, max):", scores)
    assert scores == {"full": (4.0, 4.0), "untouched": (0.0, 4.0), "partly": (2.0, 4.0)}
    graded = (course / "autograded" / "partly" / CH01 / NOTEBOOK).read_text(encoding="utf-8")
    assert "two blocks" in graded, "the student's feedback (the specific mistake) is in the graded notebook"

