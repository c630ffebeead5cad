"""A student's exercise progress: every check, hint and solution request, kept across restarts.

One JSON line per event in a per-student file (``RADLAB_PROGRESS``, default
``~/.radlab/progress.jsonl`` — the home folder is the student's own working area on a hub).
Each line is appended under an exclusive file lock in a single write, so two kernels writing
at once lose nothing; a kernel killed mid-write leaves at most one unreadable line, which
:func:`load` skips and the next record starts after (it never glues onto a torn line). Nothing is ever rewritten: the file only grows.
"""
from __future__ import annotations

import getpass
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

try:  # POSIX; on Windows appends are still single writes, just not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: Longest stored form of an answer (a pasted essay is cut, not stored whole).
MAX_STORED_ANSWER = 200


def progress_file() -> Path:
    """Where this student's progress is kept: ``RADLAB_PROGRESS`` or ``~/.radlab/progress.jsonl``."""
    env = os.environ.get("RADLAB_PROGRESS")
    return Path(env).expanduser() if env else Path.home() / ".radlab" / "progress.jsonl"


def _stored(answer: Any) -> Any:
    if answer is None or isinstance(answer, (bool, int)):
        return answer
    if isinstance(answer, float):
        return answer if answer == answer and abs(answer) != float("inf") else repr(answer)
    text = answer if isinstance(answer, str) else repr(answer)
    return text if len(text) <= MAX_STORED_ANSWER else text[: MAX_STORED_ANSWER - 1] + "…"


def record(*, notebook: str, exercise: str, event: str, answer: Any = None, correct: bool | None = None,
           valid: bool = True, path: Path | None = None) -> dict[str, Any] | None:
    """Append one event; returns it, or ``None`` if the progress file cannot be written.

    A read-only home must not break a lesson: the failure is reported once as a warning.
    """
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "user": _user(),
             "notebook": notebook, "exercise": exercise, "event": event,
             "answer": _stored(answer), "correct": correct, "valid": valid}
    target = Path(path) if path is not None else progress_file()
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and hasattr(os, "pread") and os.pread(fd, 1, size - 1) != b"\n":  # torn by a crash: new line
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    except OSError as error:
        _warn_once(target, error)
        return None
    return entry


_warned: set[str] = set()


def _warn_once(target: Path, error: OSError) -> None:
    if str(target) in _warned:
        return
    _warned.add(str(target))
    import warnings  # noqa: PLC0415

    warnings.warn(f"RadLab could not save exercise progress to {target} ({error.strerror or error}); "
                  "set RADLAB_PROGRESS to a writable file to keep it", stacklevel=3)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return os.environ.get("JUPYTERHUB_USER", "unknown")


def load(path: Path | None = None) -> list[dict[str, Any]]:
    """Every event in the progress file, oldest first (unreadable lines are skipped)."""
    target = Path(path) if path is not None else progress_file()
    if not target.is_file():
        return []
    events = []
    with open(target, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and "exercise" in entry:
                events.append(entry)
    return events


@dataclass
class NotebookProgress:
    """One notebook's exercises: which were tried, which answered right, hints and solutions used."""

    notebook: str
    total: int | None = None
    tried: set[str] = field(default_factory=set)
    solved: set[str] = field(default_factory=set)
    hints: int = 0
    solutions: set[str] = field(default_factory=set)
    last: str = ""


def summary(events: Iterable[dict[str, Any]] | None = None,
            totals: dict[str, int] | None = None) -> dict[str, NotebookProgress]:
    """Per notebook: exercises tried / solved (``totals`` gives how many each notebook has)."""
    found: dict[str, NotebookProgress] = {}
    for notebook, total in (totals or {}).items():
        found[notebook] = NotebookProgress(notebook, total=total)
    for e in load() if events is None else events:
        nb = found.setdefault(str(e.get("notebook", "")), NotebookProgress(str(e.get("notebook", ""))))
        name = str(e.get("exercise", ""))
        nb.last = max(nb.last, str(e.get("time", "")))
        if e.get("event") == "check" and e.get("valid", True):
            nb.tried.add(name)
            if e.get("correct"):
                nb.solved.add(name)
        elif e.get("event") == "hint":
            nb.hints += 1
        elif e.get("event") == "solution":
            nb.solutions.add(name)
    return dict(sorted(found.items()))


@dataclass
class ProgressView:
    """What the student has done, per chapter and lab: shown as a table in ``index.ipynb``."""

    rows: list[NotebookProgress]
    path: Path

    @property
    def solved(self) -> int:
        return sum(len(r.solved) for r in self.rows)

    @property
    def total(self) -> int:
        return sum(r.total or 0 for r in self.rows)

    def __str__(self) -> str:
        lines = [f"{'notebook':45s} {'solved':>9s} {'tried':>6s} {'hints':>6s} {'solutions':>10s}  last"]
        for r in self.rows:
            done = f"{len(r.solved)}/{r.total}" if r.total is not None else f"{len(r.solved)}/?"
            lines.append(f"{r.notebook:45s} {done:>9s} {len(r.tried):6d} {r.hints:6d} {len(r.solutions):10d}  "
                         f"{r.last or '-'}")
        lines.append(f"solved {self.solved} of {self.total} exercises; progress file: {self.path}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html  # noqa: PLC0415

        body = []
        for r in self.rows:
            total = r.total if r.total is not None else "?"
            share = len(r.solved) / r.total if r.total else 0.0
            bar = (f'<div style="background:#eee;width:120px;height:10px"><div style="background:#1a7f37;'
                   f'width:{120 * share:.0f}px;height:10px"></div></div>')
            link = f'<a href="{html.escape(r.notebook)}.ipynb">{html.escape(r.notebook)}</a>'
            body.append(f"<tr><td>{link}</td><td>{len(r.solved)} / {total}</td><td>{bar}</td>"
                        f"<td>{len(r.tried)}</td><td>{r.hints}</td><td>{len(r.solutions)}</td>"
                        f"<td>{html.escape(r.last or '–')}</td></tr>")
        return ("<table><tr><th>notebook</th><th>solved</th><th></th><th>tried</th><th>hints</th>"
                f"<th>solutions shown</th><th>last activity (UTC)</th></tr>{''.join(body)}</table>"
                f"<p>Solved {self.solved} of {self.total} exercises. Progress file: "
                f"<code>{html.escape(str(self.path))}</code></p>")


def view(path: Path | None = None, totals: dict[str, int] | None = None) -> ProgressView:
    """Solved / total per chapter and lab (totals from :func:`radlab.course.totals`: no widgets, no training)."""
    if totals is None:
        from radlab.course import totals as course_totals  # noqa: PLC0415  (course imports exercises, not us)

        totals = course_totals(strict=False)
    target = Path(path) if path is not None else progress_file()
    found = summary(load(target), totals)
    known = [found[nb] for nb in totals]                       # catalog order: chapters, then labs
    others = [p for nb, p in found.items() if nb not in totals and nb]
    return ProgressView(known + others, target)
