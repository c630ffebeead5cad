"""make.py, the README's set-up commands: student vs developer environments, root, the lock.

Most tests run a copy of make.py in a temporary project whose ``.venv`` holds a fake ``jupyter``
(or with ``_pip`` replaced), so nothing is installed and no JupyterLab is left running. One
slow test starts the real JupyterLab through the README command and stops it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from radlab.paths import PROJECT_ROOT

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _project_copy(tmp_path: Path) -> Path:
    """A project folder with make.py, pyproject.toml, the lock and index.ipynb (no .venv yet)."""
    root = tmp_path / "radlab"
    (root / "binder").mkdir(parents=True)
    for name in ("make.py", "pyproject.toml", "index.ipynb", "binder/requirements.lock"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    return root


def _load_make(root: Path):
    """Import the copy's make.py as a module (its ROOT, VENV and STAMP are in ``root``)."""
    spec = importlib.util.spec_from_file_location(f"make_under_test_{abs(hash(root))}", root / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_venv(root: Path, jupyter: str, *, extras=("test",)) -> Path:
    """A .venv whose python is this interpreter and whose jupyter is a script; stamped up to date."""
    make = _load_make(root)
    make.BIN.mkdir(parents=True)
    make.PYTHON.symlink_to(sys.executable)
    script = make.BIN / "jupyter"
    script.write_text(jupyter)
    script.chmod(0o755)
    make.STAMP.write_text(json.dumps({"pyproject": make._sha256(root / "pyproject.toml"),
                                      "extras": list(extras), "lock": None}))
    return script


RECORDING_JUPYTER = """#!/bin/sh
# A stand-in for JupyterLab: record the arguments, refuse root without --allow-root like Jupyter does.
printf '%s\\n' "$@" > "$(dirname "$0")/jupyter-args.txt"
if [ "$(id -u)" = 0 ]; then
  case " $* " in *" --allow-root "*) ;; *) echo "Running as root is not recommended. Use --allow-root to bypass." >&2; exit 1;; esac
fi
exit 0
"""


# --- the README's first command, as written --------------------------------------------------

def test_the_readme_lab_command_runs_jupyterlab_on_the_index_and_works_as_root(tmp_path):
    root = _project_copy(tmp_path)
    script = _fake_venv(root, RECORDING_JUPYTER, extras=())
    result = subprocess.run(["python3", "make.py", "lab"], cwd=root, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    args = (script.parent / "jupyter-args.txt").read_text().split()
    assert args[:2] == ["lab", "index.ipynb"]
    if IS_ROOT:  # the machines that run CI are root: the case the issue found broken
        assert "--allow-root" in args
        assert "warning: running as root" in result.stdout and "--allow-root" in result.stdout
    else:
        assert "--allow-root" not in args and "running as root" not in result.stdout


def test_as_root_allow_root_is_added_once_with_a_warning_and_never_for_others(tmp_path, monkeypatch, capsys):
    make = _load_make(_project_copy(tmp_path))
    monkeypatch.setattr(make.os, "geteuid", lambda: 0, raising=False)
    assert make.lab_command(["--no-browser"])[-2:] == ["--no-browser", "--allow-root"]
    assert "running as root" in capsys.readouterr().out
    assert make.lab_command(["--allow-root"]).count("--allow-root") == 1
    monkeypatch.setattr(make.os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-root" not in make.lab_command([])
    assert "running as root" not in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_readme_lab_command_starts_the_real_jupyterlab(tmp_path):
    """`python3 make.py lab` with the project's real JupyterLab: it serves (as root too), then stops."""
    real_jupyter = PROJECT_ROOT / ".venv" / "bin" / "jupyter"
    if not real_jupyter.exists():
        pytest.skip("no .venv/bin/jupyter: run python3 make.py lab once")
    root = _project_copy(tmp_path)
    _fake_venv(root, f'#!/bin/sh\nexec "{real_jupyter}" "$@"\n', extras=())
    port = _free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.Popen(["python3", "make.py", "lab", "--no-browser", f"--port={port}",
                             "--ServerApp.token=radlab-test", "--ServerApp.port_retries=0"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=radlab-test", timeout=2) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, f"JupyterLab exited {proc.returncode}:\n{proc.stdout.read()}"
        assert status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- student vs developer environments ------------------------------------------------------

@pytest.fixture()
def make_in_tmp(tmp_path, monkeypatch):
    """make.py of a temporary project with pip replaced by a recorder (and a fake venv python)."""
    root = _project_copy(tmp_path)
    make = _load_make(root)
    make.BIN.mkdir(parents=True)
    make.PYTHON.symlink_to(sys.executable)
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(make, "_pip", lambda *args: calls.append(args))
    make.calls = calls
    return make


def _installs(make) -> list[tuple[str, ...]]:
    """The pip install calls that install radlab (not pip itself)."""
    return [c for c in make.calls if any(str(make.ROOT) in a for a in c)]


def test_lab_installs_the_student_environment_and_test_adds_the_extras(make_in_tmp):
    make = make_in_tmp
    make.ensure_venv(())
    assert _installs(make)[-1][-2:] == ("-e", str(make.ROOT))          # no [test]: no playwright etc.
    assert json.loads(make.STAMP.read_text())["extras"] == []
    make.ensure_venv(("test",))                                        # lab env, then the tests
    assert _installs(make)[-1][-2:] == ("-e", f"{make.ROOT}[test]")
    assert json.loads(make.STAMP.read_text())["extras"] == ["test"]
    count = len(make.calls)
    make.ensure_venv(())                                               # a test env serves the lab
    make.ensure_venv(("test",))
    assert len(make.calls) == count


def test_a_changed_pyproject_reinstalls_and_forgets_the_extras_it_did_not_install(make_in_tmp):
    make = make_in_tmp
    make.ensure_venv(("test",))
    pyproject = make.ROOT / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a change\n")
    make.ensure_venv(())
    assert _installs(make)[-1][-2:] == ("-e", str(make.ROOT))
    assert json.loads(make.STAMP.read_text())["extras"] == []
    make.ensure_venv(("test",))
    assert _installs(make)[-1][-2:] == ("-e", f"{make.ROOT}[test]")


def test_the_first_make_py_stamp_reads_as_a_test_environment(make_in_tmp):
    make = make_in_tmp
    make.STAMP.write_text(make._sha256(make.ROOT / "pyproject.toml") + "\n")  # what the old make.py wrote
    make.ensure_venv(("test",))
    make.ensure_venv(())
    assert make.calls == []


def test_locked_installs_with_the_lock_as_constraints_and_again_when_it_changes(make_in_tmp):
    make = make_in_tmp
    make.ensure_venv((), locked=True)
    assert _installs(make)[-1][-4:] == ("-c", str(make.LOCK), "-e", str(make.ROOT))
    count = len(make.calls)
    make.ensure_venv((), locked=True)
    make.ensure_venv(())                       # unlocked accepts the locked environment
    assert len(make.calls) == count
    make.LOCK.write_text(make.LOCK.read_text() + "# refreshed\n")
    make.ensure_venv((), locked=True)
    assert len(make.calls) > count


def test_options_reach_make_py_and_the_rest_reach_pytest_or_jupyter(make_in_tmp, monkeypatch):
    make = make_in_tmp
    seen = {}
    monkeypatch.setitem(make.COMMANDS, "test", lambda argv, locked=False: seen.update(argv=argv, locked=locked) or 0)
    assert make.main(["test", "--locked", "-k", "splits"]) == 0
    assert seen == {"argv": ["-k", "splits"], "locked": True}
    assert make.main(["nonsense"]) == 2


def test_a_failed_pip_says_to_rerun_and_where_offline_or_proxy_help_is(tmp_path, monkeypatch):
    make = _load_make(_project_copy(tmp_path))
    make.BIN.mkdir(parents=True)
    make.PYTHON.write_text("#!/bin/sh\necho 'ERROR: Could not find a version that satisfies the requirement numpy'\nexit 1\n")
    make.PYTHON.chmod(0o755)
    with pytest.raises(SystemExit) as stop:
        make.ensure_venv(())
    message = str(stop.value.code)
    assert "failed" in message and "run the same command again" in message
    assert "Offline, behind a proxy" in message and "Troubleshooting" in message
    assert not make.STAMP.exists()  # nothing recorded as installed


# --- the lock and CI ---------------------------------------------------------------------------

def test_the_lock_command_is_uv_for_every_platform_with_the_test_extras(tmp_path):
    make = _load_make(_project_copy(tmp_path))
    command = make.lock_command()
    assert Path(command[0]).name == "uv" and command[1:4] == ["pip", "compile", "pyproject.toml"]
    for option in ("--universal", "--extra"):
        assert option in command
    assert command[command.index("--python-version") + 1] == make.LOCK_PYTHON
    assert command[command.index("-o") + 1] == "binder/requirements.lock"
    assert "--upgrade" not in command and "--upgrade" in make.lock_command(upgrade=True)
    header = (PROJECT_ROOT / "binder" / "requirements.lock").read_text().splitlines()[:2]
    assert "autogenerated by uv" in header[0] and header[1].strip() == "#    python3 make.py lock"


def test_the_lock_is_resolved_for_the_hub_images_python():
    import yaml

    make = _load_make(PROJECT_ROOT)
    env = yaml.safe_load((PROJECT_ROOT / "binder" / "environment.yml").read_text())
    assert f"python={make.LOCK_PYTHON}" in env["dependencies"]


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line.strip() for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == "python3 make.py test"
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "python3 make.py test     #" in readme or "\npython3 make.py test\n" in readme
