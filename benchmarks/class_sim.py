"""A class on one server: N simulated students on a real JupyterHub (binder/jupyterhub_config.py).

Starts the hub (dummy login, single-account spawner, tmp state; configurable-http-proxy from npm),
then N students log in through the login form and start their servers at once, through the hub's
REST API. Each opens a kernel and imports what a lab kernel holds (torch, plotly's FigureWidget,
radlab.train) and makes one FigureWidget. Memory per student is the USS and PSS (shared library
pages counted once across all processes) of that student's server and kernels, from
psutil's memory_full_info. Prints ``name: value`` lines, then a capacity line for a 24 GB server.
Not a test: time it only on a quiet machine and give the load average with the figures.

    .venv/bin/python benchmarks/class_sim.py [--students 10]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from hubtools import Hub, Student, login

SERVER_GB = 24
LAB_KERNEL = ("import torch, plotly.graph_objects as go, radlab.train\n"
              "fig = go.FigureWidget(data=[go.Scatter(x=[0, 1], y=[0, 1])])\nprint('ready')")


def student_processes(name: str) -> list[psutil.Process]:
    """The student's Jupyter server and its kernels (the server's environment names the user)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("jupyterhub-singleuser" in part for part in proc.info["cmdline"] or []) and \
                    proc.environ().get("JUPYTERHUB_USER") == name:
                found += [proc, *proc.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def memory_mb(procs: list[psutil.Process]) -> tuple[float, float]:
    uss = pss = 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        uss, pss = uss + info.uss, pss + getattr(info, "pss", 0)
    return uss / 1e6, pss / 1e6


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    args = parser.parse_args()
    names = tuple(f"student{i:02d}" for i in range(args.students))
    with tempfile.TemporaryDirectory(prefix="radlab-class-") as root:
        hub = Hub(Path(root), names, cull_timeout=3600)
        try:
            for name in names:
                login(hub, name)
            started, ready, failures = {}, {}, 0
            for name in names:
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
            failures += len(pending)
            lab_s, memory = [], {}
            for name in sorted(ready):
                student = Student(hub, name)
                t0 = time.monotonic()
                try:
                    assert student.run(student.new_kernel(), LAB_KERNEL, timeout=300).strip() == "ready"
                    lab_s.append(time.monotonic() - t0)
                except (AssertionError, TimeoutError, OSError) as err:
                    print(f"# {name}: lab kernel failed: {err}", file=sys.stderr)
                    failures += 1
            for name in sorted(ready):  # after all kernels are up, so shared pages are shared
                memory[name] = memory_mb(student_processes(name))
            spawn = list(ready.values())
            uss = [m[0] for m in memory.values()]
            pss = [m[1] for m in memory.values()]
            print(f"students: {len(names)}")
            if spawn:
                print(f"spawn_s_median: {statistics.median(spawn):.1f}")
                print(f"spawn_s_p95: {p95(spawn):.1f}")
            if lab_s:
                print(f"lab_kernel_ready_s_median: {statistics.median(lab_s):.1f}")
            print(f"failures: {failures}")
            if uss:
                print(f"uss_mb_per_student_mean: {statistics.mean(uss):.0f}")
                print(f"pss_mb_per_student_mean: {statistics.mean(pss):.0f}")
                per = statistics.mean(pss)
                print(f"capacity_students_per_{SERVER_GB}gb_server: {int(SERVER_GB * 1000 / per)}"
                      f"  (PSS; one lab kernel each; the hub, proxy and OS not counted)")
            print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        finally:
            hub.close()


if __name__ == "__main__":
    main()
