"""Every lab in a real browser, served the way instructors serve them (``radlab serve``).

The labs are found by the same glob the gallery uses: a lab added under labs/ is tested
without editing this file. One Voilà server (quick versions: ``RADLAB_FAST=1``) serves the
whole session; each lab page must draw a plotly figure with data and its widgets, show no
error, and change a figure or output when a control is moved. A screenshot of every lab is
saved under tests/screenshots/.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from browser import (PAGE_TIMEOUT_S, PLOT_WITH_DATA_JS, LabDidNotLoad, chromium_browser, http_get, lab_env,
                     move_a_control, open_lab, page_problems, save_screenshot, serve_labs, wait_for_lab,
                     watch_console_errors, watch_page_errors)
from radlab.paths import PROJECT_ROOT
from radlab.serve import lab_entries

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1800)]

LABS_DIR = PROJECT_ROOT / "labs"
LABS = lab_entries(LABS_DIR) if LABS_DIR.is_dir() else []
PAGES_AT_ONCE = 4


@pytest.fixture(scope="module")
def chromium():
    """One headless chromium for the module."""
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def voila_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test server writes Voilà's log (kernel tracebacks land there)."""
    return tmp_path_factory.mktemp("voila") / "voila.log"


@pytest.fixture(scope="module")
def server(chromium, data_cache: Path, voila_log: Path, tmp_path_factory: pytest.TempPathFactory):
    """One Voilà server for every browser test: the project's labs, their quick versions."""
    env = lab_env(data_cache, tmp_path_factory.mktemp("runs"))
    with serve_labs(LABS_DIR, fast=True, env=env, log=voila_log) as running:
        yield running


def _log_tail(log: Path, lines: int = 40) -> str:
    """The end of Voilà's log, appended to a failure message to explain it."""
    text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
    return "\n--- end of the Voilà log ---\n" + "\n".join(text)


@pytest.fixture()
def page(chromium):
    """A fresh browser page (its own context: no shared cookies or storage)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    yield page
    context.close()


def test_the_figure_check_tells_empty_axes_from_drawn_data(chromium):
    """The harness's own detector: empty axes do not count as a drawn figure; each trace kind does."""
    import plotly

    page = chromium.new_page()
    try:
        page.set_content("<div id='empty'></div><div id='line'></div><div id='heat'></div>"
                         "<div id='bars'></div><div id='nodata'></div>")
        page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
        page.evaluate("""async () => {
          await Plotly.newPlot('empty', [], {xaxis: {range: [0, 1]}});
          await Plotly.newPlot('line', [{y: [1, 3, 2], mode: 'lines'}]);
          await Plotly.newPlot('heat', [{type: 'heatmap', z: [[1, 2], [3, 4]]}]);
          await Plotly.newPlot('bars', [{type: 'bar', x: ['a', 'b'], y: [2, 5]}]);
          await Plotly.newPlot('nodata', [{x: [], y: [], mode: 'lines'}]);
        }""")
        drawn = page.evaluate(f"() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')]"
                              f".map(p => [p.id, ({PLOT_WITH_DATA_JS})(p)]))")
    finally:
        page.close()
    assert drawn == {"empty": False, "line": True, "heat": True, "bars": True, "nodata": False}


def test_the_lab_wait_stops_at_once_on_a_page_that_cannot_recover_and_says_what_it_showed(chromium):
    """The harness's own wait: a refusal page or a widget the page could not display fails at once (not after
    the page limit, as a 20-min CI hang once did), and a page that never draws fails at its limit; each
    failure quotes the page."""
    from radlab.serve import Refusal, RefusalKind

    page = chromium.new_page()
    try:
        for html, expected in [
            (Refusal(RefusalKind.SERVER_FULL, 4).page(), "This lab cannot open right now"),
            ("<div class='jp-OutputArea-output'><div class='jupyter-widgets'>Error displaying widget</div></div>",
             "widget not displayed: Error displaying widget"),
        ]:
            page.set_content(html)
            started = time.monotonic()
            with pytest.raises(LabDidNotLoad, match="the lab failed after") as failed:
                wait_for_lab(page, timeout_s=60)
            assert time.monotonic() - started < 10, "the wait did not stop at once"
            assert expected in str(failed.value), str(failed.value)
        page.set_content("<div><div>Loading widget...</div></div><div class='js-plotly-plot'></div>")
        with pytest.raises(LabDidNotLoad, match="had not drawn a figure and its controls after 2 s") as failed:
            wait_for_lab(page, timeout_s=2)
        report = str(failed.value)
        assert "widgets still loading: 1" in report and "drawn figures: 0" in report, report
    finally:
        page.close()


