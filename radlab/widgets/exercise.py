"""Exercises as widgets (JupyterLab and Voila alike): an answer box, Check, Hint, Solution.

The widget only composes controls; checking, hints, solutions and saving the attempt are
:class:`radlab.exercises.Exercise`'s, the same objects chapters call from code.
"""
from __future__ import annotations

import html
from typing import Iterable

import ipywidgets as W

from radlab.exercises import Exercise, Feedback


class ExerciseWidget(W.VBox):
    """One exercise: ``check()`` is what the Check button does; Hint shows the next hint."""

    def __init__(self, exercise: Exercise, *, numeric: bool | None = None):
        self.exercise = exercise
        if exercise.choices:
            self.answer = W.RadioButtons(options=list(exercise.choices), value=None,
                                         layout=W.Layout(width="auto"))
        else:  # a text box: numbers are parsed (and bad input explained) by the exercise
            self.answer = W.Text(placeholder="a number" if exercise.kind == "number" else "your answer",
                                 layout=W.Layout(width="16em"))
        self.button = W.Button(description="Check", button_style="info", icon="check")
        self.hint_button = W.Button(description="Hint", icon="lightbulb-o")
        self.solution_button = W.Button(description="Show solution", icon="eye")
        self.feedback = W.HTML()
        self.hint_html = W.HTML()
        self.last: Feedback | None = None
        self.hints_shown = 0
        self.button.on_click(lambda _b: self.check())
        self.hint_button.on_click(lambda _b: self.next_hint())
        self.solution_button.on_click(lambda _b: self.show_solution())
        super().__init__([W.HTML(f"<b>Exercise.</b> {html.escape(exercise.question)}"), self.answer,
                          W.HBox([self.button, self.hint_button, self.solution_button]),
                          self.feedback, self.hint_html])

    def check(self) -> Feedback:
        """Check the current answer and show the feedback."""
        self.last = self.exercise.check(self.answer.value)
        color = "#1a7f37" if self.last.correct else "#9a6700"
        self.feedback.value = f'<span style="color:{color}">{html.escape(str(self.last))}</span>'
        return self.last

    def next_hint(self) -> str:
        """Show hints 1..n, one more per click."""
        self.hints_shown = min(self.hints_shown + 1, max(len(self.exercise.hints), 1))
        shown = [str(self.exercise.hint(i)) for i in range(self.hints_shown, self.hints_shown + 1)]
        self.hint_html.value = (self.hint_html.value + "".join(f"<div>💡 {html.escape(s)}</div>" for s in shown))
        return shown[-1]

    def show_solution(self) -> str:
        """Show the worked solution (only when the student asks)."""
        text = str(self.exercise.solution())
        self.hint_html.value += f"<div>📖 {html.escape(text)}</div>"
        return text


def exercise_panel(exercises: Iterable[Exercise], title: str = "Exercises") -> W.VBox:
    """All of a lab's exercises under one heading; ``panel.items`` are the ExerciseWidgets."""
    items = [ExerciseWidget(e) for e in exercises]
    panel = W.VBox([W.HTML(f"<h4>{html.escape(title)}</h4>"), *items])
    panel.items = items  # type: ignore[attr-defined]
    return panel
