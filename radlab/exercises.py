"""Checked exercises: one API for chapters (code cells) and labs (widgets).

The pattern is Kaggle Learn's ``learntools``: a question object that checks an answer, gives
graded hints and, only when asked, a worked solution. In a chapter::

    from radlab.course.ch01_how_a_cnn_reads_an_image import exercises
    ex = exercises()                          # the ExerciseSet of this notebook
    ex.output_size.check(ANSWER_OUTPUT_SIZE)  # ✅ / ❌ with a specific message
    ex.output_size.hint()                     # hint 1; ex.output_size.hint(2) the next one
    ex.output_size.solution()                 # the answer and why

The definitions live in :mod:`radlab.course` (one light module per chapter and lab). A lab
widget builds its set with ``exercises(self)`` and shows it with
:func:`radlab.widgets.exercise.exercise_panel`; ``radlab assignments build``
(:mod:`radlab.assignments`) turns the same objects into nbgrader cells.

- The expected answer never sits in a notebook cell: it lives here, in ``radlab``, or is
  computed from the student's *own* run (pass a zero-argument callable as ``answer``; it may
  raise :class:`NotReady` with a message such as "train a model first").
- Typical wrong answers get their own message (:class:`Mistake`), e.g. "you gave the
  validation AUC, not the test AUC".
- Bad input (a list where a number is expected, NaN, an empty or huge string, a wrong type)
  gets a friendly message, never a traceback.
- Every check, hint and solution request is appended to the student's progress file
  (:mod:`radlab.progress`), so attempts survive a kernel restart.
"""
from __future__ import annotations

import decimal
import math
import numbers
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Iterator, Sequence

#: The longest text answer accepted (longer ones are refused with a message, not checked).
MAX_TEXT = 500

_MISSING = object()


class NotReady(Exception):
    """Raised by an ``answer`` callable when the student's run the question is about is missing."""


