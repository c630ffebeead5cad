"""Exercises as widgets (JupyterLab and Voila alike): an answer box, Check, Hint, Show solution.

The widget only composes controls; checking, hints, solutions and saving the attempt are
:class:`radlab.exercises.Exercise`'s, the same objects chapters call from code. A lab shows its
:class:`~radlab.exercises.ExerciseSet` with :func:`exercise_panel`; exercises the student solved
before (in an earlier session: the progress file survives kernel restarts) are marked as such.
"""
from __future__ import annotations

import html
from typing import Iterable

import ipywidgets as W

from radlab import progress
from radlab.exercises import Exercise, ExerciseSet, Feedback

_COLORS = {True: "#1a7f37", False: "#9a6700"}


class ExerciseWidget(W.VBox):
    """One exercise: ``check()`` is what the Check button does; Hint shows the next hint.

    ``answer`` is radio buttons for a choice and a text box otherwise (numbers are parsed, and bad
    input explained, by the exercise). ``solved_before`` marks an exercise solved in an earlier session.
    """

    def __init__(self, exercise: Exercise, *, solved_before: bool = False):
        self.exercise = exercise
        if exercise.choices:
            self.answer = W.RadioButtons(options=list(exercise.choices), value=None, layout=W.Layout(width="auto"))
        else:
            self.answer = W.Text(placeholder="a number" if exercise.kind == "number" else "your answer",
                                 layout=W.Layout(width="16em"))
        self.button = W.Button(description="Check", button_style="info", icon="check")
        self.hint_button = W.Button(description="Hint", icon="lightbulb-o")
        self.solution_button = W.Button(description="Show solution", icon="eye")
        self.feedback = W.HTML()
        self.hint_html = W.HTML()
        self.last: Feedback | None = None
        self.hints_shown = 0
        self.solved_before = bool(solved_before)
        if self.solved_before:
            self.feedback.value = (f'<span style="color:{_COLORS[True]}">✅ You solved this one before; '
                                   "check again any time.</span>")
        self.button.on_click(lambda _b: self.check())
        self.hint_button.on_click(lambda _b: self.next_hint())
        self.solution_button.on_click(lambda _b: self.show_solution())
        self._listeners: list = []
        super().__init__([W.HTML(f"<b>Exercise.</b> {html.escape(exercise.question)}"), self.answer,
                          W.HBox([self.button, self.hint_button, self.solution_button]),
                          self.feedback, self.hint_html])

    @property
    def solved(self) -> bool:
        """Answered right in this session, or in an earlier one."""
        return self.solved_before or bool(self.last and self.last.correct)

    def check(self) -> Feedback:
        """Check the current answer and show the feedback."""
        self.last = self.exercise.check(self.answer.value)
        color = _COLORS[self.last.correct]
        self.feedback.value = f'<span style="color:{color}">{html.escape(str(self.last))}</span>'
        for listener in self._listeners:
            listener()
        return self.last

    def next_hint(self) -> str:
        """Show the next hint (one more per click, the most general first)."""
        self.hints_shown = min(self.hints_shown + 1, max(len(self.exercise.hints), 1))
        shown = str(self.exercise.hint(self.hints_shown))
        self.hint_html.value += f"<div>💡 {html.escape(shown)}</div>"
        return shown

    def show_solution(self) -> str:
        """Show the worked solution (only when the student asks)."""
        text = str(self.exercise.solution())
        self.hint_html.value += f"<div>📖 {html.escape(text)}</div>"
        return text


def exercise_panel(exercises: ExerciseSet | Iterable[Exercise], title: str = "Exercises") -> W.VBox:
    """All of a lab's exercises under one heading, with a 'solved k of n' line.

    ``panel.items`` are the :class:`ExerciseWidget` s, ``panel.status`` the line.
    """
    items_ = list(exercises)
    earlier = progress.summary(progress.load())
    solved = {f"{nb}:{name}" for nb, found in earlier.items() for name in found.solved}
    items = [ExerciseWidget(e, solved_before=e.key in solved) for e in items_]
    status = W.HTML()

    def update() -> None:
        done = sum(w.solved for w in items)
        status.value = f"<small>Solved {done} of {len(items)} (saved in your progress file).</small>"

    for w in items:
        w._listeners.append(update)
    update()
    panel = W.VBox([W.HTML(f"<h4>{html.escape(title)}</h4>"), status, *items])
    panel.items = items  # type: ignore[attr-defined]
    panel.status = status  # type: ignore[attr-defined]
    return panel
