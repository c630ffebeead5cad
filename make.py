#!/usr/bin/env python3
"""RadLab's two set-up commands, in plain Python (no make, no conda needed).

    python3 make.py lab     create/update .venv, then open JupyterLab on index.ipynb
    python3 make.py test    create/update .venv, then run the whole test suite

Both create the project's own virtual environment in ``.venv`` (or update it when
``pyproject.toml`` changed) before doing anything else. Extra arguments after
``test`` go to pytest, e.g. ``python3 make.py test -k splits``.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".radlab-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _requirements_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _pip(*args: str) -> None:
    """Run pip in the venv; drop the noise of unreachable local index warnings."""
    cmd = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "is ignored: it is neither a file nor a directory" in line:
            continue
        sys.stdout.write(line)
    if proc.wait() != 0:
        sys.exit(f"make.py: pip {' '.join(args)} failed (exit {proc.returncode}). "
                 "Fix the error above, then run the same command again; .venv is reused.")


def ensure_venv() -> None:
    """Create .venv and install radlab (editable) with its test extras, once per pyproject change."""
    if not PYTHON.exists():
        print(f"make.py: creating the virtual environment {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    wanted = _requirements_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    t0 = time.perf_counter()
    print("make.py: installing radlab and its dependencies into .venv (first time: a few minutes) ...",
          flush=True)
    _pip("install", "-q", "--upgrade", "pip")
    _pip("install", "-q", "-e", f"{ROOT}[test]")
    STAMP.write_text(wanted + "\n")
    print(f"make.py: environment ready in {time.perf_counter() - t0:.0f} s", flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def cmd_lab(argv: list[str]) -> int:
    ensure_venv()
    args = [str(BIN / "jupyter"), "lab", "index.ipynb", *argv]
    print("make.py: starting JupyterLab on index.ipynb (Ctrl-C to stop) ...", flush=True)
    return subprocess.call(args, cwd=ROOT, env=_env())


def cmd_test(argv: list[str]) -> int:
    ensure_venv()
    args = [str(PYTHON), "-m", "pytest", "-rs", "-q", *argv]
    return subprocess.call(args, cwd=ROOT, env=_env())


def main() -> int:
    commands = {"lab": cmd_lab, "test": cmd_test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
