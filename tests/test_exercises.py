"""The exercise API: every chapter and lab exercise teaches (hints, solution, mistakes) and grades safely."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from radlab import progress
from radlab.course import catalog, exercises_for, module_names, notebook_of, totals
from radlab.exercises import Exercise, ExerciseSet, Mistake, NotReady, choice, number, text
from radlab.paths import PROJECT_ROOT

CATALOG = catalog()
ALL = [pytest.param(e, id=e.key) for ex in CATALOG.values() for e in ex]
FIXED = [pytest.param(e, id=e.key) for ex in CATALOG.values() for e in ex if not e.depends_on_run]
FROM_A_RUN = [pytest.param(e, id=e.key) for ex in CATALOG.values() for e in ex if e.depends_on_run]


def a_wrong_answer(exercise: Exercise):
    """A typical wrong answer: the first listed mistake, else another option, else a far-off number."""
    for mistake in exercise.mistakes:
        if not callable(mistake.answer):
            return mistake.answer
    if exercise.choices:
        right = str(exercise.expected()).lower()
        return next(c for c in exercise.choices if c.lower() != right)
    if exercise.kind == "number":
        return float(exercise.expected()) * 3 + 1000
    return "something else entirely"


# ------------------------------------------------------------------ every exercise in the course
def test_the_catalog_holds_chapter_1_and_the_first_eight_labs():
    assert "course/01_how_a_cnn_reads_an_image" in CATALOG
    first_wave = {f"labs/{p.stem}" for p in (PROJECT_ROOT / "labs").glob("0[1-8]_*.ipynb")}
    assert len(first_wave) == 8 and first_wave <= set(CATALOG)
    assert all((PROJECT_ROOT / f"{nb}.ipynb").is_file() for nb in CATALOG)
    assert totals()["labs/04_testing"] == len(exercises_for("labs/04_testing"))


@pytest.mark.parametrize("exercise", ALL)
def test_every_exercise_has_two_graded_hints_and_a_solution(exercise: Exercise):
    assert len(exercise.hints) >= 2 and len(set(exercise.hints)) == len(exercise.hints)
    assert len(exercise.solution_text) > 20 and exercise.question.strip()
    assert exercise.points >= 1 and exercise.name.isidentifier()


@pytest.mark.parametrize("exercise", FIXED)
def test_each_expected_answer_passes_and_a_typical_wrong_one_fails(exercise: Exercise):
    assert exercise.check(exercise.expected(), record=False).correct
    wrong = exercise.check(a_wrong_answer(exercise), record=False)
    assert wrong.answered and not wrong.correct


@pytest.mark.parametrize("exercise", FIXED)
def test_every_listed_mistake_is_wrong_and_gets_its_own_message(exercise: Exercise):
    for mistake in exercise.mistakes:
        if callable(mistake.answer):
            continue
        feedback = exercise.check(mistake.answer, record=False)
        assert not feedback.correct, f"{exercise.key}: the mistake {mistake.answer!r} is the right answer"
        assert mistake.message in feedback.message


@pytest.mark.parametrize("exercise", FROM_A_RUN)
def test_exercises_about_your_own_run_say_what_to_do_first(exercise: Exercise):
    feedback = exercise.check(exercise.choices[0] if exercise.choices else "1", record=False)
    assert not feedback.answered and not feedback.correct and len(feedback.message) > 10
    with pytest.raises(NotReady):
        exercise.expected()
    assert str(exercise.solution()).startswith("Solution:")        # the reason, not a traceback


def test_exercise_modules_are_named_after_their_notebooks():
    for name in module_names():
        assert (PROJECT_ROOT / f"{notebook_of(name)}.ipynb").is_file(), name


def test_the_catalog_imports_no_torch_and_no_widgets():
    code = ("import sys; from radlab.course import totals; t = totals(); "
            "assert sum(t.values()) > 40, t; "
            "heavy = [m for m in ('torch', 'ipywidgets', 'plotly') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------ no answers in plain sight
def _code_cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [("".join(c["source"]), c["metadata"].get("tags", [])) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("notebook", [nb for nb in CATALOG if nb.startswith("course/")])
def test_chapter_check_cells_hold_no_expected_value(notebook: str):
    cells = _code_cells(PROJECT_ROOT / f"{notebook}.ipynb")
    params = next(src for src, tags in cells if "parameters" in tags)
    answers = dict(re.findall(r"^(ANSWER_\w+)\s*=\s*(.+?)\s*(?:#.*)?$", params, flags=re.M))
    ex = CATALOG[notebook]
    assert set(answers) == {e.variable for e in ex}, "one ANSWER_ line per exercise in the parameters cell"
    assert set(answers.values()) == {"None"}, "answers start as None"
    checks = [src.strip() for src, _ in cells if re.search(r"^ex\.\w+\.check\(", src, flags=re.M)]
    assert sorted(checks) == sorted(f"ex.{e.name}.check({e.variable})" for e in ex)
    assert not any("Exercise(" in src for src, _ in cells)


@pytest.mark.parametrize("lab", sorted(p.name for p in (PROJECT_ROOT / "labs").glob("*.ipynb")))
def test_lab_notebooks_define_no_exercise_of_their_own(lab: str):
    cells = _code_cells(PROJECT_ROOT / "labs" / lab)
    assert not any("Exercise(" in src or "EXERCISES" in src for src, _ in cells)


# ------------------------------------------------------------------ bad answers: friendly, never a traceback
BAD = {
    "a list": [14, 15],
    "a dict": {"answer": 14},
    "NaN": float("nan"),
    "infinity": float("inf"),
    "a huge string": "8" * 100_000,
    "a yes/no value": True,
    "an array": np.arange(6).reshape(2, 3),
    "an object": object(),
    "a huge int": 10 ** 400,
    "bytes": b"\xff\xfe",
}
KINDS = {
    "number": Exercise("n", "How many?", number(14), hints=["a", "b"], solution="because"),
    "choice": Exercise("c", "Which?", choice("sigmoid"), choices=("sigmoid", "softmax"), hints=["a", "b"],
                       solution="because"),
    "text": Exercise("t", "Which word?", text("lung"), hints=["a", "b"], solution="because"),
    "from a run": Exercise("r", "Your epoch?", number(lambda: 7), hints=["a", "b"], solution="because"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", BAD)
def test_bad_answers_get_a_friendly_message(kind: str, bad: str):
    exercise = KINDS[kind]
    feedback = exercise.check(BAD[bad])
    assert not feedback.correct and feedback.answered
    assert 10 < len(feedback.message) < 300, feedback.message
    assert "Traceback" not in feedback.message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_answers_are_not_answered_yet(kind: str, empty):
    feedback = KINDS[kind].check(empty)
    assert not feedback.answered and "Not answered yet" in feedback.message


@pytest.mark.parametrize("bad, words", [([14, 15], "list"), (float("nan"), "finite"), ("8" * 100_000, "long"),
                                        ("fourteen", "text"), (True, "yes/no")])
def test_bad_numbers_are_explained(bad, words):
    assert words in KINDS["number"].check(bad, record=False).message


def test_choice_answers_outside_the_options_list_the_options():
    message = KINDS["choice"].check("relu", record=False).message
    assert "not one of the options" in message and "'sigmoid'" in message


@pytest.mark.parametrize("typed, value", [("14", 14), (" 14 ", 14), ("14.0", 14), ("0,5", 0.5), ("1,000", 1000),
                                          ("1/3", 1 / 3), ("−3", -3), ("62.5%", 62.5)])
def test_numbers_typed_as_text_are_read_as_students_write_them(typed, value):
    ex = Exercise("x", "?", number(value, abs_tol=1e-6), hints=["a", "b"], solution="s")
    assert ex.check(typed, record=False).correct


def test_numpy_and_torch_scalars_are_numbers():
    import torch

    ex = KINDS["number"]
    assert ex.check(np.int64(14), record=False).correct and ex.check(torch.tensor(14.0), record=False).correct
    assert ex.check(np.array([14]), record=False).correct
    assert "shape (2,)" in ex.check(torch.tensor([14.0, 1.0]), record=False).message


def test_a_mistake_predicate_that_fails_is_ignored():
    def broken(_value):
        raise NotReady("no run")

    ex = Exercise("x", "?", 3, hints=["a", "b"], solution="s", mistakes=[Mistake(broken, "never shown")])
    assert ex.check(4, record=False).message.startswith("Not quite.")


# ------------------------------------------------------------------ hints, solutions, recording
def test_hints_are_graded_and_the_solution_explains():
    ex = exercises_for("course/01_how_a_cnn_reads_an_image").output_size
    first, second, past = ex.hint(), ex.hint(2), ex.hint(99)
    assert "Hint 1 of 2" in str(first) and "(more: .hint(2))" in str(first)
    assert ex.hints[1] in str(second) and str(past) == str(second)
    assert str(ex.hint("two")) == str(first)                       # a bad n is read as 1, not a traceback
    assert "14" in str(ex.solution()) and "rounded down" in str(ex.solution())
    assert "**Hint 1 of 2.**" in first._repr_markdown_()


def test_checks_hints_and_solutions_are_recorded(progress_file):
    ex = exercises_for("course/01_how_a_cnn_reads_an_image")
    ex.conv_params.check(144)
    ex.conv_params.hint(2)
    ex.conv_params.solution()
    ex.conv_params.check("160")
    ex.conv_params.check([1, 2])
    ex.conv_params.check(99, record=False)
    events = progress.load(progress_file)
    assert [e["event"] for e in events] == ["check", "hint", "solution", "check", "check"]
    assert [e["correct"] for e in events if e["event"] == "check"] == [False, True, False]
    assert events[-1]["valid"] is False and events[0]["notebook"] == "course/01_how_a_cnn_reads_an_image"
    assert progress.summary(events)["course/01_how_a_cnn_reads_an_image"].solved == {"conv_params"}


def test_a_correct_answer_teaches_why():
    feedback = exercises_for("labs/04_testing").bayes.check("0.333", record=False)
    assert feedback.correct and "false alarms" in feedback.message and str(feedback).startswith("✅")
    assert bool(feedback) is True


def test_exercise_sets_refuse_duplicates_and_name_their_exercises():
    a = Exercise("a", "?", 1, hints=["x", "y"], solution="s")
    with pytest.raises(ValueError, match="two exercises"):
        ExerciseSet("course/x", [a, Exercise("a", "?", 2, hints=["x", "y"], solution="s")])
    ex = ExerciseSet("course/x", [a])
    assert a.key == "course/x:a" and ex["a"] is a and "a" in ex and len(ex) == 1
    with pytest.raises(AttributeError, match="its exercises: a"):
        ex.b
    with pytest.raises(ValueError, match="identifier"):
        Exercise("output-size", "?", 1)
    with pytest.raises(TypeError, match="expected answer"):
        Exercise("x", "?")


def test_solution_source_is_the_expected_value_unless_given():
    ex = exercises_for("course/01_how_a_cnn_reads_an_image")
    assert ex.last_layer.solution_source() == "'sigmoid'" and ex.last_layer.variable == "ANSWER_LAST_LAYER"
    assert math.isclose(eval(ex.output_size.solution_source()), 14)


# ------------------------------------------------------------------ the widget
def test_the_widget_reads_text_answers_and_explains_bad_ones():
    from radlab.widgets.exercise import ExerciseWidget

    w = ExerciseWidget(exercises_for("course/01_how_a_cnn_reads_an_image").pooled_size)
    w.answer.value = "[8]"
    assert not w.check().correct and "Expected a number" in w.feedback.value
    w.answer.value = "16"
    assert "two blocks" in w.check().message
    assert w.hint_html.value == ""                                 # nothing shown unasked
    w.hint_button.click()
    w.hint_button.click()
    assert w.hint_html.value.count("💡") == 2
    w.solution_button.click()
    assert "64 → 32 → 16 → 8" in w.hint_html.value
    w.answer.value = "8"
    w.button.click()
    assert w.last.correct and "✅" in w.feedback.value


def test_the_panel_remembers_what_was_solved_before_a_restart():
    from radlab.widgets.exercise import exercise_panel

    ex = exercises_for("labs/05_convolution_playground")
    panel = exercise_panel(ex)
    assert "Solved 0 of 5" in panel.status.value
    first = panel.items[0]
    first.answer.value = str(ex.output_size.expected())
    first.check()
    assert "Solved 1 of 5" in panel.status.value
    again = exercise_panel(exercises_for("labs/05_convolution_playground"))   # a new kernel, the same file
    assert again.items[0].solved_before and "solved this one before" in again.items[0].feedback.value
    assert "Solved 1 of 5" in again.status.value and not again.items[1].solved_before


def test_a_broken_answer_function_gives_a_message_not_a_traceback():
    def broken():
        raise AttributeError("'NoneType' object has no attribute 'best_epoch'")

    ex = Exercise("x", "?", number(broken), hints=["a", "b"], solution="the reason")
    feedback = ex.check(3, record=False)
    assert not feedback.answered and "bug in RadLab" in feedback.message and "AttributeError" in feedback.message
    assert "the reason" in str(ex.solution())
