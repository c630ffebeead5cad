"""Shared helpers for the real-browser tests and benchmarks: chromium, a lab server, lab pages.

The labs are served by the same code instructors use (:func:`radlab.serve.start_server`) and
opened in Debian's headless chromium through Playwright. Playwright never downloads a browser
here: we launch ``/usr/bin/chromium`` (or ``$RADLAB_CHROMIUM``). Without chromium the browser
tests fail in CI (``CI=true``) and are skipped, with the reason shown, everywhere else.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from radlab.paths import PROJECT_ROOT
from radlab.serve import RunningServer, ServeOptions, start_server

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage"]
#: Screenshots of every lab land here (git-ignored); the test prints each path.
SCREENSHOTS = PROJECT_ROOT / "tests" / "screenshots"
#: How long one lab page may take to execute and draw on a busy 2-core machine.
PAGE_TIMEOUT_S = float(os.environ.get("RADLAB_BROWSER_TIMEOUT", "600"))

# A plotly figure "with data": some trace actually drew something (not just empty axes).
PLOT_WITH_DATA_JS = """
(plot) => {
  if (!plot.querySelector('.main-svg')) return false;
  if (plot.querySelector('.heatmaplayer image, .imagelayer image, .point, .bars path, .slice path')) return true;
  for (const path of plot.querySelectorAll('.trace path, path.js-line, path.js-fill')) {
    const d = path.getAttribute('d') || '';
    if (d.length > 8 && d !== 'M0,0Z') return true;
  }
  return false;
}
"""
DRAWN_PLOTS_JS = f"() => [...document.querySelectorAll('.js-plotly-plot')].filter({PLOT_WITH_DATA_JS}).length"

# What the page shows to a student: figures (their SVG) and output/HTML widgets (their text).
SNAPSHOT_JS = """
() => {
  const parts = [];
  for (const svg of document.querySelectorAll('.js-plotly-plot .main-svg')) parts.push(svg.outerHTML);
  for (const el of document.querySelectorAll('.widget-html-content, .widget-output .jp-RenderedText, '
                                             + '.widget-output .jp-RenderedHTMLCommon, .jp-OutputArea-output img'))
    parts.push(el.tagName === 'IMG' ? el.src : el.innerText);
  return parts.join('\\n');
}
"""

# Widgets the page could not display: the widget renderer's own message, whole.
UNDISPLAYED_WIDGETS_JS = """
() => [...document.querySelectorAll('.jupyter-widgets')].filter(
  (el) => el.childElementCount === 0 && el.textContent.startsWith('Error displaying widget'))
