"""The progress file: per student, append-only, survives restarts, and concurrent kernels lose nothing."""
from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from radlab import progress

N_PROCESSES, N_RECORDS = 4, 150


def _write_many(path: str, worker: int, n: int) -> None:
    """One 'kernel': n checks in a row (runs in its own process)."""
    for i in range(n):
        progress.record(notebook=f"labs/0{worker}_w", exercise=f"q{i}", event="check", answer=f"{worker}-{i}",
                        correct=i % 2 == 0, path=Path(path))


def test_the_default_file_is_per_student_and_the_environment_can_move_it(monkeypatch, tmp_path):
    monkeypatch.delenv("RADLAB_PROGRESS")
    assert progress.progress_file() == Path.home() / ".radlab" / "progress.jsonl"
    monkeypatch.setenv("RADLAB_PROGRESS", str(tmp_path / "me.jsonl"))
    assert progress.progress_file() == tmp_path / "me.jsonl"


def test_tests_never_write_into_the_real_home_file(progress_file):
    assert progress.progress_file() == progress_file and str(Path.home()) not in str(progress_file)


def test_a_record_round_trips_with_time_user_and_outcome(progress_file):
    entry = progress.record(notebook="course/01_x", exercise="output_size", event="check", answer=15, correct=False)
    assert entry is not None
    (back,) = progress.load()
    assert back == entry and back["answer"] == 15 and back["correct"] is False and back["valid"] is True
    assert back["time"].endswith("Z") and back["user"]


def test_attempts_survive_a_kernel_restart(progress_file):
    """A new Python process (a restarted kernel) sees what the old one wrote, and adds to it."""
    progress.record(notebook="course/01_x", exercise="a", event="check", answer=1, correct=True)
    code = ("from radlab import progress; "
            "assert [e['exercise'] for e in progress.load()] == ['a']; "
            "progress.record(notebook='course/01_x', exercise='b', event='check', answer=2, correct=False)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env={**os.environ})
    summary = progress.summary()["course/01_x"]
    assert summary.tried == {"a", "b"} and summary.solved == {"a"}


def test_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "shared.jsonl"
    ctx = multiprocessing.get_context("spawn")       # fresh interpreters, like separate kernels
    workers = [ctx.Process(target=_write_many, args=(str(path), w, N_RECORDS)) for w in range(N_PROCESSES)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
        assert w.exitcode == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == N_PROCESSES * N_RECORDS
    answers = [json.loads(line)["answer"] for line in lines]         # every line parses
    assert sorted(answers) == sorted(f"{w}-{i}" for w in range(N_PROCESSES) for i in range(N_RECORDS))


def test_a_line_torn_by_a_crash_is_skipped_not_fatal(progress_file):
    progress.record(notebook="n", exercise="a", event="check", answer=1, correct=True)
    with open(progress_file, "a", encoding="utf-8") as f:
        f.write('{"time": "2026-01-01T00:00:00Z", "exerc')            # killed mid-write
    progress.record(notebook="n", exercise="b", event="check", answer=2, correct=True)
    assert [e["exercise"] for e in progress.load()] == ["a", "b"]      # only the torn line is lost
    assert len(progress_file.read_text().splitlines()) == 3


def test_records_always_start_on_a_new_line_after_a_torn_one(progress_file):
    with open(progress_file, "w", encoding="utf-8") as f:
        f.write('{"broken": ')
    progress.record(notebook="n", exercise="b", event="check", answer=2, correct=True)
    assert [e["exercise"] for e in progress.load()] == ["b"]


def test_answers_are_stored_short_and_as_valid_json(progress_file):
    progress.record(notebook="n", exercise="a", event="check", answer="x" * 10_000, correct=False, valid=False)
    progress.record(notebook="n", exercise="a", event="check", answer=float("nan"), correct=False, valid=False)
    progress.record(notebook="n", exercise="a", event="check", answer=[1, 2, 3], correct=False, valid=False)
    for line in progress_file.read_text(encoding="utf-8").splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    long, nan, listed = (e["answer"] for e in progress.load())
    assert len(long) <= progress.MAX_STORED_ANSWER and nan == "nan" and listed == "[1, 2, 3]"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_an_unwritable_home_warns_once_and_the_lesson_goes_on(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv("RADLAB_PROGRESS", str(folder / "sub" / "p.jsonl"))
    with pytest.warns(UserWarning, match="RADLAB_PROGRESS"):
        assert progress.record(notebook="n", exercise="a", event="check") is None


def test_an_unwritable_path_returns_none_instead_of_raising(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RADLAB_PROGRESS", str(blocker / "p.jsonl"))    # a file where a folder should be
    with pytest.warns(UserWarning):
        assert progress.record(notebook="n", exercise="a", event="check") is None


def test_summary_counts_tried_solved_hints_and_solutions():
    events = [{"notebook": "labs/01", "exercise": "a", "event": "check", "correct": False, "time": "1"},
              {"notebook": "labs/01", "exercise": "a", "event": "hint", "time": "2"},
              {"notebook": "labs/01", "exercise": "a", "event": "check", "correct": True, "time": "3"},
              {"notebook": "labs/01", "exercise": "b", "event": "check", "correct": False, "valid": False, "time": "4"},
              {"notebook": "labs/01", "exercise": "b", "event": "solution", "time": "5"}]
    s = progress.summary(events, totals={"labs/01": 3, "labs/02": 2})
    assert s["labs/01"].tried == {"a"} and s["labs/01"].solved == {"a"} and s["labs/01"].hints == 1
    assert s["labs/01"].solutions == {"b"} and s["labs/01"].last == "5" and s["labs/02"].total == 2


def test_the_view_lists_every_chapter_and_lab_with_solved_over_total(progress_file):
    from radlab.course import exercises_for, totals

    ex = exercises_for("labs/01_data_collection")
    ex.water_hu.check(0)
    ex.monochrome1.check("bright")
    view = progress.view()
    rows = {r.notebook: r for r in view.rows}
    assert set(totals()) <= set(rows) and view.total == sum(totals().values())
    assert rows["labs/01_data_collection"].solved == {"water_hu"} and view.solved == 1
    assert "labs/01_data_collection" in str(view) and "1/5" in str(view)
    page = view._repr_html_()
    assert 'href="labs/01_data_collection.ipynb"' in page and "Solved 1 of" in page
