"""First render of every lab in a real browser, cold and preheated, with the page weight, before and after.

Every lab under ``labs/`` (or those named with ``--labs``) is served by ``radlab serve`` (the code
instructors use) and opened in headless chromium:

* **cold**: a server without a pool, so each page starts a kernel and runs the notebook;
* **preheated**: ``--pool 1``, so a kernel has already run the notebook when the page opens (we
  wait for Voilà's "Kernel pool ... is filled" log lines and then for the server and its kernels
  to go idle, also after each page while the pool refills, so no kernel is still running its
  notebook while a page is timed).

Three times per page, from navigation: **main content** (chromium's largest contentful paint: when
the biggest text block, table or image of the first screen is painted, what a student sees before
scrolling), **ready** (the first plotly figure drawn with data and the widgets on the page: the
number the goals speak of) and **all drawn** (the last moment the number of drawn figures or shown
controls changed, once the page is stable). **Page weight**: the bytes the page received until it was drawn and stable — HTTP responses
(``Network.loadingFinished``' encoded length) plus the kernel websocket's messages, which carry
every widget's state, each plotly figure's JavaScript module included — and how many copies
carried plotly.js (``window.Plotly=``, in every build of it, marks it). Over HTTP every page
also gets one copy, in the renderer extension ``jupyterlab-plotly`` (its ~4.8 MB chunk).
Memory: the peak resident set (VmHWM) of each cold page's kernel.

With ``--baseline`` (the default) every measurement runs on the baseline commit too
(``benchmarks/baseline.py``: main before the speed work, served with the same server code; its
kernels import the old ``radlab``), side by side in one run, with ratios. With ``--draw-once``
the comparison is instead this tree with and without RadLab's page script ``plotly-draw-once.js``
(the browser is answered an empty script for it, so jupyterlab-plotly draws its static figures
its own way: three times), each page opened both ways in turn on the same servers. With
``--script-from <commit>`` it is this tree with its page script against the same tree with the
page script as it was at that commit (the browser is answered that file), the same way. With
``--refill-delay-from S`` it is preheated pages only, this tree served with ``radlab serve``'s pool
refill delay against the same tree with a delay of S seconds (Voila's own is 1). With
``--whole-page`` it is cold pages only, this tree served as ``radlab serve`` does (the page at
once, each cell's outputs as the cell ends) against the same tree with ``--whole-page`` (the page
sent once its notebook has run), both servers up at once and each page opened on both in turn,
after one untimed page per lab (what a lab caches, its reference model, is then there for both).
Prints ``name: value``.

    .venv/bin/python benchmarks/first_render.py [--labs 01_data_collection ...] [--repeats 1] [--fast]
                                                [--no-baseline] [--no-preheated]
                                                [--draw-once | --script-from <commit> | --refill-delay-from S
                                                 | --whole-page]
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from baseline import BASELINE_REF, chosen_labs, lab_copies, load_average, serve_options  # noqa: E402
from browser import (DRAWN_PLOTS_JS, WIDGETS_JS, benchmark_env, chromium_path, launch_chromium,  # noqa: E402
                     open_lab, serve_labs)
from lab_memory import high_water_mark_bytes  # noqa: E402

from radlab.serve import DEFAULT_POOL_REFILL_DELAY_S  # noqa: E402

#: A string that is in every build of plotly.js a page can receive (the widget bundle's copy and the
#: renderer extension jupyterlab-plotly's, which is minified differently) and nowhere else.
PLOTLY_JS_MARKER = "window.Plotly="
GOAL_COLD_S, GOAL_PREHEATED_S = 5.0, 1.5

#: Records chromium's largest-contentful-paint entries, (figures drawn/controls shown, ms) whenever
#: that pair changes, and **ready** (``window.__radlabReady``, ms): the first animation frame, that is
#: the first paint, in which a figure has drawn data and a control is shown (the condition
#: ``open_lab`` polls for every 250 ms from Python, which added up to a quarter of a second; README
#: rows before 2026-12-07 were measured that way), from the page's first script on.
PAGE_MARKS_JS = """
window.__radlabReady = null;
const __radlabReadyCheck = () => {
  if ((DRAWN_PLOTS)() > 0 && (WIDGETS)() > 0) window.__radlabReady = performance.now();
  else requestAnimationFrame(__radlabReadyCheck);
};
requestAnimationFrame(__radlabReadyCheck);
window.__radlabLcp = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__radlabLcp.push(entry.startTime);
}).observe({type: 'largest-contentful-paint', buffered: true});
window.__radlabMarks = [];
new MutationObserver(() => {
  const key = document.querySelectorAll('.js-plotly-plot .main-svg').length + '/' +
              document.querySelectorAll('.widget-slider, .widget-dropdown').length;
  const marks = window.__radlabMarks;
  if (!marks.length || marks[marks.length - 1][0] !== key) marks.push([key, performance.now()]);
}).observe(document, {subtree: true, childList: true});
""".replace("DRAWN_PLOTS", DRAWN_PLOTS_JS).replace("WIDGETS", WIDGETS_JS)


def kernel_process(server_pid: int, kernel_id: str) -> psutil.Process | None:
    """The ipykernel process Voilà started for ``kernel_id`` (its connection file names the id)."""
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            if kernel_id in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def pools_filled(log: Path) -> int:
    """How many times Voilà reported a filled kernel pool in its log."""
    return log.read_text(errors="replace").count("is filled with") if log.exists() else 0


def wait_until_idle(server_pid: int, timeout_s: float = 600, quiet_percent: float = 5.0) -> bool:
    """Wait until the server and its kernels use under ``quiet_percent`` CPU for two seconds running.

    Voilà logs a pool as filled when its kernels have started, not when they have finished running
    the notebook: without this wait, a "preheated" page would also time the end of that run.
    """
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            processes = [psutil.Process(server_pid), *psutil.Process(server_pid).children(recursive=True)]
            busy = sum(p.cpu_percent(interval=None) for p in processes)   # first call primes the counters
            time.sleep(0.5)
            busy = sum(p.cpu_percent(interval=None) for p in processes)
        except psutil.Error:
            continue
        if busy < quiet_percent:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 2:
                return True
        else:
            quiet_since = None
    return False


def wait_for_pools(log: Path, count: int, server_pid: int, timeout_s: float = 1200) -> bool:
    """Wait until Voilà has reported ``count`` filled pools and its kernels have finished running."""
    deadline = time.monotonic() + timeout_s
    while pools_filled(log) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return wait_until_idle(server_pid, max(1.0, deadline - time.monotonic()))


class PageWeight:
    """Bytes a page received, counted by the Chrome DevTools protocol (HTTP and websocket)."""

    def __init__(self, context, page):
        self.http = self.websocket = self.plotly_js_copies = 0
        self.cdp = context.new_cdp_session(page)
        self.cdp.on("Network.loadingFinished", self._http)
        self.cdp.on("Network.webSocketFrameReceived", self._frame)
        self.cdp.send("Network.enable")

    def _http(self, event: dict) -> None:
        self.http += int(event.get("encodedDataLength", 0))

    def _frame(self, event: dict) -> None:
        response = event.get("response", {})
        payload = response.get("payloadData", "")
        if response.get("opcode") == 2:  # binary frames arrive base64-encoded
            raw = base64.b64decode(payload)
            self.websocket += len(raw)
            text = raw.decode("utf-8", "replace")
        else:
            self.websocket += len(payload.encode("utf-8"))
            text = payload
        self.plotly_js_copies += text.count(PLOTLY_JS_MARKER)

    @property
    def total(self) -> int:
        return self.http + self.websocket


@dataclass
class LabResult:
    """One lab on one tree: seconds to first render per mode, page weight and kernel memory (cold)."""

    cold_s: list[float] = field(default_factory=list)
    preheated_s: list[float] = field(default_factory=list)
    cold_main_content_s: list[float] = field(default_factory=list)
    preheated_main_content_s: list[float] = field(default_factory=list)
    cold_all_drawn_s: list[float] = field(default_factory=list)
    preheated_all_drawn_s: list[float] = field(default_factory=list)
    weight_mb: float | None = None
    http_mb: float | None = None
    websocket_mb: float | None = None
    plotly_js_copies: int | None = None
    figures: int | None = None
    kernel_peak_mb: float | None = None


#: The RadLab Voila template's page script that ``--draw-once`` and ``--script-from`` replace.
PAGE_SCRIPT = "radlab/voila_templates/voila/templates/radlab/static/plotly-draw-once.js"
PAGE_SCRIPT_URL = "**/static/plotly-draw-once.js"
#: The page script answered by ``--draw-once``: none, so jupyterlab-plotly draws its own way.
NO_PAGE_SCRIPT = "window.__radlabDrawOnce = null;"


def page_script_at(ref: str) -> str:
    """The page script as it was at commit ``ref`` (a clear error if it did not exist there)."""
    done = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{PAGE_SCRIPT}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"first_render: --script-from {ref}: {PAGE_SCRIPT} is not in that commit "
                         f"({done.stderr.strip()}); name a commit that has it")
    return done.stdout


def open_and_measure(browser, server, lab: str, result: LabResult, *, cold: bool,
                     page_script: str | None = None) -> None:
    """Open ``lab`` once and record its times; ``page_script``: answer the RadLab page script with this."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    if page_script is not None:
        context.route(PAGE_SCRIPT_URL, lambda route: route.fulfill(
            status=200, content_type="text/javascript", body=page_script))
    page = context.new_page()
    page.add_init_script(PAGE_MARKS_JS)
    weight = PageWeight(context, page) if cold and result.weight_mb is None else None
    try:
        loaded = open_lab(page, server.lab_url(lab))
    except Exception as err:  # a lab that does not draw is reported, the rest measured
        print(f"# {lab}: {'cold' if cold else 'preheated'} page did not draw: {err}", file=sys.stderr)
        context.close()
        return
    mode = "cold" if cold else "preheated"
    lcp, marks, ready_ms = page.evaluate("() => [window.__radlabLcp, window.__radlabMarks, window.__radlabReady]")
    getattr(result, f"{mode}_s").append(ready_ms / 1000 if ready_ms is not None else loaded.seconds_to_draw)
    if lcp:
        getattr(result, f"{mode}_main_content_s").append(lcp[-1] / 1000)
    if marks:
        getattr(result, f"{mode}_all_drawn_s").append(marks[-1][1] / 1000)
    if weight is not None:
        result.weight_mb = weight.total / 1e6
        result.http_mb, result.websocket_mb = weight.http / 1e6, weight.websocket / 1e6
        result.plotly_js_copies = weight.plotly_js_copies
        result.figures = loaded.drawn_plots
        kernel = kernel_process(server.process.pid, loaded.kernel_id)
        result.kernel_peak_mb = high_water_mark_bytes(kernel) / 2**20 if kernel else None
    context.close()


