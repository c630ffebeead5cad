#!/usr/bin/env python3
"""RadLab's set-up commands, in plain Python (no make, no conda needed).

    python3 make.py lab     create/update .venv with what a student needs, then open JupyterLab
    python3 make.py test    the same plus the test tools (pytest, playwright, ...), then run the tests
    python3 make.py lock    refresh binder/requirements.lock (the versions a class gets) with uv

Options (before or after the command's own arguments):
    --locked     install the exact versions of binder/requirements.lock (what the hub image gets)
    --upgrade    with `lock`: move every pin to the newest release the ranges allow

`lab` and `test` create the project's own virtual environment in ``.venv`` (or update it when
``pyproject.toml`` changed) before doing anything else. Other arguments go to JupyterLab or
pytest, e.g. ``python3 make.py test -k splits`` or ``python3 make.py lab --no-browser``.
"""
from __future__ import annotations

import hashlib
import json
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
LOCK = ROOT / "binder" / "requirements.lock"
LOCK_PYTHON = "3.11"  # the lock is resolved for the hub image's Python (binder/environment.yml)
HELP_LINK = "README.md, section Troubleshooting"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_stamp() -> dict | None:
    """What .venv holds: the pyproject.toml hash, the extras installed, the lock used (or None)."""
    try:
        text = STAMP.read_text().strip()
    except OSError:
        return None
    try:
        stamp = json.loads(text)
    except ValueError:  # the first make.py wrote a bare hash, always with the test extras
        return {"pyproject": text, "extras": ["test"], "lock": None}
    return stamp if isinstance(stamp, dict) else None


def is_up_to_date(stamp: dict | None, extras: tuple[str, ...], locked: bool) -> bool:
    """True when .venv already has this pyproject, these extras and (if asked) this lock."""
    if not stamp or stamp.get("pyproject") != _sha256(ROOT / "pyproject.toml"):
        return False
    if not set(extras) <= set(stamp.get("extras") or []):
        return False  # e.g. a student environment that now has to run the tests
    return not locked or stamp.get("lock") == _sha256(LOCK)


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
                 "Fix the error above, then run the same command again; .venv is reused. "
                 f"Offline, behind a proxy or out of disk space? See {HELP_LINK}.")


def ensure_venv(extras: tuple[str, ...] = (), *, locked: bool = False) -> None:
    """Create .venv and install radlab (editable) with ``extras``, once per pyproject/extras/lock change."""
    if not PYTHON.exists():
        print(f"make.py: creating the virtual environment {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    stamp = read_stamp()
    if is_up_to_date(stamp, extras, locked):
        return
    if locked and not LOCK.is_file():
        sys.exit(f"make.py: --locked needs {LOCK.relative_to(ROOT)}; create it with: python3 make.py lock")
    if locked and f"{sys.version_info.major}.{sys.version_info.minor}" != LOCK_PYTHON:
        print(f"make.py: note: the lock was resolved for Python {LOCK_PYTHON}; this is Python "
              f"{sys.version_info.major}.{sys.version_info.minor}, so a pinned version may have no "
              "release for it (then run without --locked).", flush=True)
    t0 = time.perf_counter()
    what = "radlab, its test tools and their dependencies" if extras else "radlab and its dependencies"
    print(f"make.py: installing {what} into .venv (first time: a few minutes) ...", flush=True)
    _pip("install", "-q", "--upgrade", "pip")
    target = f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT)
    _pip("install", "-q", *(["-c", str(LOCK)] if locked else []), "-e", target)
    # Extras still valid for this pyproject stay recorded: `test` then `lab` reinstalls nothing.
    pyproject = _sha256(ROOT / "pyproject.toml")
    kept = set(stamp.get("extras") or []) if stamp and stamp.get("pyproject") == pyproject else set()
    record = {"pyproject": pyproject, "extras": sorted(kept | set(extras)),
              "lock": _sha256(LOCK) if locked else None}
    STAMP.write_text(json.dumps(record) + "\n")
    print(f"make.py: environment ready in {time.perf_counter() - t0:.0f} s", flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(argv: list[str]) -> list[str]:
    """The JupyterLab command line; as root (most containers) it adds --allow-root, which Jupyter needs."""
    args = [str(BIN / "jupyter"), "lab", "index.ipynb", *argv]
    if _is_root() and "--allow-root" not in argv:
        print("make.py: warning: running as root (as in most containers), so JupyterLab is started "
              "with --allow-root. On a shared computer, run make.py as an ordinary user instead.",
              flush=True)
        args.append("--allow-root")
    return args


def cmd_lab(argv: list[str], locked: bool = False) -> int:
    ensure_venv((), locked=locked)
    args = lab_command(argv)
    print("make.py: starting JupyterLab on index.ipynb (Ctrl-C to stop) ...", flush=True)
    return subprocess.call(args, cwd=ROOT, env=_env())


def cmd_test(argv: list[str], locked: bool = False) -> int:
    ensure_venv(("test",), locked=locked)
    # The slowest tests are listed at the end, so a CI log shows where the suite's time goes.
    durations = [] if any(a.startswith("--durations") for a in argv) else ["--durations=25"]
    args = [str(PYTHON), "-m", "pytest", "-rs", "-q", *durations, *argv]
    return subprocess.call(args, cwd=ROOT, env=_env())


def lock_command(upgrade: bool = False) -> list[str]:
    """uv's command that writes binder/requirements.lock from pyproject.toml (runtime + test extras).

    One lock for every platform (``--universal``) and the hub image's Python. The lock already
    there is uv's preference: pins stay unless a range excludes them or ``upgrade`` is given.
    """
    return [str(BIN / "uv"), "pip", "compile", "pyproject.toml", "--extra", "test", "--universal",
            "--python-version", LOCK_PYTHON, "--custom-compile-command", "python3 make.py lock",
            "-o", str(LOCK.relative_to(ROOT)), *(["--upgrade"] if upgrade else [])]


def cmd_lock(argv: list[str], locked: bool = False) -> int:
    ensure_venv()
    if not (BIN / "uv").exists():
        _pip("install", "-q", "uv")  # a maintainer's tool: not a dependency of radlab
    upgrade = "--upgrade" in argv
    return subprocess.call(lock_command(upgrade), cwd=ROOT, env=_env())


COMMANDS = {"lab": cmd_lab, "test": cmd_test, "lock": cmd_lock}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    rest = [a for a in argv[1:] if a != "--locked"]
    return COMMANDS[argv[0]](rest, locked="--locked" in argv[1:])


if __name__ == "__main__":
    sys.exit(main())