"""

# Anything a student should never see: error outputs, tracebacks, Voilà's error messages.
PROBLEMS_JS = """
() => {
  const found = [];
  for (const el of document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
    found.push('error/stderr output: ' + el.innerText.slice(0, 400));
  const text = document.body ? document.body.innerText : '';
  for (const phrase of ['Traceback', 'There was an error when executing cell', 'Cell execution timed out',
                        'Error displaying widget', 'Kernel died', 'Kernel Dead'])
    if (text.includes(phrase)) found.push('page text contains ' + JSON.stringify(phrase));
  for (const el of (""" + UNDISPLAYED_WIDGETS_JS + """)()) found.push('widget not displayed: ' + el.textContent.slice(0, 200));
  const banner = document.querySelector('.voila-error');
  if (banner) found.push('Voila error page: ' + banner.innerText.slice(0, 200));
  return found;
}
"""

WIDGETS_JS = """
() => document.querySelectorAll('.widget-slider, .widget-dropdown, .widget-button, .widget-toggle-buttons, '
                                + '.widget-toggle-button, .widget-checkbox, .widget-radio').length
"""

# What never recovers on a lab page: RadLab's refusal page (kernel caps), Voilà's error page, a widget the
# page could not display.
FAILED_PAGE_JS = f"""
() => !!document.querySelector('.radlab-refusal, .voila-error') || ({UNDISPLAYED_WIDGETS_JS})().length > 0
"""

# A page's state for a failure message: what it shows, how far its figures and widgets got.
PAGE_REPORT_JS = f"""
() => ({{
  title: document.title,
  problems: ({PROBLEMS_JS})(),
  'drawn figures': ({DRAWN_PLOTS_JS})(),
  controls: ({WIDGETS_JS})(),
  'widgets still loading': [...document.querySelectorAll('div')]
    .filter((el) => el.childElementCount === 0 && el.textContent === 'Loading widget...').length,
  'plotly.js': JSON.stringify({{drawOnce: window.__radlabDrawOnce || null,
                               source: (globalThis.__radlabPlotly || {{}}).source || null}}),
  text: (document.body ? document.body.innerText : '').replace(/\\s+/g, ' ').slice(0, 600),
}})
"""

# Controls a student can move, in the order the tests try them. Range sliders have two handles.
CONTROLS = [
    ("slider", ".widget-slider .noUi-target:not([disabled]) .noUi-handle"),
    ("dropdown", ".widget-dropdown select:not([disabled])"),
    ("toggle", ".widget-toggle-buttons button.jupyter-button:not(.mod-active):not([disabled])"),
    ("radio", ".widget-radio-box input[type=radio]:not(:checked):not([disabled])"),
    ("checkbox", ".widget-checkbox input[type=checkbox]:not([disabled])"),
    ("button", "button.jupyter-button.widget-button:not([disabled])"),
]


#: JavaScript errors that are known and harmless (the figures they concern are checked to be drawn):
#: - jupyterlab-plotly's static-figure renderer draws the figure, then stores a PNG copy with
#:   ``model.setData``, which Voilà's output models lack: only the cached PNG is not saved;
#: - anywidget reports a model slower than 2 s to load and initialise, which a busy CPU causes, and then
#:   drops that model's later messages. The figure module no longer waits for plotly.js at load (only its
#:   view does), so a late plotly.js no longer freezes a figure (test_figure_widget.py holds it back 8 s);
#:   the lab tests move a control and check that a figure or output changed.
HARMLESS_PAGE_ERRORS = ("setData is not a function", "[anywidget] Failed to initialize model.")


def watch_page_errors(page) -> list[str]:
    """Collect the page's uncaught JavaScript errors (the known harmless ones left out)."""
    errors: list[str] = []

    def record(error) -> None:
        text = str(error)
        if not any(known in text for known in HARMLESS_PAGE_ERRORS):
            errors.append(text)

    page.on("pageerror", record)
    return errors


def watch_console_errors(page) -> list[str]:
    """Collect what the page logs with ``console.error`` (ipywidgets logs there why it could not display a widget)."""
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text[:500]) if message.type == "error" else None)
    return logged