def measure_tree(browser, labs_dir: Path, labs: list[str], env: dict[str, str], scratch: Path, *,
                 repeats: int, fast: bool, preheated: bool,
                 variants: dict[str, str | None] | None = None) -> dict[str, dict[str, LabResult]]:
    """Every lab of ``labs_dir`` cold, then (one server with a pool of 1 per lab) preheated.

    ``variants``: {name: the page script to answer, or None for the tree's own}, each page opened
    every way in turn (default: ``{"after": None}``); the results are keyed by the names.
    """
    variants = variants or {"after": None}
    by_variant = {name: {lab: LabResult() for lab in labs} for name in variants}
    with serve_labs(labs_dir, fast=fast, env=env, **serve_options(env)) as server:
        for lab in labs:
            for _ in range(repeats):
                for name, results in by_variant.items():
                    wait_until_idle(server.process.pid, 60)   # the previous page's kernel has gone
                    open_and_measure(browser, server, lab, results[lab], cold=True,
                                     page_script=variants[name])
    if preheated:
        log = scratch / f"voila-pool-{time.monotonic_ns()}.log"
        with serve_labs(labs_dir, fast=fast, env=env, pool=1, log=log) as server:
            expected = len(list(labs_dir.glob("*.ipynb")))
            if not wait_for_pools(log, expected, server.process.pid):
                print(f"# {labs_dir}: the kernel pools did not fill in time", file=sys.stderr)
            for lab in labs:
                for _ in range(repeats):
                    for name, results in by_variant.items():
                        open_and_measure(browser, server, lab, results[lab], cold=False,
                                         page_script=variants[name])
                        expected += 1          # the page took the pooled kernel: wait for its refill
                        wait_for_pools(log, expected, server.process.pid)
    return by_variant


