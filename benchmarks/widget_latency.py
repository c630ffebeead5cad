"""Widget latency in a real browser: from a key press on a control to the updated figure drawn.

Every lab under ``labs/`` (or those named with ``--labs``) is served by ``radlab serve`` (the
code instructors use) and opened in headless chromium. The benchmark finds the lab's controls
itself: every visible slider and dropdown is pressed once (a probe) and page JavaScript records
which plotly figures changed; then, greedily, the controls that change figures no control chosen
so far changes are measured first, so that every figure a slider or dropdown drives is covered by
at least one measured control, then the next ones in page order (``--max-controls`` per lab). Figures that only a button changes
(e.g. "Train") are listed as not covered.

Timing: a capturing ``keydown`` listener stamps the key press, a ``MutationObserver`` every
change inside a figure after it, and the update counts as drawn at the animation frame after
the last change of the burst (``requestAnimationFrame``). A slider goes right, left, right, ...
so every press changes the value (a dropdown: down, up, ...).

Each line also gives the most widget updates the page sent the kernel for one press: 1 is the
control's own new value; more is an echo (the page answering the kernel, e.g. a slider snapping
a value Python set off its step), which runs the lab's callback, and redraws, twice.

With ``--baseline`` (the default) the same labs are measured on the baseline commit too
(``benchmarks/baseline.py``), side by side in one run, matched by lab and control label: both
trees are served at once, each lab is open in both, and the presses alternate (new, old, new,
old, ...), so that both ways meet the same machine. Measuring one tree after the other
(``--sequential``) put the tree measured first at a disadvantage: 1.2-2x on the same code.

Goal on 2 CPU cores: median <= 50 ms, p95 <= 100 ms for every control. Prints ``name: value``.

    .venv/bin/python benchmarks/widget_latency.py [--labs 01_data_collection ...] [--repeats 20]
                                                  [--max-controls 4] [--fast] [--no-baseline]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from baseline import BASELINE_REF, chosen_labs, lab_copies, load_average, serve_options  # noqa: E402
from browser import benchmark_env, chromium_path, launch_chromium, open_lab, serve_labs  # noqa: E402

GOAL_MEDIAN_MS, GOAL_P95_MS = 50.0, 100.0

#: The controls measured, and how to read a control's label.
CONTROL_SELECTOR = ".widget-slider .noUi-handle, .widget-dropdown select"
LABEL_JS = ("(el) => ((el.closest('.widget-slider, .widget-dropdown').querySelector('.widget-label') || {})"
            ".innerText || '').trim().slice(0, 50)")
# True when the control is at its last value (then the first key press goes the other way).
AT_END_JS = """(el) => el.tagName === 'SELECT' ? el.selectedIndex === el.options.length - 1
                 : Number(el.getAttribute('aria-valuenow')) >= Number(el.getAttribute('aria-valuemax'))"""
DISABLED_JS = """(el) => el.disabled === true || el.closest('.widget-slider, .widget-dropdown')
                 .classList.contains('mod-disabled') || el.getAttribute('disabled') !== null"""

# Timestamps in the page: the key press, the first and last change to any plotly figure after it,
# the animation frames that follow them, and which figures (by index on the page) changed.
INSTRUMENT_JS = """
() => {
  if (window.__latency) return;
  const s = window.__latency = {t0: 0, first: 0, firstFrame: 0, last: 0, lastFrame: 0, figures: []};
  document.addEventListener('keydown', () => {
    s.t0 = performance.now(); s.first = s.firstFrame = s.last = s.lastFrame = 0; s.figures = [];
  }, true);
  const plotOf = (node) => {
    const el = node.nodeType === 1 ? node : node.parentElement;
    return el && el.closest ? el.closest('.js-plotly-plot') : null;
  };
  new MutationObserver((mutations) => {
    if (!s.t0) return;
    const plots = mutations.map(m => plotOf(m.target)).filter(p => p);
    if (!plots.length) return;
    const all = [...document.querySelectorAll('.js-plotly-plot')];
    for (const p of plots) { const i = all.indexOf(p); if (i >= 0 && !s.figures.includes(i)) s.figures.push(i); }
    const now = performance.now();
    if (!s.first) { s.first = now; requestAnimationFrame(() => { s.firstFrame = performance.now(); }); }
    s.last = now;
    requestAnimationFrame(() => { s.lastFrame = performance.now(); });
  }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}
"""


@dataclass
class Latency:
    """Milliseconds from key press to the first and to the complete figure update, per press."""

    lab: str
    control: str
    figures: tuple[int, ...]
    first_ms: np.ndarray
    done_ms: np.ndarray
    missed: int
    updates_sent: int = 1   # most widget updates the page sent the kernel for one press (more: an echo)


def keys_for(handle) -> tuple[str, str]:
    forth, back = ("ArrowDown", "ArrowUp") if handle.evaluate("(el) => el.tagName") == "SELECT" \
        else ("ArrowRight", "ArrowLeft")
    return (back, forth) if handle.evaluate(AT_END_JS) else (forth, back)


class SentUpdates:
    """Counts the widget state updates a page sends its kernel (``"method":"update"`` comm messages).

    One press should send one: the control's new value. A second one is the page answering the
    kernel, e.g. a slider snapping a value Python set off its step and sending it back, which runs
    the lab's callback, and redraws its figures, twice.
    """

    def __init__(self, page) -> None:
        self.count = 0
        page.on("websocket", lambda ws: ws.on("framesent", self._sent))

    def _sent(self, payload) -> None:
        text = payload if isinstance(payload, str) else bytes(payload).decode("latin-1")
        self.count += '"method":"update"' in text or '"method": "update"' in text


def press_and_time(page, handle, key: str, quiet_ms: float = 300,
                   timeout_s: float = 10) -> tuple[float, float, list[int]] | None:
    """Press ``key`` on the control; (first, done ms, figures changed) once the figures are quiet."""
    handle.focus()
    page.keyboard.press(key)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.03)
        s = page.evaluate("() => ({...window.__latency, now: performance.now()})")
        if s["lastFrame"] and s["now"] - s["last"] > quiet_ms:
            return s["firstFrame"] - s["t0"], s["lastFrame"] - s["t0"], sorted(s["figures"])
    return None


def controls(page) -> list[tuple[object, str]]:
    """The page's visible, enabled sliders and dropdowns with their labels (page order)."""
    found = []
    for handle in page.locator(CONTROL_SELECTOR).element_handles():
        try:
            if handle.is_visible() and not handle.evaluate(DISABLED_JS):
                found.append((handle, handle.evaluate(LABEL_JS) or "(no label)"))
        except Exception:  # a control re-rendered away while we looked: skip it
            continue
    return found


def choose(page, max_controls: int) -> tuple[list[tuple[object, str, tuple[int, ...]]], int, set[int]]:
    """Probe every control once; greedily pick controls until the figures they change are covered."""
    probed = []
    for handle, label in controls(page):
        forth, back = keys_for(handle)
        result = press_and_time(page, handle, forth, timeout_s=6)
        print(f"# probe {label!r}: {'no figure changed' if result is None else f'figures {result[2]}'}",
              file=sys.stderr)
        if result is not None and result[2]:
            probed.append((handle, label, tuple(result[2])))
            press_and_time(page, handle, back, timeout_s=6)   # back where it was
    n_plots = page.evaluate("() => document.querySelectorAll('.js-plotly-plot').length")
    covered: set[int] = set()
    chosen = []
    while probed and len(chosen) < max_controls:
        best = max(probed, key=lambda c: len(set(c[2]) - covered))
        if not set(best[2]) - covered:
            break
        chosen.append(best)
        covered |= set(best[2])
        probed.remove(best)
    chosen += probed[:max(0, max_controls - len(chosen))]   # spare slots: the next controls, page order
    return chosen, n_plots, covered


def measure(page, lab: str, handle, label: str, figures: tuple[int, ...], repeats: int,
            warmup: int = 2, sent: SentUpdates | None = None) -> Latency:
    """Step the control forth and back with the keyboard; time every figure update."""
    keys = keys_for(handle)
    first, done, missed, most_sent = [], [], 0, 0
    for i in range(warmup + repeats):
        before = sent.count if sent else 0
        result = press_and_time(page, handle, keys[i % 2])
        if i < warmup:
            continue
        if sent:
            most_sent = max(most_sent, sent.count - before)
        if result is None:
            missed += 1
        else:
            first.append(result[0])
            done.append(result[1])
    return Latency(lab, label, figures, np.array(first), np.array(done), missed,
                   most_sent if sent else 1)


def measure_tree(browser, labs_dir: Path, labs: list[str], env: dict[str, str], *, repeats: int,
                 max_controls: int, fast: bool) -> tuple[dict[tuple[str, str], Latency], dict[str, str]]:
    """Every lab of ``labs_dir``: its chosen controls' latencies, and per lab a coverage note."""
    results, coverage = {}, {}
    with serve_labs(labs_dir, fast=fast, env=env, **serve_options(env)) as server:
        for lab in labs:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            sent = SentUpdates(page)
            try:
                open_lab(page, server.lab_url(lab))
                page.bring_to_front()
                page.evaluate(INSTRUMENT_JS)
                chosen, n_plots, covered = choose(page, max_controls)
                for handle, label, figures in chosen:
                    results[(lab, label)] = measure(page, lab, handle, label, figures, repeats, sent=sent)
                coverage[lab] = (f"{len(chosen)} controls measured; figures changed by them "
                                 f"{len(covered)} of {n_plots} on the page")
            except Exception as err:  # a lab that fails is reported; the others are measured
                coverage[lab] = f"failed: {str(err).splitlines()[0][:200]}"
            finally:
                context.close()
    return results, coverage


def measure_interleaved(browsers: dict, copies: list[tuple[str, Path, dict[str, str]]], labs: list[str], *,
                        repeats: int, max_controls: int, fast: bool, warmup: int = 2
                        ) -> tuple[dict[str, dict[tuple[str, str], Latency]], dict[str, str]]:
    """Both trees served at once; per lab, one page each; the presses alternate between the pages.

    Each tree's page has a browser of its own (``browsers``: label → browser), so both pages stay in
    front: switching one page to the front per press repaints it whole, which slowed both trees.
    The controls are chosen on the new tree's page and found by label on the old one's; a control
    the old page lacks is measured on the new page only.
    """
    results: dict[str, dict[tuple[str, str], Latency]] = {label: {} for label, _, _ in copies}
    coverage = {}
    with contextlib.ExitStack() as servers:
        served = {label: servers.enter_context(serve_labs(folder, fast=fast, env=env, **serve_options(env)))
                  for label, folder, env in copies}
        for lab in labs:
            with contextlib.ExitStack() as contexts:
                try:
                    pages, sent = {}, {}
                    for label, server in served.items():
                        context = browsers[label].new_context(viewport={"width": 1280, "height": 900})
                        contexts.callback(context.close)
                        pages[label] = context.new_page()
                        sent[label] = SentUpdates(pages[label])
                        open_lab(pages[label], server.lab_url(lab))
                        pages[label].evaluate(INSTRUMENT_JS)
                    chosen, n_plots, covered = choose(pages["after"], max_controls)
                    found = {}
                    for label, page in pages.items():
                        found[label] = {}
                        for handle, name in controls(page):
                            found[label].setdefault(name, handle)
                    for _, name, figures in chosen:
                        runs = [(label, pages[label], found[label][name]) for label in pages if name in found[label]]
                        keys = {label: keys_for(handle) for label, _, handle in runs}
                        times = {label: ([], [], 0, 0) for label, _, _ in runs}
                        for i in range(warmup + repeats):
                            for label, page, handle in runs:
                                before = sent[label].count
                                result = press_and_time(page, handle, keys[label][i % 2])
                                if i < warmup:
                                    continue
                                first, done, missed, most = times[label]
                                most = max(most, sent[label].count - before)
                                if result is None:
                                    missed += 1
                                else:
                                    first.append(result[0])
                                    done.append(result[1])
                                times[label] = (first, done, missed, most)
                        for label, (first, done, missed, most) in times.items():
                            results[label][(lab, name)] = Latency(lab, name, figures, np.array(first),
                                                                  np.array(done), missed, most)
                    coverage[lab] = (f"{len(chosen)} controls measured; figures changed by them "
                                     f"{len(covered)} of {n_plots} on the page")
                except Exception as err:  # a lab that fails is reported; the others are measured
                    coverage[lab] = f"failed: {str(err).splitlines()[0][:200]}"
    return results, coverage


def stats(result: Latency | None) -> tuple[float, float] | None:
    if result is None or not len(result.done_ms):
        return None
    return float(np.median(result.done_ms)), float(np.percentile(result.done_ms, 95))


def report(after: dict, coverage: dict, before: dict | None) -> None:
    meets = total = 0
    for (lab, label), result in after.items():
        key = f"widget_latency_{Path(lab).stem}_{'_'.join(label.lower().split())[:30]}"
        now = stats(result)
        line = f"{key}: "
        if now is None:
            line += f"no update drawn ({result.missed} presses missed)"
        else:
            ok = now[0] <= GOAL_MEDIAN_MS and now[1] <= GOAL_P95_MS
            meets, total = meets + ok, total + 1
            line += f"median {now[0]:.0f} ms, p95 {now[1]:.0f} ms, figures {list(result.figures)}"
            if before is not None:
                then = stats(before.get((lab, label)))
                line += (f"; before median {then[0]:.0f} ms, p95 {then[1]:.0f} ms ({then[0] / now[0]:.1f}x)"
                         if then else "; before: not measured")
            line += f"; missed {result.missed}; updates sent per press: {result.updates_sent}"
            if before is not None and before.get((lab, label)) is not None:
                line += f" (before {before[(lab, label)].updates_sent})"
            line += f"; meets goal: {ok}"
        print(line)
    for lab, note in coverage.items():
        print(f"coverage_{Path(lab).stem}: {note}")
    print(f"controls_meeting_goal: {meets} of {total} (median <= {GOAL_MEDIAN_MS:.0f} ms, "
          f"p95 <= {GOAL_P95_MS:.0f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", nargs="*", help="lab notebooks (stems or file names; default: every lab)")
    parser.add_argument("--repeats", type=int, default=20, help="timed presses per control (default 20)")
    parser.add_argument("--max-controls", type=int, default=4, help="controls measured per lab (default 4)")
    parser.add_argument("--fast", action="store_true", help="serve the labs' quick versions (default: full)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help=f"skip the previous way (commit {BASELINE_REF})")
    parser.add_argument("--sequential", action="store_true",
                        help="measure one tree after the other instead of alternating presses between them")
    parser.add_argument("--before-first", action="store_true",
                        help="with --sequential: measure the baseline first")
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        print("widget_latency: chromium not found (apt-get install -y chromium, or set RADLAB_CHROMIUM)",
              file=sys.stderr)
        return 1
    wanted = chosen_labs(args.labs, "widget_latency")
    from playwright.sync_api import sync_playwright

    print(f"cpu_cores: {os.cpu_count()}")
    print(f"labs: {len(wanted)} ({'quick' if args.fast else 'full'} versions), repeats {args.repeats}")
    print(f"load_average_at_start: {load_average()}")
    measured = {}
    with tempfile.TemporaryDirectory(prefix="radlab-latency-") as tmp, sync_playwright() as playwright:
        scratch = Path(tmp)
        env = benchmark_env(scratch)
        browser = launch_chromium(playwright, executable)
        copies = lab_copies(scratch, wanted, env, baseline=args.baseline, before_first=args.before_first)
        if args.baseline and not args.sequential:
            print("order: presses alternate between the two trees (new, old, ...)")
            browsers = {"after": browser, "before": launch_chromium(playwright, executable)}
            both, coverage = measure_interleaved(browsers, copies, wanted, repeats=args.repeats,
                                                 max_controls=args.max_controls, fast=args.fast)
            browsers["before"].close()
            measured = {label: (times, coverage) for label, times in both.items()}
        else:
            for label, folder, tree_env in copies:
                measured[label] = measure_tree(browser, folder, wanted, tree_env, repeats=args.repeats,
                                               max_controls=args.max_controls, fast=args.fast)
        browser.close()
    print(f"load_average_at_end: {load_average()}")
    after, coverage = measured["after"]
    report(after, coverage, measured["before"][0] if "before" in measured else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