def chromium_path() -> str | None:
    """Path of the chromium executable (``$RADLAB_CHROMIUM``, /usr/bin/chromium, or on PATH)."""
    for candidate in (os.environ.get("RADLAB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def require_chromium() -> str:
    """The chromium path; fail in CI, skip (with the reason) elsewhere when it is missing."""
    path = chromium_path()
    problem = None
    if path is None:
        problem = ("chromium not found (/usr/bin/chromium); install it with "
                   "`apt-get install -y chromium` (.ci/run does) or set RADLAB_CHROMIUM")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing from .venv: run `python3 make.py test` to install it"
    if problem:
        if IN_CI:
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    return path


def launch_chromium(playwright, executable: str | None = None):
    """Start headless chromium from the system (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=executable or chromium_path(), args=CHROMIUM_ARGS)


@contextmanager
def chromium_browser():
    """Playwright with the system's headless chromium, closed afterwards (skips when chromium is missing)."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_env(data_cache: Path | None = None, runs: Path | None = None) -> dict[str, str]:
    """Environment for served labs in tests: the test data cache and a scratch runs folder."""
    env = {}
    if data_cache is not None:
        env["RADLAB_DATA"] = str(data_cache)
    if runs is not None:
        env["RADLAB_RUNS"] = str(runs)
    return env


def benchmark_env(scratch: Path) -> dict[str, str]:
    """Environment for benchmark servers: RADLAB_DATA as set, else a scratch cache seeded like the tests'.

    The seed is the team's PneumoniaMNIST from ../shared/datasets (imported as unofficial),
    when present; runs go to ``scratch/runs``.
    """
    env = {"RADLAB_RUNS": str(scratch / "runs")}
    if os.environ.get("RADLAB_DATA"):
        return env
    from radlab.paths import shared_datasets

    shared = shared_datasets()
    if shared is not None and (shared / "pneumoniamnist.npz").is_file():
        from radlab.data import catalog

        cache = scratch / "data"
        os.environ["RADLAB_DATA"] = str(cache)   # fetch() writes into RADLAB_DATA
        try:
            catalog.fetch("pneumoniamnist", source=shared / "pneumoniamnist.npz", unofficial=True)
        finally:
            del os.environ["RADLAB_DATA"]
        env["RADLAB_DATA"] = str(cache)
    return env


@contextmanager
def serve_labs(labs_dir: Path = PROJECT_ROOT / "labs", *, env: dict[str, str] | None = None,
               **options) -> Iterator[RunningServer]:
    """Serve ``labs_dir`` with :func:`radlab.serve.start_server` on a free port; stop it afterwards.

    Voilà's log is dropped unless ``log=<file>`` is given or ``RADLAB_SERVE_LOG=1`` is set.
    """
    log = options.pop("log", None)
    opts = ServeOptions(labs_dir=Path(labs_dir), port=options.pop("port", None) or free_port(), **options)
    server = start_server(opts, env=env, log=log, quiet=not os.environ.get("RADLAB_SERVE_LOG"))
    try:
        yield server
    finally:
        server.stop()


def http_get(url: str, timeout_s: float = 60) -> tuple[int, str]:
    """Status and body of a GET (errors return their status instead of raising)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def page_config(page_html: str) -> dict:
    """A Voilà page's config data (``#jupyter-config-data``: kernel id, progressive rendering, ...); {} if none."""
    found = re.search(r'<script id="jupyter-config-data" type="application/json">\s*(\{.*?\})\s*</script>',
                      page_html, re.S)
    return json.loads(found.group(1)) if found else {}


def page_kernel_id(page_html: str) -> str:
    """The id of the kernel Voilà started for a page fetched over HTTP (:func:`kernel_id` for a browser's page)."""
    return page_config(page_html)["kernelId"]


def lab_page(url: str, timeout_s: float = 60) -> tuple[int, str]:
    """Status and text of a lab page as a browser ends up with it, without a browser.

    Without a pool, ``radlab serve`` sends the page before its notebook runs, and the page's script
    asks for the run over Voilà's execution socket. This does the same and returns, once the socket
    said the run was over, the page's HTML, then the text of each output it sent, then its raw
    messages (a check for what must never reach a page sees every byte). A page sent whole (a pool,
    or an error page) is returned as it is.
    """
    started = time.monotonic()
    status, page = http_get(url, timeout_s)
    return status, page_outputs(url, status, page, timeout_s - (time.monotonic() - started))


def page_outputs(url: str, status: int, page: str, timeout_s: float = 60) -> str:
    """:func:`lab_page` for a page already fetched (``status``, ``page``): asks for its outputs now."""
    import websocket  # websocket-client, a jupyter_server dependency

    started = time.monotonic()
    settings = page_config(page)
    if status != 200 or str(settings.get("progressiveRendering")).lower() != "true":
        return page
    kernel = settings["kernelId"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    base = url.split("/voila/render/")[0].replace("http", "ws", 1)
    socket_url = f"{base}/voila/execution/{kernel}" + (f"?token={query['token'][0]}" if "token" in query else "")
    conn = websocket.create_connection(socket_url, timeout=max(1.0, timeout_s - (time.monotonic() - started)))
    messages, texts = [], []
    try:
        conn.send(json.dumps({"action": "execute", "payload": {"kernel_id": kernel}}))
        while True:
            conn.settimeout(max(0.1, timeout_s - (time.monotonic() - started)))
            message = json.loads(conn.recv())
            messages.append(json.dumps(message))
            payload = message.get("payload", {})
            texts += [_output_text(output) for output in (payload.get("output_cell") or {}).get("outputs", [])]
            if message.get("action") == "execution_error" or (
                    message.get("action") == "execution_result" and payload["total_cell"] == payload["cell_index"] + 1):
                break
    finally:
        conn.close()
    return "\n".join([page, *texts, *messages])


def _output_text(output: dict) -> str:
    """What one notebook output says: a stream's text, a display's plain text and HTML, an error's words."""
    def joined(value) -> str:
        return "".join(value) if isinstance(value, list) else str(value)

    if output.get("output_type") == "stream":
        return joined(output.get("text", ""))
    if output.get("output_type") == "error":
        return "\n".join([output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])])
    data = output.get("data", {})
    return "\n".join(joined(data[kind]) for kind in ("text/plain", "text/html") if kind in data)


@dataclass
class LabPage:
    """What :func:`open_lab` saw: load time, drawn figures, widget count, the page's kernel id."""

    seconds_to_draw: float
    drawn_plots: int
    widgets: int
    kernel_id: str


def kernel_id(page) -> str:
    """The id of the kernel Voilà started for this page (from the page's config data)."""
    text = page.locator("#jupyter-config-data").first.text_content()
    return json.loads(text)["kernelId"]


def wait_until_stable(page, js: str = SNAPSHOT_JS, quiet_s: float = 1.0, timeout_s: float = 30) -> str:
    """Wait until ``js`` returns the same value for ``quiet_s`` (figures done resizing); return it."""
    deadline = time.monotonic() + timeout_s
    last, since = page.evaluate(js), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = page.evaluate(js)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def page_report(page, timeout_s: float = 10) -> str:
    """What a page shows now, in a few lines, for a failure message (or that it did not answer).

    A page stuck before this asks gives no answer within ``timeout_s``. One that gets stuck while a
    Playwright wait is installed keeps that wait waiting past its timeout (Playwright 1.65, checked
    with a page spinning in a loop), so neither this nor :func:`wait_for_lab` can report it.
    """
    from playwright.sync_api import Error as PlaywrightError

    try:   # a page whose main thread is stuck never answers an evaluate: wait a bounded time instead
        handle = page.wait_for_function(f"() => JSON.stringify(({PAGE_REPORT_JS})())", timeout=timeout_s * 1000,
                                        polling=100)
        report = json.loads(handle.json_value())
    except PlaywrightError as err:
        return f"  {page.url}: the page did not answer within {timeout_s:.0f} s ({str(err).splitlines()[0]})"
    return "\n".join(f"  {key}: {value}" for key, value in [("url", page.url), *report.items()])


class LabDidNotLoad(AssertionError):
    """A lab page that showed a lasting failure, or had not drawn within its time."""


def wait_for_lab(page, timeout_s: float = PAGE_TIMEOUT_S, started: float | None = None) -> LabPage:
    """Wait until a lab page (already navigating) has drawn a plotly figure with data and its widgets.

    Stops at once on what never recovers (:data:`FAILED_PAGE_JS`: a refusal page, Voilà's error page, a
    widget the page could not display) and, like a timeout, raises :class:`LabDidNotLoad` with what the
    page showed (:func:`page_report`).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = time.monotonic() if started is None else started

    def remaining_ms() -> float:
        return max(1.0, timeout_s - (time.monotonic() - started)) * 1000

    try:
        page.wait_for_load_state("domcontentloaded", timeout=remaining_ms())
        page.wait_for_function(f"() => (({DRAWN_PLOTS_JS})() > 0 && ({WIDGETS_JS})() > 0) || ({FAILED_PAGE_JS})()",
                               timeout=remaining_ms(), polling=250)
    except PlaywrightTimeout:
        raise LabDidNotLoad(f"the lab had not drawn a figure and its controls after {timeout_s:.0f} s:\n"
                            + page_report(page)) from None
    if page.evaluate(FAILED_PAGE_JS):
        raise LabDidNotLoad(f"the lab failed after {time.monotonic() - started:.0f} s:\n" + page_report(page))
    seconds = time.monotonic() - started
    wait_until_stable(page)
    return LabPage(seconds_to_draw=seconds, drawn_plots=page.evaluate(DRAWN_PLOTS_JS),
                   widgets=page.evaluate(WIDGETS_JS), kernel_id=kernel_id(page))


def open_lab(page, url: str, timeout_s: float = PAGE_TIMEOUT_S) -> LabPage:
    """Open a lab and wait until a plotly figure has drawn data and its widgets are on the page."""
    started = time.monotonic()
    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    return wait_for_lab(page, timeout_s, started)


def page_problems(page) -> list[str]:
    """Error outputs, tracebacks and error banners visible on the page (empty when clean)."""
    return page.evaluate(PROBLEMS_JS)


@dataclass
class MovedControl:
    """The control :func:`move_a_control` moved, and what changed on the page."""

    kind: str
    label: str
    figure_changed: bool
    seconds: float


def _label_of(element) -> str:
    """The widget's description label (or its text), for messages."""
    return element.evaluate("""(el) => {
      const box = el.closest('.widget-inline-hbox, .widget-toggle-buttons, .widget-button, .jupyter-widgets');
      const label = box && box.querySelector('.widget-label');
      return ((label && label.innerText) || el.innerText || el.value || el.tagName).trim().slice(0, 60);
    }""")


def _move(page, kind: str, element) -> None:
    """Move one control the way a student would: keyboard on sliders, picking, clicking."""
    if kind == "slider":  # one step right; at its maximum (nothing moved) one step left
        readout_js = """(el) => { const box = el.closest('.widget-slider');
                                   const r = box && box.querySelector('.widget-readout');
                                   return r ? (r.value !== undefined && r.value !== '' ? r.value : r.innerText) : ''; }"""
        before = element.evaluate(readout_js)
        element.focus()
        page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + 1.0   # the readout follows within a frame or two
        while element.evaluate(readout_js) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        if element.evaluate(readout_js) == before:
            page.keyboard.press("ArrowLeft")
    elif kind == "dropdown":
        options = element.evaluate("(el) => [...el.options].map(o => o.value)")
        current = element.evaluate("(el) => el.value")
        others = [o for o in options if o != current]
        if others:
            element.select_option(others[0])
    else:
        element.click()


def figure_snapshot(page) -> str:
    """The figures' SVG only (to tell a figure change from a text change)."""
    return page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot .main-svg')]"
                         ".map(s => s.outerHTML).join('\\n')")


