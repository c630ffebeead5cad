"""Guards for long widget callbacks: one run at a time, never while disabled, within a time limit.

Served by Voilà, a page can send any widget message it likes: a click on a button the lab has
disabled still reaches ``on_click``, and clicks sent while a training runs wait in the kernel's
queue and then run back to back (six clicks, six trainings). ``--cell-timeout`` only bounds the
notebook's cells, not callbacks. :func:`guard_click` wraps a button's callback so that a click

* on a disabled button is refused,
* while the callback runs (a thread or an event loop) is refused,
* handled within ``repeat_window_s`` of the last run's end is refused: it was queued during
  that run (a person clicks again after seeing the result, not within milliseconds),
* runs at most ``time_limit_s`` seconds: ``radlab serve`` passes its ``--cell-timeout`` as
  ``RADLAB_CALLBACK_TIMEOUT_S``; in JupyterLab there is no limit. The limit interrupts the
  callback with :class:`CallbackTimeout` (SIGALRM, on the kernel's main thread, where ipykernel
  runs comm callbacks); a callback that trains in its own thread uses :func:`stop_after_time_limit`.

``radlab serve`` also drops, before they reach the kernel, page messages that set a widget's
``min``/``max``/``disabled``/``options`` or touch a disabled widget (``radlab.serve``): this
module is the kernel-side half, which holds in JupyterLab too.
"""
from __future__ import annotations

import contextlib
import html
import logging
import os
import signal
import threading
import time
from enum import Enum
from typing import Any, Callable, Iterator

import ipywidgets as W

#: The environment variable ``radlab serve`` sets to its ``--cell-timeout`` (seconds).
TIME_LIMIT_ENV = "RADLAB_CALLBACK_TIMEOUT_S"
#: A click handled this soon after the last run ended was queued while it ran: refused.
REPEAT_WINDOW_S = 1.0

log = logging.getLogger(__name__)


class ClickOutcome(Enum):
    """What a guarded click did (status as data: tests and labs branch on this, not on text)."""

    RAN = "ran"
    FAILED = "failed"
    TIMED_OUT = "stopped at the time limit"
    REFUSED_DISABLED = "refused: the button is disabled"
    REFUSED_RUNNING = "refused: the callback is already running"
    REFUSED_REPEAT = "refused: clicked while the last run was going"


class CallbackTimeout(TimeoutError):
    """A guarded callback ran past its time limit and was interrupted."""


def callback_time_limit_s() -> float | None:
    """The time limit for callbacks: ``$RADLAB_CALLBACK_TIMEOUT_S`` seconds (set by ``radlab serve``), else None."""
    try:
        seconds = float(os.environ.get(TIME_LIMIT_ENV, ""))
    except ValueError:
        return None
    return seconds if seconds > 0 else None


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[bool]:
    """Raise :class:`CallbackTimeout` in the block after ``seconds``; yields whether the limit is armed.

    Armed only on the main thread of a system with SIGALRM, and only when no other timer is
    running (an outer limit then applies); otherwise the block runs without a limit.
    """
    armed = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
             and threading.current_thread() is threading.main_thread()
             and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not armed:
        yield False
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise CallbackTimeout(f"stopped after the time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def stop_after_time_limit(stop: Callable[[], Any], seconds: float | None = None) -> threading.Timer | None:
    """Call ``stop()`` after the callback time limit (for work in its own thread); cancel the returned timer.

    ``seconds`` defaults to :func:`callback_time_limit_s`; None when there is no limit.
    """
    seconds = callback_time_limit_s() if seconds is None else seconds
    if seconds is None:
        return None
    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    return timer


class ClickGuard:
    """A button's callback behind the rules of :mod:`radlab.widgets.guard` (see :func:`guard_click`)."""

    def __init__(self, button: W.Button, callback: Callable[[], Any], *, status: W.HTML | None = None,
                 time_limit_s: float | None = None, repeat_window_s: float = REPEAT_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.button, self.callback, self.status = button, callback, status
        self.time_limit_s = callback_time_limit_s() if time_limit_s is None else time_limit_s
        self.repeat_window_s, self.clock = repeat_window_s, clock
        self.last_outcome: ClickOutcome | None = None
        self._lock = threading.Lock()
        self._finished_at: float | None = None
        button.on_click(self._on_click)

    @property
    def running(self) -> bool:
        return self._lock.locked()

    def _on_click(self, _button: W.Button) -> None:
        self.click()

    def click(self) -> ClickOutcome:
        """Handle one click (what the button does); returns what happened."""
        if self.button.disabled:
            return self._refuse(ClickOutcome.REFUSED_DISABLED)
        if not self._lock.acquire(blocking=False):
            return self._refuse(ClickOutcome.REFUSED_RUNNING)
        try:
            if self._finished_at is not None and self.clock() - self._finished_at < self.repeat_window_s:
                return self._refuse(ClickOutcome.REFUSED_REPEAT)
            self.last_outcome = ClickOutcome.FAILED
            try:
                with time_limit(self.time_limit_s):
                    self.callback()
            except CallbackTimeout as stopped:
                self.last_outcome = ClickOutcome.TIMED_OUT
                log.warning("%s: %s", self.button.description or "button", stopped)
                if self.status is not None:
                    self.status.value = (f"<span style='color:#cf222e'>Stopped: this ran longer than the server's "
                                         f"limit of {self.time_limit_s:g} s. {html.escape(TIMEOUT_ADVICE)}</span>")
                return self.last_outcome
            self.last_outcome = ClickOutcome.RAN
            return self.last_outcome
        finally:
            if self.last_outcome in (ClickOutcome.RAN, ClickOutcome.FAILED, ClickOutcome.TIMED_OUT):
                self._finished_at = self.clock()
            self._lock.release()

    def _refuse(self, outcome: ClickOutcome) -> ClickOutcome:
        log.info("%s: click %s", self.button.description or "button", outcome.value)
        self.last_outcome = outcome
        return outcome


#: Shown with a timeout: what a student can do about it.
TIMEOUT_ADVICE = "Try smaller settings (fewer epochs, less data)."


def guard_click(button: W.Button, callback: Callable[[], Any], *, status: W.HTML | None = None,
                time_limit_s: float | None = None, repeat_window_s: float = REPEAT_WINDOW_S) -> ClickGuard:
    """Run ``callback()`` on ``button``'s clicks, guarded (instead of ``button.on_click(lambda _b: callback())``).

    ``status`` (an HTML widget) shows a note when the time limit stops the callback.
    """
    return ClickGuard(button, callback, status=status, time_limit_s=time_limit_s, repeat_window_s=repeat_window_s)
