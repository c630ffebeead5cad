"""Widget latency in a real browser: from a key press on a slider to the updated figure drawn.

Each lab that exists is served by ``radlab serve`` (the same code instructors use) and opened
in headless chromium. Page JavaScript timestamps the key press (a capturing ``keydown``
listener) and every change to a plotly figure's DOM after it (a ``MutationObserver``); the
update counts as drawn at the animation frame after the last change of the burst
(``requestAnimationFrame``). The slider goes right, left, right, ... so every press changes
the value (a dropdown: down, up, ...). Measured: the data-collection window level slider, the
convolution playground's stride, and a feature-map (Lab 6) and CAM (Lab 7, its image dropdown)
view when those labs exist.

Goal on 2 CPU cores: median ≤ 100 ms, p95 ≤ 250 ms. Prints ``name: value`` lines.

    .venv/bin/python benchmarks/widget_latency.py [--repeats 30] [--fast]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import benchmark_env, chromium_path, launch_chromium, open_lab, serve_labs  # noqa: E402

GOAL_MEDIAN_MS, GOAL_P95_MS = 100.0, 250.0

#: name -> (notebook glob under labs/, control kind, words that pick the control by its label, best first)
TARGETS = {
    "data_collection": ("*data_collection*.ipynb", "slider", ("level", "width")),
    "convolution_playground": ("*convolution*.ipynb", "slider", ("stride", "padding")),
    "feature_maps": ("*inside*cnn*.ipynb", "slider", ("channel", "image")),
    "cam": ("*cam*.ipynb", "dropdown", ("image", "layer", "method")),
}
#: Where each kind of control is, and how to read its label.
CONTROL_SELECTORS = {"slider": ".widget-slider .noUi-handle", "dropdown": ".widget-dropdown select"}
LABEL_JS = ("(el) => (el.closest('.widget-slider, .widget-dropdown').querySelector('.widget-label') || {})"
            ".innerText || ''")
# True when the control is at its last value (then the first key press goes the other way).
AT_END_JS = """(el) => el.tagName === 'SELECT' ? el.selectedIndex === el.options.length - 1
                 : Number(el.getAttribute('aria-valuenow')) >= Number(el.getAttribute('aria-valuemax'))"""
KEYS = {"slider": ("ArrowRight", "ArrowLeft"), "dropdown": ("ArrowDown", "ArrowUp")}

# Timestamps in the page: the key press, the first and last change to any plotly figure after it,
# and the animation frames that follow them (the moments the browser can show the change).
INSTRUMENT_JS = """
() => {
  if (window.__latency) return;
  const s = window.__latency = {t0: 0, first: 0, firstFrame: 0, last: 0, lastFrame: 0};
  document.addEventListener('keydown', () => {
    s.t0 = performance.now(); s.first = s.firstFrame = s.last = s.lastFrame = 0;
  }, true);
  const inPlot = (node) => {
    const el = node.nodeType === 1 ? node : node.parentElement;
    return el && el.closest && el.closest('.js-plotly-plot');
  };
  new MutationObserver((mutations) => {
    if (!s.t0 || !mutations.some(m => inPlot(m.target))) return;
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
    first_ms: np.ndarray
    done_ms: np.ndarray
    missed: int


def pick_control(page, kind: str, words: tuple[str, ...]):
    """The first visible control of ``kind`` whose label contains one of ``words`` (else the first one)."""
    controls = [c for c in page.locator(CONTROL_SELECTORS[kind]).element_handles() if c.is_visible()]
    labels = [c.evaluate(LABEL_JS).strip() for c in controls]
    for word in words:
        for control, label in zip(controls, labels):
            if word in label.lower():
                return control, label
    return (controls[0], labels[0]) if controls else (None, "")


def press_and_time(page, handle, key: str, quiet_ms: float = 400,
                   timeout_s: float = 20) -> tuple[float, float] | None:
    """Press ``key`` on the control; (first, done) milliseconds once the figures stop changing, or None."""
    handle.focus()
    page.keyboard.press(key)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.05)
        s = page.evaluate("() => ({...window.__latency, now: performance.now()})")
        if s["lastFrame"] and s["now"] - s["last"] > quiet_ms:
            return s["firstFrame"] - s["t0"], s["lastFrame"] - s["t0"]
    return None


def measure(page, name: str, kind: str, words: tuple[str, ...], repeats: int, warmup: int = 3) -> Latency | None:
    """Step the chosen slider (or dropdown) forth and back with the keyboard; time every figure update."""
    page.bring_to_front()
    page.evaluate(INSTRUMENT_JS)
    handle, label = pick_control(page, kind, words)
    if handle is None:
        print(f"# {name}: no {kind} on the page", file=sys.stderr)
        return None
    forth, back = KEYS[kind]
    keys = [back, forth] if handle.evaluate(AT_END_JS) else [forth, back]
    first, done, missed = [], [], 0
    for i in range(warmup + repeats):
        result = press_and_time(page, handle, keys[i % 2])
        if result is None:
            state = page.evaluate("() => ({...window.__latency, now: performance.now()})")
            print(f"# {name}: press {i} ({keys[i % 2]}) drew nothing in time: {state}", file=sys.stderr)
        if i < warmup:
            continue
        if result is None:
            missed += 1
        else:
            first.append(result[0])
            done.append(result[1])
    return Latency(name, label, np.array(first), np.array(done), missed)


def report(result: Latency) -> None:
    key = f"widget_latency_{result.lab}"
    print(f"{key}_control: {result.control}")
    if len(result.done_ms):
        print(f"{key}_median_ms: {np.median(result.done_ms):.1f}")
        print(f"{key}_p95_ms: {np.percentile(result.done_ms, 95):.1f}")
        print(f"{key}_first_change_median_ms: {np.median(result.first_ms):.1f}")
        ok = np.median(result.done_ms) <= GOAL_MEDIAN_MS and np.percentile(result.done_ms, 95) <= GOAL_P95_MS
        print(f"{key}_meets_goal: {ok}")
    print(f"{key}_presses: {len(result.done_ms)}")
    print(f"{key}_missed: {result.missed}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed presses per lab (default 30)")
    parser.add_argument("--fast", action="store_true", help="serve the labs' quick versions (default: full)")
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS), help="measure only these labs")
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        print("widget_latency: chromium not found (apt-get install -y chromium, or set RADLAB_CHROMIUM)",
              file=sys.stderr)
        return 1
    labs = {name: (sorted((ROOT / "labs").glob(pattern)), kind, words)
            for name, (pattern, kind, words) in TARGETS.items()}
    labs = {name: (found[0], kind, words) for name, (found, kind, words) in labs.items()
            if found and (not args.only or name in args.only)}
    print(f"cpu_cores: {os.cpu_count()}")
    print(f"labs_measured: {', '.join(path.name for path, _, _ in labs.values()) or 'none'}")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="radlab-latency-") as scratch, sync_playwright() as playwright:
        env = benchmark_env(Path(scratch))
        browser = launch_chromium(playwright, executable)
        with serve_labs(ROOT / "labs", fast=args.fast, env=env) as server:
            for name, (path, kind, words) in labs.items():
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                loaded = open_lab(page, server.lab_url(path.relative_to(ROOT / "labs").as_posix()))
                print(f"first_render_{name}_s: {loaded.seconds_to_draw:.1f}")
                result = measure(page, name, kind, words, args.repeats)
                if result is not None:
                    report(result)
                context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
