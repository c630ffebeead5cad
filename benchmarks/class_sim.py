"""A class on one server: N simulated students on a real JupyterHub (binder/jupyterhub_config.py).

Starts the hub (dummy login, single-account spawner, tmp state; configurable-http-proxy from npm),
then N students log in through the login form and start their servers at once, through the hub's
REST API (spawn time: from the start request until the hub reports the server ready). Two of them
then open a lab as a Voilà dashboard through the hub in headless chromium (Lab 1, then Lab 3: time
to the first figure drawn, a control moved; ``--browser-pages``). Then, one lab
at a time (Lab 1 — data collection, then Lab 3 — training), every student at once opens a kernel in
their ``labs/`` folder and runs the lab's code cells over the Jupyter server's websocket with
``FAST = True`` after the parameters cell (as papermill), then moves a control of the lab's widget
and checks the figure it drives changed (benchmarks/kernel_memory.py: ``lab_cells``, ``CONTROLS``).

Measured per lab: time to first figure (from the student's first cell until the first plotly
figure or figure widget is displayed), failures (a server that did not start, a cell error, a
control that changed nothing), and, with every student's lab kernel still running (so shared
library pages are shared as in class), the USS and PSS of each student's processes (their
Jupyter server and its kernels; psutil's memory_full_info), the kernel's peak RSS and the CPU
seconds the lab took. The kernel is shut down before the next lab. Capacity lines:
- students per 24 GB server: 24 GB / the median PSS per student (server + that lab's kernel;
  the hub, proxy and OS not counted);
- students per core: 60 s / the median CPU seconds of the lab's kernel, i.e. how many students
  one core serves if each runs the lab's fast path once a minute.
Not a test: time it only on a quiet machine and give the load average with the figures.

    flock /tmp/radlab-heavy.lock .venv/bin/python benchmarks/class_sim.py [--students 10] [--lab 01 --lab 03]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from hubtools import PASSWORD, Hub, Student, login
from kernel_memory import CONTROLS, LABS, is_figure, lab_cells, memory_mb, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
SERVER_GB = 24
CPU_BUDGET_S = 60  # a student runs the lab's fast path once a minute: students per core = 60 / CPU seconds


@dataclass
class LabRun:
    """One student's pass through one lab."""
    name: str
    kernel: str = ""
    first_figure_s: float | None = None
    total_s: float | None = None
    error: str = ""
    memory: dict[str, float] = field(default_factory=dict)
    kernel_cpu_s: float = 0.0
    kernel_peak_rss_mb: float = 0.0


def student_processes(name: str) -> tuple[psutil.Process | None, list[psutil.Process]]:
    """The student's Jupyter server (the server's environment names the user) and its kernels."""
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("jupyterhub-singleuser" in part for part in proc.info["cmdline"] or []) and \
                    proc.environ().get("JUPYTERHUB_USER") == name:
                return proc, proc.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None, []


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_lab(student: Student, lab: str, cells: list[str]) -> LabRun:
    """The student opens a kernel in labs/, runs the lab's cells, then moves its control."""
    run = LabRun(student.name)
    try:
        run.kernel = student.new_kernel(path="labs")
        start = time.monotonic()

        def seen(msg: dict) -> None:
            if run.first_figure_s is None and is_figure(msg):
                run.first_figure_s = time.monotonic() - start

        for code in cells:
            student.run(run.kernel, code, timeout=900, on_message=seen)
        run.total_s = time.monotonic() - start
        if "control_changed_figure True" not in student.run(run.kernel, CONTROLS[lab], timeout=300):
            run.error = "moving the control did not change the figure"
        elif run.first_figure_s is None:
            run.error = "no figure was displayed"
    except Exception as err:  # any error is one student's failure; the class goes on
        run.error = str(err).strip().splitlines()[-1][:300] if str(err).strip() else type(err).__name__
    return run


def measure(runs: list[LabRun]) -> None:
    """Memory of every student's server + kernels, taken while all the lab kernels are alive."""
    for run in runs:
        server, kernels = student_processes(run.name)
        if server is None:
            continue
        run.memory = memory_mb([server, *kernels])
        for kernel in kernels:
            try:
                if any("ipykernel" in part for part in kernel.cmdline()):
                    cpu = kernel.cpu_times()
                    run.kernel_cpu_s += cpu.user + cpu.system
                    run.kernel_peak_rss_mb = max(run.kernel_peak_rss_mb, peak_rss_mb(kernel.pid))
            except (psutil.NoSuchProcess, psutil.AccessDenied, FileNotFoundError):
                continue


def report_lab(lab: str, runs: list[LabRun], cores: int) -> None:
    key = f"lab{lab}"
    ok = [r for r in runs if not r.error]
    figures = [r.first_figure_s for r in runs if r.first_figure_s is not None]
    for r in runs:
        if r.error:
            print(f"# {r.name} lab {lab}: {r.error}", file=sys.stderr)
    print(f"{key}_failures: {len(runs) - len(ok)}")
    if figures:
        print(f"{key}_first_figure_s_median: {statistics.median(figures):.1f}")
        print(f"{key}_first_figure_s_p95: {p95(figures):.1f}")
    totals = [r.total_s for r in ok if r.total_s is not None]
    if totals:
        print(f"{key}_all_cells_s_median: {statistics.median(totals):.1f}")
    measured = [r for r in runs if r.memory]
    if not measured:
        return
    uss = statistics.median(r.memory["uss"] for r in measured)
    pss = statistics.median(r.memory["pss"] for r in measured)
    cpu = statistics.median(r.kernel_cpu_s for r in measured)
    print(f"{key}_uss_mb_per_student_median: {uss:.0f}")
    print(f"{key}_pss_mb_per_student_median: {pss:.0f}")
    print(f"{key}_kernel_peak_rss_mb_median: {statistics.median(r.kernel_peak_rss_mb for r in measured):.0f}")
    print(f"{key}_kernel_cpu_s_median: {cpu:.1f}")
    print(f"{key}_students_per_{SERVER_GB}gb_server: {int(SERVER_GB * 1000 / pss)}"
          f"  (median PSS; the hub, proxy and OS not counted)")
    if cpu > 0:
        print(f"{key}_students_per_core: {CPU_BUDGET_S / cpu:.1f}"
              f"  ({CPU_BUDGET_S} s / CPU s of one run of the lab; {cores} cores here)")