def test_gallery_lists_every_lab_with_its_title_and_a_working_link(server, page):
    assert LABS, "no lab notebooks under labs/"
    page.goto(server.url)
    cards = page.locator(".radlab-lab")
    assert cards.count() == len(LABS)
    for card, lab in zip(cards.all(), LABS):
        assert lab.title in card.inner_text()
        assert card.locator("a").get_attribute("href").endswith(f"voila/render/{lab.href}")
    save_screenshot(page, "gallery")


#: The trace types of the RadLab page's plotly.js bundle, as its page script lists them.
BUNDLE_TYPES = set(re.findall(r'"(\w+)"', re.search(
    r"BUNDLE_TYPES = new Set\(\[(.*?)\]\)", (PROJECT_ROOT / "radlab" / "voila_templates" / "voila" / "templates" / "radlab"
                                             / "static" / "plotly-draw-once.js").read_text(), re.S).group(1)))


#: Each shown plotly figure's ("static" | "live", width asked for or null, width drawn, its element's width).
FIGURE_WIDTHS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(e => e.clientWidth > 0).map(e =>
  [e.closest('.jp-RenderedPlotly') ? 'static' : 'live', (e.layout && e.layout.width) || null,
   e._fullLayout && e._fullLayout.width, e.clientWidth])"""
#: True when every shown figure is drawn at the width asked for, or else its element's (1 px slack).
FIGURES_FIT_JS = f"() => ({FIGURE_WIDTHS_JS})().every(([kind, asked, drawn, own]) => Math.abs(drawn - (asked || own)) <= 1)"


@pytest.mark.parametrize("lab", LABS, ids=[lab.path for lab in LABS])
def test_lab_draws_its_figures_and_answers_a_control_without_errors(server, voila_log, page, lab):
    errors = watch_page_errors(page)
    try:
        loaded = open_lab(page, server.lab_url(lab))
        print(f"{lab.path}: drawn in {loaded.seconds_to_draw:.1f} s, {loaded.drawn_plots} figure(s) with data, "
              f"{loaded.widgets} control(s)")
        assert not page_problems(page), f"{lab.path} shows errors: {page_problems(page)}{_log_tail(voila_log)}"
        # the RadLab page script (radlab/voila_templates/.../static/plotly-draw-once.js) took over
        # jupyterlab-plotly's static figures, and every figure fits its column (live ones are resized
        # by radlab.widgets.figure's observer, which waits 100 ms as plotly.js's resize does); it saw
        # the kernel's websocket open (plotly.js was evaluated after the socket's handler had run)
        assert page.evaluate("() => window.__radlabDrawOnce") == {
            "wrapped": True, "patched": True, "reason": None, "bundle": "loaded", "kernelSocket": "open"}
        # every figure is of a trace type in the page's plotly.js bundle (plotly's cartesian one), so
        # jupyterlab-plotly's full plotly.js was never evaluated and the live figures use the bundle
        types = set(page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].flatMap("
                                  "(p) => (p.data || []).map((t) => t.type || 'scatter'))"))
        assert types and types <= BUNDLE_TYPES, f"{lab.path}: trace types outside the bundle: {types - BUNDLE_TYPES}"
        assert page.evaluate("async () => ((await window._JUPYTERLAB['jupyterlab-plotly']"
                             ".get('./mimeExtension'))()).RenderedPlotly.Plotly") is None
        if page.locator(".js-plotly-plot:not(.jp-RenderedPlotly .js-plotly-plot)").count():
            assert page.evaluate("() => globalThis.__radlabPlotly.source") == "bundle"
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        try:
            page.wait_for_function(FIGURES_FIT_JS, timeout=10_000)
        except PlaywrightTimeout:
            pytest.fail(f"{lab.path}: figures not drawn at their width ([kind, asked, drawn, element]): "
                        f"{page.evaluate(FIGURE_WIDTHS_JS)}")

        # the buttons' icons (Font Awesome, v4 names such as lightbulb-o) come from Voila's own styles,
        # not from the CDN the page no longer links (radlab/voila_templates/.../index.html.j2)
        icons = page.evaluate("() => [...document.querySelectorAll('.widget-button i.fa')].map((i) => "
                              "[i.className, getComputedStyle(i, '::before').content, getComputedStyle(i).fontFamily])")
        assert icons, f"{lab.path}: no button icon (every lab's exercise panel has Check, Hint, Show solution)"
        for name, content, font in icons:
            assert content not in ("none", "normal", '""') and "Font Awesome" in font, (lab.path, name, content, font)

        moved = move_a_control(page)
        assert moved is not None, f"{lab.path}: no slider, dropdown or button changed a figure or output"
        print(f"{lab.path}: moving {moved.kind} {moved.label!r} changed the "
              f"{'figure' if moved.figure_changed else 'output'} in {moved.seconds:.2f} s")
        assert not page_problems(page), \
            f"{lab.path} shows errors after moving {moved.label!r}: {page_problems(page)}{_log_tail(voila_log)}"
        assert not errors, f"{lab.path}: JavaScript errors on the page: {errors[:3]}"
    finally:
        save_screenshot(page, Path(lab.path).stem)   # also when it failed: it shows where


TRAINING_LABS = [lab for lab in LABS if Path(lab.path).stem == "03_training"]
#: Records every text the training lab's progress label shows (a MutationObserver sees each change,
#: however short-lived), from now on, in window.__radlabProgress.
RECORD_PROGRESS_JS = """() => {
  window.__radlabProgress = [];
  const record = () => document.querySelectorAll('.radlab-training-progress').forEach(el => {
    const text = el.textContent.trim();
    const seen = window.__radlabProgress;
    if (text && seen[seen.length - 1] !== text) seen.push(text);
  });
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                        attributes: true});
}"""


@pytest.mark.skipif(not TRAINING_LABS, reason="no training lab under labs/")
def test_training_lab_shows_progress_per_batch_with_the_time_left(server, voila_log, page):
    """Start in Lab 3: while it trains, the progress line counts batches with the time left, then says it finished."""
    lab = TRAINING_LABS[0]
    errors = watch_page_errors(page)
    try:
        open_lab(page, server.lab_url(lab))
        assert page.locator(".radlab-training-progress").count() >= 1, "the training lab has no progress line"
        page.evaluate(RECORD_PROGRESS_JS)
        page.get_by_role("button", name="Start").first.click()
        # this run's texts: from its "starting…" to its "finished in" (the label may show the notebook's last run before)
        page.wait_for_function("""() => { const seen = window.__radlabProgress, start = seen.indexOf('starting…');
                                          return start >= 0 && seen.slice(start).some(t => t.includes('finished in')); }""",
                               timeout=PAGE_TIMEOUT_S * 1000, polling=100)
        texts = page.evaluate("() => window.__radlabProgress")
        print(f"{lab.path}: progress shown {texts}")
        this_run = texts[texts.index("starting…"):]
        during = [t for t in this_run[:next(i for i, t in enumerate(this_run) if "finished in" in t)] if " left" in t]
        assert during, f"no 'epoch … · batch … · … left' line while training: {texts}"
        assert all(t.startswith("epoch ") and " · batch " in t for t in during), during
        assert not page_problems(page), f"{lab.path} shows errors: {page_problems(page)}{_log_tail(voila_log)}"
        assert not errors, f"{lab.path}: JavaScript errors on the page: {errors[:3]}"
    finally:
        save_screenshot(page, f"{Path(lab.path).stem}-progress")


@pytest.mark.skipif(not LABS, reason="no lab notebooks under labs/")
def test_several_pages_on_one_lab_each_get_their_own_kernel_and_keep_working(server, chromium, voila_log):
    lab = LABS[0]
    contexts = [chromium.new_context(viewport={"width": 1280, "height": 900}) for _ in range(PAGES_AT_ONCE)]
    try:
        pages = [context.new_page() for context in contexts]
        logged = [watch_console_errors(page) for page in pages]
        for page in pages:  # start every page before waiting for any: the kernels run at once
            page.goto(server.lab_url(lab), wait_until="commit", timeout=PAGE_TIMEOUT_S * 1000)
        started = time.monotonic()
        loaded = []
        for i, page in enumerate(pages):   # normally ~30 s for all four; half the page limit says it is stuck
            try:
                loaded.append(wait_for_lab(page, timeout_s=PAGE_TIMEOUT_S / 2, started=started))
            except LabDidNotLoad as failed:
                raise AssertionError(f"page {i + 1} of {PAGES_AT_ONCE} on {lab.path}: {failed}\n  console errors: "
                                     f"{logged[i][:8]}{_log_tail(voila_log)}") from None
        print(f"{lab.path}: {PAGES_AT_ONCE} pages drawn in {time.monotonic() - started:.1f} s")
        kernel_ids = [info.kernel_id for info in loaded]
        assert len(set(kernel_ids)) == PAGES_AT_ONCE, f"pages share kernels: {kernel_ids}"
        for kernel in kernel_ids:
            status, body = http_get(f"{server.base_url}/api/kernels/{kernel}")
            assert status == 200 and kernel in body, f"kernel {kernel} is not running ({status})"
        for i, page in enumerate(pages):
            moved = move_a_control(page)
            assert moved is not None, f"page {i + 1} of {PAGES_AT_ONCE} on {lab.path} stopped answering its controls"
            assert not page_problems(page), f"page {i + 1}: {page_problems(page)}; console errors: {logged[i][:5]}"
            print(f"page {i + 1}: moving {moved.kind} {moved.label!r} changed the "
                  f"{'figure' if moved.figure_changed else 'output'} in {moved.seconds:.2f} s")
        save_screenshot(pages[-1], f"{Path(lab.path).stem}-page{PAGES_AT_ONCE}-of-{PAGES_AT_ONCE}")
    finally:
        for context in contexts:
            context.close()