def measure_refill_delays(browser, labs_dir: Path, labs: list[str], env: dict[str, str], scratch: Path, *,
                          repeats: int, fast: bool, delays: dict[str, float]) -> dict[str, dict[str, LabResult]]:
    """Preheated pages only, one server per ``delays`` entry ({name: pool refill delay, s}), all up at
    once with their pools filled; each page is opened on every server in turn, and after each page
    we wait for that server's refill and for it to go idle, so no other server is busy meanwhile."""
    by_variant = {name: {lab: LabResult() for lab in labs} for name in delays}
    pools = len(list(labs_dir.glob("*.ipynb")))
    with contextlib.ExitStack() as stack:
        servers, logs, filled = {}, {}, {}
        for name, delay in delays.items():
            logs[name] = scratch / f"voila-pool-{name}-{time.monotonic_ns()}.log"
            servers[name] = stack.enter_context(serve_labs(labs_dir, fast=fast, env=env, pool=1, log=logs[name],
                                                           pool_refill_delay_s=delay))
            filled[name] = pools
        for name, server in servers.items():
            if not wait_for_pools(logs[name], filled[name], server.process.pid):
                print(f"# {labs_dir}: the kernel pools did not fill in time", file=sys.stderr)
        for lab in labs:
            for _ in range(repeats):
                for name, server in servers.items():
                    open_and_measure(browser, server, lab, by_variant[name][lab], cold=False)
                    filled[name] += 1          # the page took the pooled kernel: wait for its refill
                    wait_for_pools(logs[name], filled[name], server.process.pid)
    return by_variant