@dataclass(frozen=True)
class Feedback:
    """The result of checking one answer (shown as markdown in a notebook, HTML in a widget)."""

    correct: bool
    message: str
    answered: bool = True
    key: str = ""

    def __str__(self) -> str:
        mark = "✅" if self.correct else ("⏳" if not self.answered else "❌")
        return f"{mark} {self.message}"

    def __bool__(self) -> bool:  # ``assert ex.q.check(x)`` reads naturally in graded cells
        return self.correct

    def _repr_markdown_(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Text:
    """A hint or a solution: markdown in a notebook, plain text when printed."""

    title: str
    body: str

    def __str__(self) -> str:
        return f"{self.title}: {self.body}"

    def _repr_markdown_(self) -> str:
        return f"**{self.title}.** {self.body}"


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer and what to tell the student who gives it.

    ``answer`` is a value (compared like the exercise compares, within its tolerance) or a
    predicate ``answer -> bool``.
    """

    answer: Any
    message: str


class Checker:
    """How an answer is compared with the expected one (built by :func:`number` / :func:`choice`)."""

    kind = "text"

    def __init__(self, expected: Any):
        self.expected = expected

    def matches(self, answer: Any, expected: Any) -> bool:
        return str(answer).strip().lower() == str(expected).strip().lower()


class _Number(Checker):
    kind = "number"

    def __init__(self, expected: Any, rel: float = 0.0, abs_tol: float = 1e-9):
        super().__init__(expected)
        self.rel, self.abs_tol = rel, abs_tol

    def matches(self, answer: Any, expected: Any) -> bool:
        value, want = float(answer), float(expected)
        return abs(value - want) <= max(self.abs_tol, self.rel * abs(want))


class _Choice(Checker):
    kind = "choice"


def number(expected: Any = _MISSING, *, rel: float = 0.0, abs_tol: float = 1e-9) -> Checker:
    """Expect a number within ``rel`` (relative) or ``abs_tol`` (absolute) of ``expected``.

    ``expected`` may be a zero-argument callable (the student's own run).
    """
    return _Number(expected, rel=rel, abs_tol=abs_tol)


def choice(expected: Any) -> Checker:
    """Expect one of the exercise's choices (compared without case or surrounding spaces)."""
    return _Choice(expected)


def text(expected: Any) -> Checker:
    """Expect a short text, compared without case or surrounding spaces."""
    return Checker(expected)


class Exercise:
    """One checked question: ``check(answer)``, ``hint(n)``, ``solution()``.

    ``answer`` is the expected value, a zero-argument callable returning it (the student's own
    run), or a checker from :func:`number` / :func:`choice` / :func:`text` carrying either.
    ``hints`` are shown one at a time, the most general first; ``solution`` explains why.
    ``points`` is what nbgrader gives for it; ``solution_code`` (optional) is the code an
    instructor's solution cell assigns (default: the expected value's ``repr``).
    """

    def __init__(self, name: str, question: str, answer: Any = _MISSING, hints: Sequence[str] | str = (),
                 solution: str = "", *, choices: Sequence[str] = (), mistakes: Sequence[Mistake] = (),
                 points: int = 1, solution_code: str | None = None, notebook: str = ""):
        if not name or not question:
            raise TypeError("an exercise needs a name and a question")
        if not str(name).isidentifier():
            raise ValueError(f"exercise name {name!r} must be a Python identifier (it is used as ex.{name})")
        self.name = str(name)
        self.question = question
        if answer is _MISSING:
            raise TypeError(f"exercise {self.name!r}: give the expected answer (a value, a callable or a checker)")
        if isinstance(answer, Checker):
            self._checker = answer
        elif choices:
            self._checker = _Choice(answer)
        elif isinstance(answer, numbers.Real) and not isinstance(answer, bool):
            self._checker = _Number(answer)
        elif callable(answer):
            self._checker = _Number(answer)
        else:
            self._checker = Checker(answer)
        self.hints: tuple[str, ...] = (hints,) if isinstance(hints, str) else tuple(hints)
        self.solution_text = solution
        self.choices: tuple[str, ...] = tuple(choices)
        self.mistakes: tuple[Mistake, ...] = tuple(mistakes)
        self.points = points
        self.solution_code = solution_code
        self.notebook = notebook

    # --- identity -------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """``notebook:name``, the id used in progress files and nbgrader ``grade_id``s."""
        return f"{self.notebook}:{self.name}" if self.notebook else self.name

    @property
    def depends_on_run(self) -> bool:
        """True when the answer is computed from the student's own run (a callable), not fixed."""
        return callable(self._checker.expected)

    @property
    def variable(self) -> str:
        """The notebook variable a chapter's answer goes into: ``ANSWER_<NAME>``."""
        return f"ANSWER_{self.name.upper()}"

    def solution_source(self) -> str:
        """Python source for the answer (an instructor's nbgrader solution cell assigns it to :attr:`variable`)."""
        return self.solution_code if self.solution_code is not None else repr(self.expected())

    @property
    def kind(self) -> str:
        """``"number"``, ``"choice"`` or ``"text"``: what kind of answer is expected."""
        return self._checker.kind

    def __repr__(self) -> str:
        return f"Exercise({self.key!r}, {self.question!r})"

    def _repr_markdown_(self) -> str:
        options = f" Options: {', '.join(repr(c) for c in self.choices)}." if self.choices else ""
        return f"**Exercise `{self.name}`.** {self.question}{options}"

    # --- the expected answer ------------------------------------------------------------------
    def expected(self) -> Any:
        """The right answer (computed now when it depends on the student's run; may raise NotReady)."""
        want = self._checker.expected
        return want() if callable(want) else want

    # --- the student's side ---------------------------------------------------------------------
    def check(self, answer: Any, *, record: bool = True) -> Feedback:
        """Check ``answer``; ``None`` or an empty text means not answered yet."""
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            return Feedback(False, f"Not answered yet. {self.question} (Stuck? Ask for .hint().)",
                            answered=False, key=self.key)
        problem, value = self._validate(answer)
        if problem:
            feedback = Feedback(False, problem, key=self.key)
            self._record("check", answer, feedback, valid=False, record=record)
            return feedback
        try:
            expected = self.expected()
        except NotReady as reason:
            return Feedback(False, str(reason), answered=False, key=self.key)
        except Exception as error:  # noqa: BLE001  (a student sees a message, never a traceback)
            return Feedback(False, _broken(error), answered=False, key=self.key)
        try:
            correct = bool(self._checker.matches(value, expected))
        except (TypeError, ValueError, OverflowError):
            correct = False
        if correct:
            message = "Correct." + (f" {self.solution_text}" if self.solution_text else "")
        else:
            message = self._mistake_message(value) or "Not quite. Try again, or ask for .hint()."
        feedback = Feedback(correct, message, key=self.key)
        self._record("check", answer, feedback, valid=True, record=record)
        return feedback

    def hint(self, n: int = 1) -> Text:
        """Hint number ``n`` (1 = the most general); past the last one, the last one again."""
        if not self.hints:
            return Text("Hint", "no hint for this one: re-read the question.")
        try:
            n = int(n)
        except (TypeError, ValueError):
            n = 1
        i = min(max(n, 1), len(self.hints))
        self._record("hint", i, None, valid=True, record=True)
        more = f" (more: .hint({i + 1}))" if i < len(self.hints) else ""
        return Text(f"Hint {i} of {len(self.hints)}", self.hints[i - 1] + more)

    def solution(self) -> Text:
        """The answer and why (shown only when asked; asking is noted in the progress file)."""
        try:
            shown = self._format_expected(self.expected())
        except NotReady as reason:
            return Text("Solution", str(reason))
        except Exception as error:  # noqa: BLE001
            return Text("Solution", f"{_broken(error)} The reasoning: {self.solution_text}")
        self._record("solution", None, None, valid=True, record=True)
        return Text("Solution", f"{shown}. {self.solution_text}".strip())

    # --- helpers ----------------------------------------------------------------------------------
    def _format_expected(self, expected: Any) -> str:
        if isinstance(expected, float):
            return f"{expected:.4g}"
        return repr(expected) if isinstance(expected, str) else str(expected)

    def _validate(self, answer: Any) -> tuple[str, Any]:
        """A friendly message for an answer of the wrong shape (else ``""`` and the cleaned answer)."""
        kind = self.kind
        if isinstance(answer, str) and len(answer) > MAX_TEXT:
            return (f"That answer is {len(answer):,} characters long; a short "
                    f"{'number' if kind == 'number' else 'answer'} is expected."), None
        if kind == "number":
            return _as_number(answer)
        if not isinstance(answer, str):
            options = f" one of {', '.join(repr(c) for c in self.choices)}" if self.choices else " a short text"
            return f"Expected{options} (in quotes), got {_describe(answer)}.", None
        if self.choices and answer.strip().lower() not in {c.strip().lower() for c in self.choices}:
            return (f"{_short(answer)!r} is not one of the options: "
                    f"{', '.join(repr(c) for c in self.choices)}."), None
        return "", answer

    def _mistake_message(self, value: Any) -> str:
        for mistake in self.mistakes:
            try:
                want = mistake.answer
                hit = want(value) if callable(want) else self._checker.matches(value, want)
            except Exception:  # noqa: BLE001  (a mistake that cannot be tested is just not this one)
                hit = False
            if hit:
                return f"Not quite: {mistake.message}"
        return ""

    def _record(self, event: str, answer: Any, feedback: Feedback | None, *, valid: bool, record: bool) -> None:
        if not record:
            return
        from radlab import progress  # noqa: PLC0415  (progress imports nothing heavy; avoids a cycle)

        progress.record(notebook=self.notebook, exercise=self.name, event=event, answer=answer,
                        correct=None if feedback is None else feedback.correct, valid=valid)


class ExerciseSet:
    """The exercises of one notebook, reachable by name: ``ex.output_size.check(...)``.

    ``notebook`` is the notebook's path from the project root without ``.ipynb``
    (``"course/01_how_a_cnn_reads_an_image"``, ``"labs/03_training"``): progress is kept by it.
    """

    def __init__(self, notebook: str, exercises: Iterable[Exercise]):
        self.notebook = notebook
        self._items: dict[str, Exercise] = {}
        for exercise in exercises:
            if exercise.name in self._items:
                raise ValueError(f"{notebook}: two exercises named {exercise.name!r}")
            exercise.notebook = notebook
            self._items[exercise.name] = exercise

    def __getattr__(self, name: str) -> Exercise:
        items = self.__dict__.get("_items", {})
        if name in items:
            return items[name]
        raise AttributeError(f"{self.__dict__.get('notebook', '?')} has no exercise {name!r}; "
                             f"its exercises: {', '.join(items)}")

    def __getitem__(self, name: str) -> Exercise:
        return self._items[name]

    def __iter__(self) -> Iterator[Exercise]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"ExerciseSet({self.notebook!r}, {self.names()})"

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- {e._repr_markdown_()}" for e in self)


def _broken(error: Exception) -> str:
    return (f"RadLab could not work out this exercise's answer ({type(error).__name__}: {_short(error, 80)}). "
            "This is a bug in RadLab, not your fault: please tell your instructor.")


# --- answer validation --------------------------------------------------------------------------
def _short(value: Any, limit: int = 40) -> str:
    text_ = str(value)
    return text_ if len(text_) <= limit else text_[: limit - 1] + "…"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{value} (a yes/no value)"
    if isinstance(value, (list, tuple, set, dict)):
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        return f"an array of shape {tuple(shape)}"
    return f"{_short(repr(value))} (of type {type(value).__name__})"


def _parse_number_text(text_: str) -> float:
    """``"14"``, ``"0.33"``, ``"0,33"`` (decimal comma), ``"1,000"``, ``"1/3"``, ``"−5"``, ``"62.5%"`` -> float."""
    cleaned = text_.strip().replace("\u2212", "-").replace(" ", "").replace("\u00a0", "")
    cleaned = cleaned[:-1] if cleaned.endswith("%") else cleaned
    if "," in cleaned and "." not in cleaned and re.fullmatch(r"[-+]?\d+,(\d{1,2}|\d{4,})", cleaned):
        cleaned = cleaned.replace(",", ".")          # a decimal comma: 0,33 or 1,5
    cleaned = cleaned.replace(",", "")                 # thousands separators: 1,000
    if re.fullmatch(r"[-+]?\d+/\d+", cleaned):
        return float(Fraction(cleaned))
    return float(cleaned)


def _as_number(answer: Any) -> tuple[str, Any]:
    """Accept ints, floats, numpy/torch scalars and numeric text; explain anything else."""
    if isinstance(answer, bool):
        return f"Expected a number, got {_describe(answer)}.", None
    value = answer
    shape = getattr(value, "shape", None)
    if hasattr(value, "item") and shape is not None and tuple(shape) in ((), (1,)):
        try:
            value = value.item()
        except (TypeError, ValueError, RuntimeError):
            pass
    if isinstance(value, bool):
        return f"Expected a number, got {_describe(answer)}.", None
    if isinstance(value, str):
        try:
            value = _parse_number_text(value)
        except (ValueError, ZeroDivisionError):
            return f"Expected a number, got the text {_short(answer)!r}.", None
    elif isinstance(value, decimal.Decimal):
        value = float(value)
    if not isinstance(value, numbers.Real):
        return f"Expected one number, got {_describe(answer)}.", None
    try:
        value = float(value)
    except OverflowError:
        return "That number is too large to be the answer.", None
    if math.isnan(value) or math.isinf(value):
        return f"{value} is not an answer: expected a finite number.", None
    return "", value


__all__ = ["Checker", "Exercise", "ExerciseSet", "Feedback", "Mistake", "NotReady", "Text", "choice", "number",
           "text", "MAX_TEXT"]

