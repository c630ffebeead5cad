"""What one student's lab kernel costs: a real ipykernel runs a lab's code cells (FAST), then a control moves.

The kernel is started with jupyter_client, as a Jupyter server starts it, in the lab's folder and with
the hub's environment (``STUDENT_ENV`` of binder/jupyterhub_config.py: ``OMP_NUM_THREADS=1``, glibc's
malloc thresholds ...). Its code cells run top to bottom with
``FAST = True`` after the parameters cell (what papermill injects); then a control of the lab's widget
moves (``CONTROLS``) and the code checks the figure it drives changed. Measured: seconds to the
first figure (a plotly figure or a widget holding one, from the first cell's start), the kernel's
USS and PSS (psutil ``memory_full_info``: pages only it holds / its share of shared pages), its peak
RSS (``VmHWM``), its CPU seconds, and whether torch was imported.

With ``--baseline`` the same runs on the baseline commit (benchmarks/baseline.py), side by side:

    .venv/bin/python benchmarks/kernel_memory.py [--lab 01 --lab 03] [--baseline]

benchmarks/class_sim.py uses ``lab_cells``, ``CONTROLS`` and ``is_figure`` for its students.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import queue
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from lab_memory import high_water_mark_bytes

ROOT = Path(__file__).resolve().parent.parent
LABS = {"01": "labs/01_data_collection.ipynb", "03": "labs/03_training.ipynb"}
#: per lab: code that moves one control of the lab's widget ``lab`` and prints whether its figure changed
CONTROLS = {
    "01": ("_before = lab.figure.to_json()\n"
           "lab.level_slider.value = min(lab.level_slider.max, lab.level_slider.value + lab.width_slider.value / 4)\n"
           "print('control_changed_figure', lab.figure.to_json() != _before)"),
    "03": ("_before = lab.preview_figure.to_json()\n"
           "lab.augment_select.value = tuple(lab.augment_select.options[:2])\n"
           "print('control_changed_figure', lab.preview_figure.to_json() != _before)"),
}
HUB_CONFIG = ROOT / "binder" / "jupyterhub_config.py"


def kernel_env(config: Path = HUB_CONFIG) -> dict[str, str]:
    """What the hub puts in every student's environment: ``STUDENT_ENV`` of binder/jupyterhub_config.py.

    Read from the file's syntax tree (a literal dict), not executed: the config needs JupyterHub's ``c``.
    """
    for node in ast.parse(config.read_text()).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "STUDENT_ENV" for t in targets):
                return {str(k): str(v) for k, v in ast.literal_eval(node.value).items()}
    raise LookupError(f"{config}: no STUDENT_ENV = {{...}} literal")


#: what the hub puts in every student's environment (threads, malloc)
HUB_ENV = kernel_env()
FIGURE_MIMES = ("application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json")


def lab_cells(notebook: Path) -> list[str]:
    """The notebook's code cells, with ``FAST = True`` right after the parameters cell (as papermill)."""
    cells = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cells.append(source)
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cells.append("FAST = True")
    return cells


def is_figure(msg: dict) -> bool:
    """An iopub message that shows a figure: a plotly figure, or a widget (the labs' figures are widgets)."""
    return msg.get("msg_type") in ("display_data", "execute_result") and \
        any(m in msg["content"].get("data", {}) for m in FIGURE_MIMES)


def memory_mb(procs: list[psutil.Process]) -> dict[str, float]:
    """USS, PSS, RSS (MB, summed) and CPU seconds of ``procs``."""
    out = {"uss": 0.0, "pss": 0.0, "rss": 0.0, "cpu_s": 0.0}
    for proc in procs:
        try:
            info, cpu = proc.memory_full_info(), proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out["uss"] += info.uss / 1e6
        out["pss"] += getattr(info, "pss", 0) / 1e6
        out["rss"] += info.rss / 1e6
        out["cpu_s"] += cpu.user + cpu.system
    return out


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), MB."""
    return high_water_mark_bytes(psutil.Process(pid)) / 1e6


@dataclass
class KernelRun:
    lab: str
    first_figure_s: float
    total_s: float
    control_ok: bool
    uss_mb: float
    pss_mb: float
    peak_rss_mb: float
    cpu_s: float
    torch: bool


def run_lab(lab: str, tree: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 600,
            per_cell: bool = False) -> KernelRun:
    """Start a kernel in ``tree``'s labs folder with ``env``, run the lab and its control, measure the kernel."""
    from jupyter_client.manager import KernelManager

    notebook = tree / LABS[lab]
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(notebook.parent), env={**(env or os.environ), **HUB_ENV})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        pid = km.provisioner.process.pid
        start, first, out = time.monotonic(), None, []
        for code in [*lab_cells(notebook), CONTROLS[lab], "import sys; print('torch_loaded', 'torch' in sys.modules)"]:
            msg_id = kc.execute(code, stop_on_error=True)
            while True:
                msg = kc.get_iopub_msg(timeout=timeout)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if first is None and is_figure(msg):
                    first = time.monotonic() - start
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    raise RuntimeError(f"{notebook.name}: {msg['content']['ename']}: {msg['content']['evalue']}\n"
                                       f"in cell:\n{code}")
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            if per_cell:  # where the kernel's bytes come from
                uss = psutil.Process(pid).memory_full_info().uss / 1e6
                print(f"# {lab} uss {uss:5.0f} MB after: {code.strip().splitlines()[0][:70]}", file=sys.stderr)
        total = time.monotonic() - start
        text = "".join(out)
        proc = psutil.Process(pid)
        mem = memory_mb([proc, *proc.children(recursive=True)])
        return KernelRun(lab, first if first is not None else float("nan"), total,
                         "control_changed_figure True" in text, mem["uss"], mem["pss"], peak_rss_mb(pid), mem["cpu_s"],
                         "torch_loaded True" in text)
    except queue.Empty as err:
        raise TimeoutError(f"{notebook.name}: no kernel message for {timeout} s") from err
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="append", choices=sorted(LABS), help="lab number (default: all)")
    parser.add_argument("--baseline", action="store_true", help="also run on the baseline commit, side by side")
    parser.add_argument("--per-cell", action="store_true", help="print the kernel's USS after each cell (stderr)")
    args = parser.parse_args()
    trees = {"now": (ROOT, None)}
    if args.baseline:
        from baseline import BASELINE_REF, baseline_env, baseline_tree
        old = baseline_tree()
        trees = {f"before_{BASELINE_REF}": (old, baseline_env(old)), **trees}
    for lab in args.lab or sorted(LABS):
        runs = {}
        for label, (tree, env) in trees.items():
            runs[label] = r = run_lab(lab, tree, env, per_cell=args.per_cell)
            for key in ("first_figure_s", "total_s", "uss_mb", "pss_mb", "peak_rss_mb", "cpu_s"):
                print(f"lab{lab}_{label}_{key}: {getattr(r, key):.1f}" if key.endswith("_s")
                      else f"lab{lab}_{label}_{key}: {getattr(r, key):.0f}")
            print(f"lab{lab}_{label}_torch_imported: {r.torch}")
            print(f"lab{lab}_{label}_control_changed_figure: {r.control_ok}")
        if len(runs) == 2:
            before, now = runs.values()
            for key in ("uss_mb", "pss_mb"):
                print(f"lab{lab}_{key}_before_to_now: {getattr(before, key):.0f} -> {getattr(now, key):.0f} "
                      f"(x{getattr(now, key) / getattr(before, key):.2f})")
    print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    sys.exit(main())
