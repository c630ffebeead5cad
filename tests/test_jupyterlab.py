"""The README's way in: JupyterLab opens a lab, runs all its cells, and its widgets and figures render.

This catches what the Voilà tests cannot: a missing JupyterLab front-end extension for
ipywidgets (a widget would show as text such as ``VBox(...)``) or plotly (no figure).
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser import (DRAWN_PLOTS_JS, PAGE_TIMEOUT_S, WIDGETS_JS, free_port, launch_chromium, lab_env,
                     move_a_control, require_chromium, save_screenshot, watch_page_errors)
from radlab.paths import PROJECT_ROOT
from radlab.serve import lab_entries

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

LABS = lab_entries(PROJECT_ROOT / "labs") if (PROJECT_ROOT / "labs").is_dir() else []
JUPYTER = Path(sys.executable).with_name("jupyter")

# Cells still waiting or running show "[*]:" in their prompt; error outputs contain a traceback.
RUNNING_JS = ("() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
              ".filter(p => p.innerText.includes('*')).length")
EXECUTED_JS = ("() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
               ".filter(p => /\\[\\d+\\]/.test(p.innerText)).length")
TRACEBACKS_JS = ("() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]"
                 ".map(o => o.innerText).filter(t => t.includes('Traceback') || /\\w+Error: /.test(t))"
                 ".map(t => t.slice(0, 500))")

KERNEL_IDLE_JS = ("() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
                  ".some(e => /\\| Idle/.test(e.innerText))")


def run_all_cells(page, attempts: int = 3) -> None:
    """Menu Run → Run All Cells, as a student does; retried if no cell starts (menu not ready yet)."""
    for _ in range(attempts):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(f"() => ({RUNNING_JS})() + ({EXECUTED_JS})() > 0", timeout=20_000)
            return
        except Exception:  # playwright's TimeoutError: nothing started, try the menu again
            page.keyboard.press("Escape")
    raise AssertionError("Run → Run All Cells did not start any cell")


def _write_settings(folder: Path) -> None:
    """JupyterLab user settings for the test: never autosave (the lab files must stay output-free), no news popup."""
    for plugin, values in {"@jupyterlab/docmanager-extension/plugin": {"autosave": False},
                           "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def jupyterlab(data_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    """`jupyter lab` from .venv at the project root, with a token, on a free port; stopped afterwards."""
    require_chromium()
    home = tmp_path_factory.mktemp("jupyterlab")
    _write_settings(home / "settings")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [str(JUPYTER), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={PROJECT_ROOT}", f"--LabApp.user_settings_dir={home / 'settings'}",
           f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--FileCheckpoints.root_dir={home / 'checkpoints'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:   # CI containers run as root
        cmd.append("--allow-root")
    env = {**os.environ, **lab_env(data_cache, home / "runs"), "RADLAB_FAST": "1",
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    log = open(home / "jupyterlab.log", "w")
    process = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        from browser import http_get

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if http_get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout_s=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start; its log: {(home / 'jupyterlab.log').read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}", token
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.skipif(not LABS, reason="no lab notebooks under labs/")
def test_jupyterlab_runs_a_lab_and_renders_its_widgets_and_plotly_figures(jupyterlab):
    base, token = jupyterlab
    lab = LABS[0]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
            errors = watch_page_errors(page)
            page.goto(f"{base}/lab/tree/labs/{lab.href}?reset&token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            page.wait_for_function(KERNEL_IDLE_JS, polling=500)  # the status bar: "Python 3 (ipykernel) | Idle"
            run_all_cells(page)
            page.wait_for_function(f"() => ({EXECUTED_JS})() > 0 && ({RUNNING_JS})() === 0", polling=500)

            tracebacks = page.evaluate(TRACEBACKS_JS)
            assert not tracebacks, f"{lab.path} raised in JupyterLab: {tracebacks[:2]}"
            page.wait_for_function(f"() => ({DRAWN_PLOTS_JS})() > 0", timeout=60_000)
            assert page.evaluate(WIDGETS_JS) > 0, "no ipywidgets control rendered: is the ipywidgets extension missing?"
            moved = move_a_control(page)
            save_screenshot(page, f"jupyterlab-{Path(lab.path).stem}")
            assert moved is not None, f"{lab.path}: no control changed a figure or output in JupyterLab"
            assert not errors, f"JavaScript errors in JupyterLab: {errors[:3]}"
        finally:
            browser.close()
    saved = json.loads((PROJECT_ROOT / "labs" / lab.path).read_text())
    assert not any(c.get("outputs") for c in saved["cells"]), "JupyterLab saved outputs into the lab file"