def move_a_control(page, change_timeout_s: float = 15, button_timeout_s: float = 120, per_kind: int = 2,
                   figure_grace_s: float = 5) -> MovedControl | None:
    """Move controls one at a time until the figures or outputs visibly change; None if none did.

    Sliders come first (keyboard: ArrowRight on the handle), then dropdowns, toggle and radio
    buttons, checkboxes and plain buttons; at most ``per_kind`` of each (a setting such as a
    learning rate may change nothing until a button is pressed). A button gets
    ``button_timeout_s`` (it may train a model), a figure ``figure_grace_s`` more seconds after
    the first change (text widgets often update first).
    """
    page.bring_to_front()   # key presses go to the tab in front; several pages may be open
    for kind, selector in CONTROLS:
        visible = [element for element in page.locator(selector).element_handles() if element.is_visible()]
        for element in visible[:per_kind]:
            before = wait_until_stable(page)
            figures_before = figure_snapshot(page)
            label = _label_of(element)
            start = time.monotonic()
            _move(page, kind, element)
            deadline = start + (button_timeout_s if kind == "button" else change_timeout_s)
            while time.monotonic() < deadline:
                if page.evaluate(SNAPSHOT_JS) != before:
                    seconds = time.monotonic() - start
                    figure_deadline = time.monotonic() + figure_grace_s
                    while figure_snapshot(page) == figures_before and time.monotonic() < figure_deadline:
                        time.sleep(0.1)
                    wait_until_stable(page)
                    return MovedControl(kind, label, figure_snapshot(page) != figures_before, seconds)
                time.sleep(0.1)
    return None


def save_screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/screenshots/ and print its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
