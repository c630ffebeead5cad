"""The ``radlab`` command line, run for real (subprocess) where a student would run it."""
from __future__ import annotations

import os
import subprocess
import sys
import types
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import pytest

from radlab import cli
from radlab.data.catalog import md5sum
from conftest import require_shared_file
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


def test_check_reports_versions_device_and_the_cache_and_exits_zero(tmp_path):
    result = radlab("check", cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for item in ("python", "torch", "torchvision", "plotly", "ipywidgets", "voila", "pydicom",
                 "pydicom-data", "device", "data cache", "chromium"):
        assert f"  {item} " in result.stdout, item
    assert str(tmp_path) in result.stdout and "Essentials OK" in result.stdout


def test_check_names_a_missing_essential_and_how_to_fix_it(monkeypatch, capsys, tmp_path):
    def version_without_plotly(dist: str) -> str:
        if dist == "plotly":
            raise PackageNotFoundError(dist)
        return "1.0"

    monkeypatch.setenv("RADLAB_DATA", str(tmp_path))
    monkeypatch.setattr(cli, "version", version_without_plotly)
    monkeypatch.setattr(cli, "_device_check", lambda: cli.Check("device", "cpu", True, True))
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "plotly" in out and "MISSING" in out and "pip install plotly" in out
    assert "1 essential item(s) missing" in out


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
