"""The ``radlab`` command line, run for real (subprocess) where a student would run it."""
from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import types
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import pytest

from radlab import cli
from radlab.data.catalog import md5sum
from conftest import require_shared_file
from radlab.paths import PROJECT_ROOT
from test_catalog import make_toy_catalog, write_npz

OFFICIAL_MD5 = "28209eda62fecd6e6a2d98b1501bb15f"


def radlab(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """Run the installed ``radlab`` command (or ``python -m radlab.cli``) with its own data cache."""
    script = Path(sys.executable).with_name("radlab")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "radlab.cli"]
    env = {**os.environ, "RADLAB_DATA": str(cache)}
    env.pop("RADLAB_CARDS", None)
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=120)


def test_fetch_refuses_the_shared_copy_then_imports_it_as_unofficial(tmp_path):
    shared = require_shared_file("pneumoniamnist.npz")
    refused = radlab("fetch", "pneumoniamnist", "--from", str(shared), cache=tmp_path)
    assert refused.returncode != 0
    assert OFFICIAL_MD5 in refused.stderr and md5sum(shared) in refused.stderr
    assert "--unofficial" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "pneumoniamnist.npz").exists()

    accepted = radlab("fetch", "pneumoniamnist", "--from", str(shared), "--unofficial", cache=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert str(tmp_path / "pneumoniamnist.npz") in accepted.stdout
    assert OFFICIAL_MD5 in accepted.stdout and md5sum(shared) in accepted.stdout
    assert "UNOFFICIAL" in accepted.stdout

    listing = radlab("datasets", cache=tmp_path)
    assert listing.returncode == 0
    rows = {line.split()[0]: line for line in listing.stdout.splitlines() if line.strip()}
    assert "cached (UNOFFICIAL copy)" in rows["pneumoniamnist"]
    assert "not in cache: radlab fetch chestmnist" in rows["chestmnist"]
    assert "generated on demand" in rows["chest-phantoms"]


def test_an_error_prints_one_clean_message_and_a_nonzero_exit(tmp_path):
    result = radlab("fetch", "pneumonia", cache=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("radlab: error: unknown dataset 'pneumonia'")
    assert "Fix: use one of:" in result.stderr and "pneumoniamnist" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def _runtime_dependencies() -> list[str]:
    """radlab's runtime dependencies, read from pyproject.toml here (not through radlab.cli)."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r).name for r in project["dependencies"]], \
        [Requirement(r).name for r in project["optional-dependencies"]["test"]]


def test_check_reports_every_runtime_dependency_device_and_cache_and_no_test_tools(tmp_path):
    result = radlab("check", cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    runtime, test_tools = _runtime_dependencies()
    for item in ("python", *runtime, "device", "lab extensions", "data cache"):
        assert f"  {item} " in result.stdout, item
    for item in ("chromium", *test_tools):  # a student is not told about the developer's tools
        assert f"  {item} " not in result.stdout, item
    assert str(tmp_path) in result.stdout and "Essentials OK" in result.stdout


def test_check_dev_adds_the_test_tools_and_chromium(tmp_path):
    result = radlab("check", "--dev", cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    runtime, test_tools = _runtime_dependencies()
    for item in (*runtime, *test_tools, "chromium"):
        assert f"  {item} " in result.stdout, item


def test_outside_a_checkout_check_reads_radlabs_installed_metadata(monkeypatch, tmp_path):
    from importlib.metadata import requires

    import radlab.paths
    from packaging.requirements import Requirement

    monkeypatch.setattr(radlab.paths, "PROJECT_ROOT", tmp_path)  # no pyproject.toml here
    installed = [Requirement(line) for line in requires("radlab")]
    assert [str(r) for r in cli.declared_requirements()] == [str(r) for r in installed if r.marker is None]
    assert {r.name for r in cli.declared_requirements("test")} == \
        {r.name for r in installed if r.marker is not None and r.marker.evaluate({"extra": "test"})}


def test_version_names_radlab_its_python_and_where_it_lives(tmp_path):
    from importlib.metadata import version as installed_version

    result = radlab("--version", cache=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    line = result.stdout.strip()
    assert line.startswith(f"radlab {installed_version('radlab')} (Python {sys.version.split()[0]}")
    assert str(PROJECT_ROOT / "radlab") in line


def _quiet_check(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RADLAB_DATA", str(tmp_path))
    monkeypatch.setattr(cli, "_device_check", lambda: cli.Check("device", "cpu", True, True))


def test_check_names_a_missing_essential_and_how_to_fix_it(monkeypatch, capsys, tmp_path):
    real_version = cli.version

    def version_without_plotly(dist: str) -> str:
        if dist == "plotly":
            raise PackageNotFoundError(dist)
        return real_version(dist)

    _quiet_check(monkeypatch, tmp_path)
    monkeypatch.setattr(cli, "version", version_without_plotly)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "plotly" in out and "MISSING" in out and 'pip install "plotly>=6.0"' in out
    assert "python3 make.py lab" in out and "1 essential item(s) missing" in out


def test_check_flags_a_version_outside_radlabs_range(monkeypatch, capsys, tmp_path):
    real_version = cli.version
    _quiet_check(monkeypatch, tmp_path)
    monkeypatch.setattr(cli, "version", lambda dist: "5.0.0" if dist == "plotly" else real_version(dist))
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "5.0.0, outside the range >=6.0" in out and "1 essential item(s) missing" in out


def test_check_without_the_widget_extensions_says_why_a_lab_never_renders(monkeypatch, capsys, tmp_path):
    import jupyter_core.paths

    _quiet_check(monkeypatch, tmp_path)
    monkeypatch.setattr(jupyter_core.paths, "jupyter_path", lambda *parts: [str(tmp_path / "empty")])
    assert cli.main(["check"]) == 0  # the labs still run (e.g. in Voila); JupyterLab shows no controls
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("lab extensions"))
    assert line.split()[2:5] == ["note", "missing", "@jupyter-widgets/jupyterlab-manager,"]
    assert "a lab that never renders" in out


def test_check_on_a_machine_without_a_gpu_says_the_cpu_is_used_and_passes(monkeypatch, capsys, tmp_path):
    import torch

    monkeypatch.setenv("RADLAB_DATA", str(tmp_path))
    monkeypatch.delenv("RADLAB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert cli.main(["check"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("device"))
    assert line.split()[:3] == ["device", "ok", "cpu"]


def test_fetch_of_an_official_file_says_it_matches(tmp_path, monkeypatch, capsys):
    source = write_npz(tmp_path / "toymnist.npz")
    cache = make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(source))
    assert cli.main(["fetch", "toymnist", "--from", str(source)]) == 0
    out = capsys.readouterr().out
    assert f"imported {cache / 'toymnist.npz'}" in out and "official release (checksum matches)" in out
    assert cli.main(["datasets"]) == 0
    assert "cached (official)" in capsys.readouterr().out


def test_serve_hands_all_its_arguments_to_radlab_serve(monkeypatch):
    received = []
    fake = types.ModuleType("radlab.serve")
    fake.main = lambda argv: received.append(argv) or 0
    monkeypatch.setitem(sys.modules, "radlab.serve", fake)
    assert cli.main(["serve", "labs", "--port", "8867", "--help"]) == 0
    assert received == [["labs", "--port", "8867", "--help"]]


def test_unknown_commands_are_refused_by_argparse():
    with pytest.raises(SystemExit) as exit_:
        cli.main(["download"])
    assert exit_.value.code == 2


# --- radlab fetch: interrupted downloads, proxies, offline -------------------------------------

def _served(tmp_path: Path) -> tuple[Path, bytes]:
    (tmp_path / "served").mkdir()
    source = write_npz(tmp_path / "served" / "toymnist.npz")
    return source, source.read_bytes()


def _write_half_then(exc: BaseException):
    """A downloader that writes half of the file where it was told to, then fails like ``exc``."""
    def retrieve(url, known_hash=None, fname=None, path=None, progressbar=False):
        data = Path(retrieve.source).read_bytes()
        Path(path, fname).write_bytes(data[: len(data) // 2])
        raise exc
    return retrieve


@pytest.mark.parametrize("failure, status", [(KeyboardInterrupt(), 130),
                                             (ConnectionResetError("Connection reset by peer"), 1)])
def test_an_interrupted_download_leaves_no_file_to_be_taken_as_good(tmp_path, monkeypatch, capsys, failure, status):
    import pooch

    source, _ = _served(tmp_path)
    cache = make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(source))
    fake = _write_half_then(failure)
    fake.source = source
    monkeypatch.setattr(pooch, "retrieve", fake)
    assert cli.main(["fetch", "toymnist"]) == status
    assert sorted(p.name for p in cache.iterdir()) == []  # no dataset, no half file, no provenance
    assert cli.main(["datasets"]) == 0
    assert "not in cache: radlab fetch toymnist" in capsys.readouterr().out


def test_a_downloader_that_hands_over_wrong_bytes_is_refused(tmp_path, monkeypatch, capsys):
    """Even a transfer that reports success cannot put a file with the wrong MD5 in the cache."""
    import pooch

    source, data = _served(tmp_path)
    cache = make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(source))
    monkeypatch.setattr(pooch, "retrieve", lambda url, known_hash=None, fname=None, path=None, progressbar=False:
                        Path(path, fname).write_bytes(data[:-10] + b"0123456789"))
    assert cli.main(["fetch", "toymnist"]) == 1
    err = capsys.readouterr().err
    assert "could not download toymnist" in err and md5sum(source) in err and "Traceback" not in err
    assert list(cache.iterdir()) == []


CHILD_KILLED_MID_DOWNLOAD = """
import os, signal, sys
from pathlib import Path
import pooch
from radlab import cli

def retrieve(url, known_hash=None, fname=None, path=None, progressbar=False):
    data = Path(sys.argv[1]).read_bytes()
    with open(Path(path, fname), "wb") as f:
        f.write(data[: len(data) // 2])
        f.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # the power cut: no except, no finally runs

pooch.retrieve = retrieve
cli.main(["fetch", "toymnist"])
"""


def test_a_download_killed_with_sigkill_is_not_taken_as_good_and_is_cleaned_up_later(tmp_path, monkeypatch, capsys):
    import pooch

    source, data = _served(tmp_path)
    cache = make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(source))
    child = subprocess.run([sys.executable, "-c", CHILD_KILLED_MID_DOWNLOAD, str(source)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    leftovers = list(cache.iterdir())
    assert [p.name for p in leftovers] == [f".toymnist.npz.{p.name.split('.')[3]}.part" for p in leftovers]
    assert not (cache / "toymnist.npz").exists()
    assert cli.main(["datasets"]) == 0
    assert "not in cache: radlab fetch toymnist" in capsys.readouterr().out

    def good(url, known_hash=None, fname=None, path=None, progressbar=False):
        Path(path, fname).write_bytes(data)
    monkeypatch.setattr(pooch, "retrieve", good)
    assert cli.main(["fetch", "toymnist"]) == 0  # the next fetch works, and clears the dead one's part
    assert "official release (checksum matches)" in capsys.readouterr().out
    assert sorted(p.name for p in cache.iterdir()) == ["toymnist.npz", "toymnist.npz.provenance.json"]


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward HTTP proxy for one file: answers any absolute URL with ``served`` and records it."""

    served = b""
    seen: list[str] = []

    def do_GET(self) -> None:  # http.server's name for the GET handler
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.served)))
        self.end_headers()
        self.wfile.write(self.served)

    def log_message(self, *args) -> None:
        pass


def test_fetch_goes_through_the_proxy_named_in_the_environment(tmp_path, monkeypatch, capsys):
    source, data = _served(tmp_path)
    url = "http://radlab-proxy-test.invalid/toymnist.npz"  # resolvable only by the proxy
    make_toy_catalog(tmp_path, monkeypatch, md5=md5sum(source), url=url)
    handler = type("Proxy", (_Proxy,), {"served": data, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{server.server_address[1]}")
        assert cli.main(["fetch", "toymnist"]) == 0, capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
    assert handler.seen == ["http://radlab-proxy-test.invalid/toymnist.npz"]
    assert "official release (checksum matches)" in capsys.readouterr().out


def test_fetch_offline_says_where_to_put_the_file_or_how_to_import_a_copy(tmp_path):
    """The real card and the real downloader, with the network unreachable (a proxy nobody answers)."""
    env_cache = tmp_path / "cache"
    script = Path(sys.executable).with_name("radlab")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "radlab.cli"]
    env = {**os.environ, "RADLAB_DATA": str(env_cache), "HTTPS_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9"}
    for name in ("NO_PROXY", "no_proxy", "RADLAB_CARDS"):
        env.pop(name, None)
    result = subprocess.run([*command, "fetch", "pneumoniamnist"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "radlab: error:" in result.stderr and "could not download pneumoniamnist" in result.stderr
    assert "ProxyError" in result.stderr  # HTTPS_PROXY was honoured for the https download
    assert f"place it at {env_cache / 'pneumoniamnist.npz'}" in result.stderr
    assert "radlab fetch pneumoniamnist --from FILE" in result.stderr
    assert not (env_cache / "pneumoniamnist.npz").exists()
    assert not list(env_cache.glob(".*.part"))
