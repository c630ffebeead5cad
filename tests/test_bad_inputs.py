"""docs/bad-inputs.md stays true: every bad input gives a clean message, and the table is current."""
from __future__ import annotations

import pytest

import bad_inputs
from bad_inputs import CASES, DOC, render, run_case

_MESSAGES: dict[int, str] = {}


def _message(index: int) -> str:
    if index not in _MESSAGES:
        _MESSAGES[index] = run_case(CASES[index])
    return _MESSAGES[index]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c.area}: {c.bad_input[:40]}" for c in CASES])
def test_each_bad_input_gets_a_message_that_says_what_to_do_and_no_traceback(index):
    case, message = CASES[index], _message(index)
    assert message.strip() and "Traceback" not in message
    assert str(bad_inputs.ROOT) not in message and "/tmp/" not in message  # no machine-specific paths
    if case.area == "exercises":
        assert message.startswith(("❌", "⏳")), message  # never counted as right, never an exception
    else:
        assert "\nFix: " in message, message
    if case.action.startswith("`radlab "):
        assert message.endswith("(exit status 1)") and "radlab: error:" in message


def test_the_committed_table_is_what_the_cases_print_now():
    current = render([_message(i) for i in range(len(CASES))])
    assert DOC.read_text(encoding="utf-8") == current, \
        "docs/bad-inputs.md is stale: refresh it with .venv/bin/python tests/bad_inputs.py"
