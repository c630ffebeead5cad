"""Checked exercises: a question, a checker, and a hint (no widgets here).

A lab asks a question; the student answers in a variable or a widget; ``check`` says
whether the answer is right and, if not, gives the hint. Answers are compared by the
exercise's own checker so numbers can be accepted within a tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class Feedback:
    """The result of checking one answer."""

    correct: bool
    message: str
    answered: bool = True

    def __str__(self) -> str:
        mark = "✅" if self.correct else ("⏳" if not self.answered else "❌")
        return f"{mark} {self.message}"

    def _repr_markdown_(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Exercise:
    """One question with a checker returning True for a right answer."""

    key: str
    question: str
    checker: Callable[[Any], bool]
    hint: str
    explanation: str = ""
    choices: Sequence[str] = field(default_factory=tuple)

    def check(self, answer: Any) -> Feedback:
        """Check ``answer``; ``None`` (not answered yet) gives the question back with the hint."""
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            return Feedback(False, f"Not answered yet. {self.question} Hint: {self.hint}", answered=False)
        try:
            ok = bool(self.checker(answer))
        except (TypeError, ValueError):
            ok = False
        if ok:
            return Feedback(True, "Correct. " + self.explanation if self.explanation else "Correct.")
        return Feedback(False, f"Not quite. Hint: {self.hint}")


def number(expected: float, *, rel: float = 0.0, abs_tol: float = 1e-9) -> Callable[[Any], bool]:
    """A checker accepting a number within a tolerance of ``expected``."""

    def _check(answer: Any) -> bool:
        value = float(answer)
        return abs(value - expected) <= max(abs_tol, rel * abs(expected))

    return _check


def choice(expected: str) -> Callable[[Any], bool]:
    """A checker accepting one choice, compared without case or surrounding spaces."""
    return lambda answer: str(answer).strip().lower() == expected.strip().lower()
