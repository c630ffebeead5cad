"""A checked exercise as a widget: choices (or a number box), a Check button, feedback."""
from __future__ import annotations

import html

import ipywidgets as W

from radlab.exercises import Exercise, Feedback


class ExerciseWidget(W.VBox):
    """Shows an :class:`~radlab.exercises.Exercise`; ``check()`` is what the button does."""

    def __init__(self, exercise: Exercise, *, numeric: bool = False):
        self.exercise = exercise
        if exercise.choices:
            self.answer = W.RadioButtons(options=list(exercise.choices), value=None,
                                         layout=W.Layout(width="auto"))
        elif numeric:
            self.answer = W.FloatText(value=None, description="answer")
        else:
            self.answer = W.Text(placeholder="your answer")
        self.button = W.Button(description="Check", button_style="info", icon="check")
        self.feedback = W.HTML()
        self.last: Feedback | None = None
        self.button.on_click(lambda _b: self.check())
        super().__init__([W.HTML(f"<b>Exercise.</b> {html.escape(exercise.question)}"),
                          self.answer, self.button, self.feedback])

    def check(self) -> Feedback:
        """Check the current answer and show the feedback."""
        self.last = self.exercise.check(self.answer.value)
        color = "#1a7f37" if self.last.correct else "#9a6700"
        self.feedback.value = f'<span style="color:{color}">{html.escape(str(self.last))}</span>'
        return self.last
