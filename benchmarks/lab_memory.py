"""Peak memory (RSS) of a Jupyter kernel running Lab 3 — Training from top to bottom.

Runs ``labs/03_training.ipynb`` with papermill in a subprocess and follows its kernel
process, reading the kernel's high-water mark of resident memory (``VmHWM`` on Linux;
elsewhere the largest RSS seen while polling). This is what one student's kernel needs on
a JupyterHub. Prints ``name: value`` lines.

    .venv/bin/python benchmarks/lab_memory.py [--fast]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from radlab.paths import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "labs" / "03_training.ipynb"


def high_water_mark_bytes(process: psutil.Process) -> int:
    """The most resident memory the process has used so far (its current RSS where the peak is unknown)."""
    status = Path(f"/proc/{process.pid}/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return process.memory_info().rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="run the notebook's FAST version")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RADLAB_RUNS": str(Path(tmp) / "runs")}
        command = [sys.executable, "-m", "papermill", str(NOTEBOOK), str(Path(tmp) / "out.ipynb"),
                   "-k", "python3", "--cwd", str(NOTEBOOK.parent), "-p", "FAST", str(args.fast),
                   "--execution-timeout", str(args.timeout), "--no-progress-bar"]
        start = time.perf_counter()
        papermill = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peaks: dict[int, int] = {}
        parent = psutil.Process(papermill.pid)
        while papermill.poll() is None:
            try:
                children = parent.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for child in children:
                try:
                    if any("ipykernel" in part for part in child.cmdline()):
                        peaks[child.pid] = max(peaks.get(child.pid, 0), high_water_mark_bytes(child))
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        errors = papermill.stderr.read() if papermill.stderr else ""
    if papermill.returncode != 0:
        sys.exit(f"papermill failed (exit {papermill.returncode}):\n{errors[-3000:]}")
    if not peaks:
        sys.exit("no kernel process was seen; is ipykernel installed in this environment?")
    print(f"notebook: {NOTEBOOK.relative_to(PROJECT_ROOT)}")
    print(f"fast: {args.fast}")
    print(f"notebook_seconds: {seconds:.1f}")
    print(f"training_lab_peak_rss_mb: {max(peaks.values()) / 2**20:.0f}")


if __name__ == "__main__":
    main()
