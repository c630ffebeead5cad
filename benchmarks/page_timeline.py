"""Where a lab page's first render goes: chromium's timeline of one Voilà page, and its largest downloads.

The lab is served alone by ``radlab serve`` (``--pool 1`` with ``--preheated``: the page then takes a
kernel that has already run the notebook) and opened twice in headless chromium (``--warm-cache``: the
second time in the same browser context, as a student who has opened a lab before). For each page it
prints, in ms from navigation: when the HTML started and finished arriving (Voilà runs the notebook
while it streams the page), DOMContentLoaded, the load event, and each moment the number of drawn
plotly figures or sliders/dropdowns changed (``figures/controls``); then the largest HTTP downloads.
Prints ``name: value`` lines. Explains the figures of ``benchmarks/first_render.py``.

    .venv/bin/python benchmarks/page_timeline.py [--lab 01_data_collection] [--fast] [--preheated]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from baseline import chosen_labs, load_average  # noqa: E402
from browser import benchmark_env, chromium_path, launch_chromium, open_lab, serve_labs  # noqa: E402
from first_render import PAGE_MARKS_JS, wait_for_pools  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="01_data_collection", help="lab notebook (stem or file name)")
    parser.add_argument("--fast", action="store_true", help="serve the lab's quick version")
    parser.add_argument("--preheated", action="store_true", help="serve with a pool of one preheated kernel")
    parser.add_argument("--largest", type=int, default=5, help="largest downloads listed (default 5)")
    parser.add_argument("--warm-cache", action="store_true",
                        help="open the second page in the same browser context (its HTTP cache warm)")
    args = parser.parse_args()
    lab = chosen_labs([args.lab], "page_timeline")[0]
    executable = chromium_path()
    if executable is None:
        print("page_timeline: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    print(f"lab: {lab} ({'quick' if args.fast else 'full'} version, {'preheated' if args.preheated else 'cold'})")
    print(f"load_average_at_start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="radlab-timeline-") as tmp, sync_playwright() as playwright:
        scratch = Path(tmp)
        folder = scratch / "labs"
        folder.mkdir()
        shutil.copy(ROOT / "labs" / lab, folder / lab)
        browser = launch_chromium(playwright, executable)
        log = scratch / "voila.log"
        with serve_labs(folder, fast=args.fast, env=benchmark_env(scratch), pool=int(args.preheated),
                        log=log) as server:
            for i in (1, 2):
                if args.preheated:
                    wait_for_pools(log, i, server.process.pid)
                if i == 1 or not args.warm_cache:
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.add_init_script(PAGE_MARKS_JS)
                cdp = context.new_cdp_session(page)
                urls: dict[str, str] = {}
                sizes: list[tuple[int, str]] = []
                cdp.on("Network.responseReceived", lambda e, urls=urls: urls.__setitem__(e["requestId"],
                                                                                         e["response"]["url"]))
                cdp.on("Network.loadingFinished", lambda e, urls=urls, sizes=sizes: sizes.append(
                    (int(e["encodedDataLength"]), urls.get(e["requestId"], "?"))))
                cdp.send("Network.enable")
                loaded = open_lab(page, server.lab_url(lab))
                nav = json.loads(page.evaluate("() => JSON.stringify(performance.getEntriesByType('navigation')[0])"))
                ready_ms = page.evaluate("() => window.__radlabReady")
                print(f"page{i}_ready_ms: {ready_ms if ready_ms is None else round(ready_ms)} "
                      f"(polled from Python: {loaded.seconds_to_draw * 1000:.0f})")
                for name in ("responseStart", "responseEnd", "domContentLoadedEventEnd", "loadEventEnd"):
                    print(f"page{i}_{name}_ms: {nav[name]:.0f}")
                marks = page.evaluate("() => window.__radlabMarks")
                print(f"page{i}_figures/controls_at_ms: " + ", ".join(f"{k} @ {t:.0f}" for k, t in marks))
                print(f"page{i}_http_mb: {sum(s for s, _ in sizes) / 1e6:.1f}")
                for size, url in sorted(sizes, reverse=True)[:args.largest]:
                    print(f"page{i}_download: {size / 1e6:.2f} MB {url.split('?')[0].split('/voila/', 1)[-1]}")
                page.close()
                if i == 2 or not args.warm_cache:
                    context.close()
        browser.close()
    print(f"load_average_at_end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
