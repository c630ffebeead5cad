"""Lab 1's level slider on every image it offers: key press → image redrawn, new and previous way side by side.

``widget_latency.py`` measures each control on the image the lab opens with (a 128 × 128 CT); how long
a window step takes depends on the image's size, so this benchmark steps the level on each image of
Lab 1's image menu in turn (the 1955 × 1841 chest radiograph is shown at 489 × 461). Both trees are
served at once, each page in its own browser, and the presses alternate (new, old, new, ...), as in
``widget_latency.py``. Timing as there: key press to the animation frame after the figure's last change.
Prints ``name: value``.

    RADLAB_BASELINE_REF=<commit> .venv/bin/python benchmarks/image_latency.py [--repeats 10]
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from baseline import BASELINE_REF, lab_copies, load_average, serve_options  # noqa: E402
from browser import benchmark_env, chromium_path, launch_chromium, open_lab, serve_labs  # noqa: E402
from widget_latency import INSTRUMENT_JS, controls, keys_for, press_and_time  # noqa: E402

LAB = "01_data_collection.ipynb"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed presses per image and tree (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed presses first (default 2)")
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        print("image_latency: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    print(f"baseline: {BASELINE_REF}")
    print(f"load_average_at_start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="radlab-image-latency-") as tmp, sync_playwright() as playwright, \
            contextlib.ExitStack() as stack:
        scratch = Path(tmp)
        pages = {}
        for label, folder, env in lab_copies(scratch, [LAB], benchmark_env(scratch), baseline=True):
            server = stack.enter_context(serve_labs(folder, fast=True, env=env, **serve_options(env)))
            browser = launch_chromium(playwright, executable)
            stack.callback(browser.close)
            pages[label] = browser.new_page(viewport={"width": 1280, "height": 900})
            open_lab(pages[label], server.lab_url(LAB))
            pages[label].evaluate(INSTRUMENT_JS)
        menus = {label: page.locator(".widget-dropdown select").first for label, page in pages.items()}
        names = menus["after"].evaluate("(s) => Array.from(s.options).map((o) => o.textContent)")
        for index, name in enumerate(names):
            name = " ".join(name.split())
            if "phantom" in name.lower():       # the phantom browser has no level slider
                continue
            for label, page in pages.items():
                menus[label].select_option(index=index)
                page.wait_for_timeout(2500)     # the new image drawn and the sliders set
            sliders = {label: next(h for h, text in controls(page) if text.startswith("level"))
                       for label, page in pages.items()}
            keys = {label: keys_for(handle) for label, handle in sliders.items()}
            done: dict[str, list[float]] = {label: [] for label in pages}
            for i in range(args.warmup + args.repeats):
                for label, page in pages.items():
                    result = press_and_time(page, sliders[label], keys[label][i % 2])
                    if i >= args.warmup and result is not None:
                        done[label].append(result[1])
            new, old = (float(np.median(done[k])) if done[k] else float("nan") for k in ("after", "before"))
            print(f"image_level_step[{name}]: median {new:.0f} ms (p95 {np.percentile(done['after'], 95):.0f}); "
                  f"before {old:.0f} ms (p95 {np.percentile(done['before'], 95):.0f}); {old / new:.2f}x; "
                  f"presses timed {len(done['after'])}/{len(done['before'])} of {args.repeats}")
    print(f"load_average_at_end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