#: The dashboards a few students open in a real browser (Voilà inside their own server, through the hub).
BROWSER_LABS = ("01_data_collection.ipynb", "03_training.ipynb")


def browser_pages(hub: Hub, names: list[str]) -> int:
    """A few students open a lab as a Voilà dashboard through the hub in chromium and move a control.

    Each logs in through the hub's login form in the browser, opens
    ``/user/NAME/voila/render/labs/LAB`` (the full lab), waits for a drawn figure and its
    widgets, then moves a control. Prints seconds to the first figure; returns the failures.
    """
    # imported here: playwright is needed only when pages are wanted
    from browser import chromium_path, launch_chromium, move_a_control, open_lab
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        print("# browser pages skipped: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 0
    failures = 0
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable)
        try:
            for name, lab in zip(names, BROWSER_LABS):
                key = f"browser_{name}_lab{lab[:2]}"
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                try:
                    page.goto(f"{hub.url}/hub/login", timeout=60_000)
                    page.fill("input[name=username]", name)
                    page.fill("input[name=password]", PASSWORD)
                    page.locator("input[type=submit], button[type=submit]").first.click()
                    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)
                    loaded = open_lab(page, f"{hub.url}/user/{name}/voila/render/labs/{lab}", timeout_s=600)
                    moved = move_a_control(page)
                    print(f"{key}_first_figure_s: {loaded.seconds_to_draw:.1f}")
                    print(f"{key}_figures_drawn: {loaded.drawn_plots}")
                    print(f"{key}_control_moved: {moved.label if moved else 'none changed the page'}")
                    failures += moved is None
                except Exception as err:  # reported as a failure, the benchmark goes on
                    print(f"# {key}: {str(err).splitlines()[0][:300]}", file=sys.stderr)
                    print(f"{key}_failed: yes")
                    failures += 1
                finally:
                    context.close()
        finally:
            browser.close()
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--lab", action="append", choices=sorted(LABS), help="lab number (default: 01 and 03)")
    parser.add_argument("--browser-pages", type=int, default=2, choices=range(len(BROWSER_LABS) + 1),
                        help="students who also open a lab dashboard in chromium (default 2: labs 1 and 3)")
    args = parser.parse_args()
    labs = args.lab or sorted(LABS)
    names = tuple(f"student{i:02d}" for i in range(args.students))
    cores = psutil.cpu_count() or 1
    print(f"students: {len(names)}")
    print(f"cores: {cores}")
    print(f"loadavg_before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    with tempfile.TemporaryDirectory(prefix="radlab-class-") as root:
        hub = Hub(Path(root), names, cull_timeout=3600)
        try:
            for name in names:
                login(hub, name)
            started, ready = {}, {}
            for name in names:  # all at once, as at the start of a class
                started[name] = time.monotonic()
                hub.start(name)
            pending = set(names)
            deadline = time.monotonic() + 120 + 20 * len(names)
            while pending and time.monotonic() < deadline:
                for name in sorted(pending):
                    if (hub.server(name) or {}).get("ready"):
                        ready[name] = time.monotonic() - started[name]
                        pending.discard(name)
                time.sleep(0.25)
            spawn = list(ready.values())
            print(f"spawn_failures: {len(pending)}")
            if spawn:
                print(f"spawn_s_median: {statistics.median(spawn):.1f}")
                print(f"spawn_s_p95: {p95(spawn):.1f}")
            idle = [memory_mb([p]) for p in (student_processes(n)[0] for n in sorted(ready)) if p is not None]
            if idle:
                print(f"server_only_uss_mb_median: {statistics.median(m['uss'] for m in idle):.0f}")
                print(f"server_only_pss_mb_median: {statistics.median(m['pss'] for m in idle):.0f}")
                print(f"server_start_cpu_s_median: {statistics.median(m['cpu_s'] for m in idle):.1f}")
            students = [Student(hub, name) for name in sorted(ready)]
            failures = len(pending)
            if args.browser_pages:
                failures += browser_pages(hub, sorted(ready)[:args.browser_pages])
            for lab in labs:
                cells = lab_cells(ROOT / LABS[lab])
                with ThreadPoolExecutor(max_workers=max(1, len(students))) as pool:
                    runs = list(pool.map(lambda s, lab=lab, cells=cells: run_lab(s, lab, cells), students))
                measure(runs)
                report_lab(lab, runs, cores)
                failures += sum(1 for r in runs if r.error)
                for student, run in zip(students, runs):
                    if run.kernel:
                        try:
                            student.shutdown_kernel(run.kernel)
                        except (AssertionError, OSError) as err:
                            print(f"# {student.name}: kernel shutdown: {err}", file=sys.stderr)
            print(f"failures: {failures}")
            print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        finally:
            hub.close()


if __name__ == "__main__":
    main()
