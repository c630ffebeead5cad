"""`radlab serve` sends a lab page before its notebook runs, and each cell's outputs as the cell ends.

Without a pool the server uses Voilà's progressive rendering through RadLab's execution socket
(:class:`radlab.serve`'s ``RadlabExecutionHandler``). A tiny lab (no torch) checks, in chromium, what
a student sees: the page's text before a slow cell ends, every output of a cell that prints, shows two
widgets and prints again, in order, and a failing cell that stops the rest with the friendly message.
"""
from __future__ import annotations

import json
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from browser import chromium_browser, http_get, lab_page, page_outputs, serve_labs
from radlab.serve import ERROR_MESSAGE

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SLOW_S = 6   # the first code cell's sleep: the page's title must show before it ends

CELLS = [
    new_markdown_cell("# Lab 1 — Progressive\nA page drawn while its notebook runs."),
    new_code_cell(f"import time\ntime.sleep({SLOW_S})\nprint('slow cell done')"),
    new_code_cell("import ipywidgets as w\nfrom IPython.display import display\n"
                  "print('before the sliders')\n"
                  "display(w.IntSlider(value=3, description='first'))\n"
                  "display(w.IntSlider(value=4, description='second'))\n"
                  "print('after the sliders')"),
    new_code_cell("raise ValueError('SECRET_DETAIL_40c2')"),
    new_code_cell("print('a cell after the failing one')"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    labs = tmp_path_factory.mktemp("labs")
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=CELLS, metadata={"kernelspec": kernelspec}), labs / "01_progressive.ipynb")
    with serve_labs(labs) as running:
        yield running


def test_the_page_shows_before_its_notebook_has_run_then_every_output_in_order(server):
    with chromium_browser() as browser:
        page = browser.new_page()
        started = time.monotonic()
        page.goto(server.lab_url("01_progressive.ipynb"), timeout=300_000)
        page.get_by_text("A page drawn while its notebook runs.").wait_for(timeout=300_000)
        title_s = time.monotonic() - started
        slow_done_text = page.get_by_text("slow cell done")
        seen_early = slow_done_text.count()
        page.get_by_text("after the sliders").wait_for(timeout=300_000)
        page.get_by_text(ERROR_MESSAGE.split(".")[0], exact=False).wait_for(timeout=300_000)
        page.wait_for_timeout(1000)   # anything the page would still add
        text = page.inner_text("body")
        sliders = page.locator(".widget-slider").count()
    assert seen_early == 0, "the first cell's output was there before its sleep ended: the page was sent whole"
    assert title_s < SLOW_S, f"the page's text showed after {title_s:.1f} s, not before the {SLOW_S} s cell ended"
    order = [text.find(s) for s in ("slow cell done", "before the sliders", "after the sliders")]
    assert -1 not in order and order == sorted(order), text
    assert sliders == 2, f"{sliders} of the cell's 2 sliders were drawn"
    assert "SECRET_DETAIL_40c2" not in text and "ValueError" not in text
    assert "a cell after the failing one" not in text, "the run went on after the failing cell"


def test_the_execution_socket_sends_each_output_alone_and_says_once_that_the_run_is_over(server):
    _, page = lab_page(server.lab_url("01_progressive.ipynb"), timeout_s=120)
    messages = [json.loads(line) for line in page.splitlines() if line.startswith('{"action": ')]
    results = [m["payload"] for m in messages if m["action"] == "execution_result"]
    assert [r["cell_index"] for r in results] == [0, 1, 2, 2, 2, 2, 3, 4], results
    assert all(len(r["output_cell"].get("outputs", [])) <= 1 for r in results)
    assert [r["total_cell"] for r in results] == [None] * 7 + [len(CELLS)], "the page closes the socket on total_cell"
    assert results[-1]["output_cell"]["outputs"] == [], "a cell after the failing one ran"


def test_the_notebook_runs_from_when_the_page_is_sent_not_from_when_its_script_asks(server):
    """Voilà ran it only once the page's JavaScript had loaded and asked (1–3 s later on 2 cores)."""
    url = server.lab_url("01_progressive.ipynb")
    status, page = http_get(url)
    time.sleep(SLOW_S + 2)   # a page whose scripts take this long to ask
    asked = time.monotonic()
    text = page_outputs(url, status, page, timeout_s=120)
    waited = time.monotonic() - asked
    assert "after the sliders" in text
    assert waited < SLOW_S / 2, f"the outputs came {waited:.1f} s after the page asked: the run started then"