def measure_whole_page(browser, labs_dir: Path, labs: list[str], env: dict[str, str], *,
                       repeats: int, fast: bool) -> dict[str, dict[str, LabResult]]:
    """Cold pages only: "after" served as ``radlab serve`` does (progressive), "before" with ``--whole-page``;
    both servers up at once, each page opened on both in turn, waiting for both to go idle before each."""
    by_variant = {name: {lab: LabResult() for lab in labs} for name in ("before", "after")}
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(serve_labs(labs_dir, fast=fast, env=env, progressive=name == "after"))
                   for name in by_variant}
        for lab in labs:
            # one page first, not timed: what a lab computes once and caches (its reference model) is then
            # there for both ways, as on a hub where the lab has run before
            open_and_measure(browser, servers["before"], lab, LabResult(), cold=True)
            for _ in range(repeats):
                for name, server in servers.items():
                    for other in servers.values():   # the previous page's kernel has gone, on either server
                        wait_until_idle(other.process.pid, 60)
                    open_and_measure(browser, server, lab, by_variant[name][lab], cold=True)
    return by_variant


def median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def ratio(before: float | None, after: float | None) -> str:
    return "n/a" if not before or not after else f"{before / after:.1f}"


def report(labs: list[str], after: dict[str, LabResult], before: dict[str, LabResult] | None,
           before_name: str = "before") -> None:
    for lab in labs:
        key = f"first_render_{Path(lab).stem}"
        a, b = after[lab], before[lab] if before else None
        for mode, goal in (("cold", GOAL_COLD_S), ("preheated", GOAL_PREHEATED_S)):
            now = median(getattr(a, f"{mode}_s"))
            if now is None and (b is None or not getattr(b, f"{mode}_s")):
                continue
            for part in ("", "_main_content", "_all_drawn"):   # ready (the goals' number), then the other two
                now = median(getattr(a, f"{mode}{part}_s"))
                line = f"{key}_{mode}{part}_s: {fmt(now)}"
                if b is not None:
                    then = median(getattr(b, f"{mode}{part}_s"))
                    line += f" ({before_name} {fmt(then)}, {ratio(then, now)}x faster)"
                print(f"{line}; goal <= {goal} s: {now is not None and now <= goal}" if not part else line)
        if a.weight_mb is None:        # preheated pages only (--refill-delay-from): no weight measured
            continue
        line = (f"{key}_page_weight_mb: {fmt(a.weight_mb)} (HTTP {fmt(a.http_mb)}, kernel messages "
                f"{fmt(a.websocket_mb)}; {a.figures} figures, plotly.js in kernel messages {a.plotly_js_copies}x)")
        if b is not None:
            line += (f"; {before_name} {fmt(b.weight_mb)} (plotly.js in kernel messages {b.plotly_js_copies}x), "
                     f"{ratio(b.weight_mb, a.weight_mb)}x lighter")
        print(line)
        if a.kernel_peak_mb is not None:
            line = f"{key}_kernel_peak_rss_mb: {a.kernel_peak_mb:.0f}"
            if b is not None and b.kernel_peak_mb is not None:
                line += f" ({before_name} {b.kernel_peak_mb:.0f})"
            print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", nargs="*", help="lab notebooks (stems or file names; default: every lab)")
    parser.add_argument("--repeats", type=int, default=1, help="pages opened per lab and mode (default 1)")
    parser.add_argument("--fast", action="store_true", help="serve the labs' quick versions (default: full)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help=f"skip the previous way (commit {BASELINE_REF})")
    parser.add_argument("--no-preheated", dest="preheated", action="store_false", help="measure cold pages only")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--draw-once", action="store_true",
                       help="compare this tree with and without the page script plotly-draw-once.js "
                            "(instead of the baseline commit)")
    which.add_argument("--refill-delay-from", metavar="S", type=float,
                       help="preheated pages only: this tree served with radlab serve's pool refill delay "
                            "against the same tree with a delay of S seconds (Voila's own: 1)")
    which.add_argument("--whole-page", action="store_true",
                       help="cold pages only: this tree served as radlab serve does (the page at once, the outputs "
                            "as each cell ends) against the same tree with --whole-page (sent once the notebook ran)")
    which.add_argument("--script-from", metavar="COMMIT",
                       help="compare this tree with its page script and with the page script of COMMIT "
                            "(instead of the baseline commit)")
    args = parser.parse_args()
    old_script = page_script_at(args.script_from) if args.script_from else None
    executable = chromium_path()
    if executable is None:
        print("first_render: chromium not found (apt-get install -y chromium, or set RADLAB_CHROMIUM)",
              file=sys.stderr)
        return 1
    wanted = chosen_labs(args.labs, "first_render")
    from playwright.sync_api import sync_playwright

    print(f"cpu_cores: {os.cpu_count()}")
    print(f"labs: {len(wanted)} ({'quick' if args.fast else 'full'} versions), repeats {args.repeats}")
    print(f"load_average_at_start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="radlab-render-") as tmp, sync_playwright() as playwright:
        scratch = Path(tmp)
        env = benchmark_env(scratch)
        browser = launch_chromium(playwright, executable)
        if args.refill_delay_from is not None:
            (_, folder, tree_env), = lab_copies(scratch, wanted, env, baseline=False)
            trees = measure_refill_delays(browser, folder, wanted, tree_env, scratch, repeats=args.repeats,
                                          fast=args.fast, delays={"before": args.refill_delay_from,
                                                                  "after": DEFAULT_POOL_REFILL_DELAY_S})
            before_name = f"refill delay {args.refill_delay_from:g} s"
            print(f"pool_refill_delay_s: {DEFAULT_POOL_REFILL_DELAY_S:g} ({before_name})")
        elif args.whole_page:
            (_, folder, tree_env), = lab_copies(scratch, wanted, env, baseline=False)
            trees = measure_whole_page(browser, folder, wanted, tree_env, repeats=args.repeats, fast=args.fast)
            before_name = "whole page"
        elif args.draw_once or args.script_from:
            (_, folder, tree_env), = lab_copies(scratch, wanted, env, baseline=False)
            before = NO_PAGE_SCRIPT if args.draw_once else old_script
            trees = measure_tree(browser, folder, wanted, tree_env, scratch, repeats=args.repeats, fast=args.fast,
                                 preheated=args.preheated, variants={"before": before, "after": None})
            before_name = "upstream drawing" if args.draw_once else f"page script of {args.script_from}"
        else:
            trees = {label: measure_tree(browser, folder, wanted, tree_env, scratch, repeats=args.repeats,
                                         fast=args.fast, preheated=args.preheated)["after"]
                     for label, folder, tree_env in lab_copies(scratch, wanted, env, baseline=args.baseline)}
            before_name = "before"
        browser.close()
    print(f"load_average_at_end: {load_average()}")
    report(wanted, trees["after"], trees.get("before"), before_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
