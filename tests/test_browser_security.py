"""`radlab serve` in a real browser, attacked: a script in the address must not run on the server's origin.

Issue 15, finding 2: ``?theme="><img src=x onerror=alert(1)>`` was written raw into
``<body data-jp-theme-name="...">`` and chromium ran the script. A tiny widget lab (no
torch) keeps the page quick; the check listens for any dialog the page opens.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from browser import chromium_browser, serve_labs

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PAYLOADS = ['"><img src=x onerror=alert(1)>', "light' onload='alert(2)", "</title><script>alert(3)</script>"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    labs = tmp_path_factory.mktemp("labs")
    cells = [new_markdown_cell("# Lab 1 — Slider\nOne slider."),
             new_code_cell("import ipywidgets as w\nw.IntSlider(value=3, min=0, max=10, description='level')")]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), labs / "01_slider.ipynb")
    with serve_labs(labs) as running:
        yield running


@pytest.fixture(scope="module")
def chromium():
    """One headless chromium for the module."""
    with chromium_browser() as browser:
        yield browser


@pytest.mark.parametrize("payload", PAYLOADS, ids=["img-onerror", "attribute", "script-tag"])
def test_a_script_in_the_theme_parameter_does_not_run_and_the_lab_still_renders(server, chromium, payload: str):
    context = chromium.new_context()
    dialogs: list[str] = []
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{server.lab_url('01_slider.ipynb')}?theme={quote(payload)}", timeout=300_000)
        page.wait_for_selector(".widget-slider", timeout=300_000)   # the lab rendered and its widgets live
        gallery = context.new_page()
        gallery.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        gallery.goto(f"{server.url}?theme={quote(payload)}", timeout=120_000)
        gallery.wait_for_selector(".radlab-lab", timeout=120_000)
        page.wait_for_timeout(1000)   # an onerror handler fires after the image fails to load
    finally:
        context.close()
    assert not dialogs, f"the page ran a script from the address: alert({dialogs})"


def test_the_browser_check_sees_a_script_that_does_run(chromium, tmp_path: Path):
    """The harness itself: the dialog listener does catch the payload when a page does run it."""
    page = chromium.new_page()
    dialogs: list[str] = []
    try:
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.set_content(f'<body data-jp-theme-name="{PAYLOADS[0]}"></body>')
        page.wait_for_timeout(1000)
    finally:
        page.close()
    assert dialogs == ["1"]
