"""First render of a lab in a real browser, cold vs preheated, and the memory one lab kernel needs.

The lab is copied alone into a scratch folder and served by ``radlab serve`` twice:
without a pool (each page starts a kernel and runs the notebook: "cold") and with
``--pool 1`` (a kernel has already run the notebook when the page is opened: "preheated";
we wait for Voilà's "Kernel pool ... is filled" log line before opening the page). The time
is from navigation to the first plotly figure drawn with data and the widgets on the page.
Memory: the peak resident set (VmHWM) of the kernel that served a cold page, after a
control was moved, and Voilà's own RSS. Prints ``name: value`` lines.

    .venv/bin/python benchmarks/first_render.py [--lab 01_data_collection.ipynb] [--repeats 2] [--fast]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import (benchmark_env, chromium_path, launch_chromium, move_a_control, open_lab,  # noqa: E402
                     serve_labs)


def kernel_process(server_pid: int, kernel_id: str) -> psutil.Process | None:
    """The ipykernel process Voilà started for ``kernel_id`` (its connection file names the id)."""
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            if kernel_id in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def peak_rss_mb(process: psutil.Process) -> float:
    """Peak resident memory of a process: VmHWM on Linux, else the current RSS."""
    status = Path(f"/proc/{process.pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return process.memory_info().rss / 2**20


def pools_filled(log: Path) -> int:
    """How many times Voilà reported a filled kernel pool in its log."""
    return log.read_text(errors="replace").count("is filled with") if log.exists() else 0


def render_times(browser, server, lab: str, repeats: int, *, log: Path | None = None,
                 measure_memory: bool = False) -> tuple[list[float], float | None]:
    """Seconds to first render for ``repeats`` fresh pages (waiting for a full pool first when ``log``)."""
    seconds, kernel_mb = [], None
    for i in range(repeats):
        if log is not None:
            deadline = time.monotonic() + 900
            while pools_filled(log) < i + 1 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)  # let the kernel settle after running the notebook
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        loaded = open_lab(page, server.lab_url(lab))
        seconds.append(loaded.seconds_to_draw)
        if measure_memory and kernel_mb is None:
            for _ in range(3):
                move_a_control(page)
            kernel = kernel_process(server.process.pid, loaded.kernel_id)
            kernel_mb = peak_rss_mb(kernel) if kernel else None
        context.close()
    return seconds, kernel_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default=None, help="notebook under labs/ (default: the first lab)")
    parser.add_argument("--repeats", type=int, default=2, help="pages opened per mode (default 2)")
    parser.add_argument("--fast", action="store_true", help="serve the lab's quick version (default: full)")
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        print("first_render: chromium not found (apt-get install -y chromium, or set RADLAB_CHROMIUM)",
              file=sys.stderr)
        return 1
    labs = sorted((ROOT / "labs").glob("*.ipynb"))
    source = ROOT / "labs" / args.lab if args.lab else (labs[0] if labs else None)
    if source is None or not source.is_file():
        print(f"first_render: no lab notebook {args.lab or 'under labs/'}", file=sys.stderr)
        return 1
    name = source.stem
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="radlab-render-") as tmp, sync_playwright() as playwright:
        scratch = Path(tmp)
        one_lab = scratch / "labs"
        one_lab.mkdir()
        shutil.copy(source, one_lab / source.name)
        env = benchmark_env(scratch)
        browser = launch_chromium(playwright, executable)
        print(f"cpu_cores: {os.cpu_count()}")
        print(f"lab: {source.name} ({'quick' if args.fast else 'full'} version)")

        with serve_labs(one_lab, fast=args.fast, env=env) as server:
            cold, kernel_mb = render_times(browser, server, source.name, args.repeats, measure_memory=True)
            server_mb = psutil.Process(server.process.pid).memory_info().rss / 2**20
        print(f"first_render_{name}_cold_s: {np.median(cold):.1f}")
        if kernel_mb is not None:
            print(f"kernel_peak_rss_{name}_mb: {kernel_mb:.0f}")
        print(f"voila_server_rss_mb: {server_mb:.0f}")

        log = scratch / "voila-pool.log"
        with serve_labs(one_lab, fast=args.fast, env=env, pool=1, log=log) as server:
            hot, _ = render_times(browser, server, source.name, args.repeats, log=log)
        print(f"first_render_{name}_preheated_s: {np.median(hot):.1f}")
        print(f"first_render_{name}_speedup: {np.median(cold) / np.median(hot):.1f}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
