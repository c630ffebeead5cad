"""The exercises of chapters 2–5: each expected answer passes its own check, a typical wrong one fails."""
from __future__ import annotations

import importlib

import pytest

MODULES = ["ch02_handcrafted_to_learned_features", "ch03_learning", "ch04_parameters_and_hyperparameters",
           "ch05_data_and_ground_truth"]


def _sets():
    for name in MODULES:
        try:
            module = importlib.import_module(f"radlab.course.{name}")
        except ModuleNotFoundError:
            continue
        yield name, module.exercises()


@pytest.mark.parametrize("name,ex", list(_sets()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_exercise_accepts_its_answer_and_rejects_its_mistakes(name, ex):
    assert len(ex) >= 3, f"{name}: at least three exercises"
    for q in ex:
        assert len(q.hints) >= 2 and q.solution_text, f"{q.key}: needs two hints and a solution"
        assert q.check(q.expected(), record=False).correct, q.key
        for mistake in q.mistakes:
            if not callable(mistake.answer):
                assert not q.check(mistake.answer, record=False).correct, (q.key, mistake.answer)
        assert not q.check(None, record=False).answered


@pytest.mark.parametrize("name,ex", list(_sets()), ids=lambda v: v if isinstance(v, str) else "")
def test_exercise_set_is_named_after_its_notebook(name, ex, project_root):
    number, stem = name[2:4], name[5:]
    assert ex.notebook == f"course/{number}_{stem}"
    assert (project_root / f"{ex.notebook}.ipynb").is_file()
