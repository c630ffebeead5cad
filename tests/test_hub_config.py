"""binder/jupyterhub_config.py, loaded as JupyterHub loads it, without starting anything.

What tests/test_hub.py checks on a running hub (slow, needs configurable-http-proxy), checked
here in-process in a second: 127.0.0.1 only, the culler service and its role, the admin
service only when a token is given, each student's environment and the hand-out of notebooks
that never overwrites a student's file.
"""
from __future__ import annotations

import types
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from radlab.paths import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "binder" / "jupyterhub_config.py"


def _load(monkeypatch, tmp_path: Path, **env: str):
    for name in ("RADLAB_HUB_ADMIN_TOKEN", "RADLAB_HUB_USERS", "RADLAB_DATA", "RADLAB_HUB_CULL_EVERY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RADLAB_HUB_ROOT", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()


def test_defaults_listen_on_loopback_with_pam_real_accounts_and_an_hourly_culler(monkeypatch, tmp_path):
    c = _load(monkeypatch, tmp_path)
    assert c.JupyterHub.bind_url.startswith("http://127.0.0.1:")
    assert c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.JupyterHub.spawner_class.endswith(".LocalProcessSpawner")
    assert [s["name"] for s in c.JupyterHub.services] == ["idle-culler"]  # no admin token: no admin service
    assert "--timeout=3600" in c.JupyterHub.services[0]["command"]
    role = next(r for r in c.JupyterHub.load_roles if r["name"] == "idle-culler")
    assert {"list:users", "read:users:activity", "delete:servers"} <= set(role["scopes"])
    assert c.Spawner.environment["OMP_NUM_THREADS"] == "1"
    assert c.Spawner.environment["RADLAB_DATA"] == str(tmp_path / "data")
    assert (tmp_path / "state").is_dir()


def test_instructor_settings_come_from_the_environment(monkeypatch, tmp_path):
    c = _load(monkeypatch, tmp_path, RADLAB_HUB_USERS="ana, ben", RADLAB_HUB_ADMINS="teach",
              RADLAB_HUB_MEM_LIMIT="3G", RADLAB_HUB_CULL_TIMEOUT="600", RADLAB_DATA="/srv/shared-data",
              RADLAB_HUB_AUTH="dummy", RADLAB_HUB_ADMIN_TOKEN="t0k", RADLAB_HUB_PORT="9123")
    assert c.Authenticator.allowed_users == {"ana", "ben"}
    assert c.Authenticator.admin_users == {"teach"}
    assert c.Spawner.mem_limit == "3G"
    assert "--timeout=600" in c.JupyterHub.services[0]["command"]
    assert "--cull-every=150" in c.JupyterHub.services[0]["command"]
    assert c.Spawner.environment["RADLAB_DATA"] == "/srv/shared-data"
    assert c.JupyterHub.authenticator_class == "dummy"
    assert c.JupyterHub.bind_url == "http://127.0.0.1:9123"
    admin = next(s for s in c.JupyterHub.services if s["name"] == "radlab-admin")
    assert admin["api_token"] == "t0k"


def test_first_start_hands_out_the_notebooks_and_never_overwrites_a_students_file(monkeypatch, tmp_path):
    course = tmp_path / "course-src"
    (course / "labs").mkdir(parents=True)
    (course / "labs" / "01_a.ipynb").write_text('{"v": 1}')
    (course / "labs" / ".ipynb_checkpoints").mkdir()
    (course / "labs" / ".ipynb_checkpoints" / "01_a-checkpoint.ipynb").write_text("{}")
    (course / "index.ipynb").write_text('{"index": 1}')
    c = _load(monkeypatch, tmp_path, RADLAB_HUB_SPAWNER="single", RADLAB_HUB_NOTEBOOKS=str(course))
    spawner = types.SimpleNamespace(user=types.SimpleNamespace(name="ana"), environment={}, notebook_dir="")
    c.Spawner.pre_spawn_hook(spawner)
    area = tmp_path / "homes" / "ana"
    assert spawner.notebook_dir == str(area)
    assert spawner.environment["RADLAB_RUNS"] == str(area / "radlab-runs")
    assert spawner.environment["RADLAB_PROGRESS"] == str(area / ".radlab" / "progress.jsonl")
    assert (area / "labs" / "01_a.ipynb").read_text() == '{"v": 1}'
    assert (area / "index.ipynb").is_file()
    assert not (area / "labs" / ".ipynb_checkpoints").exists()
    (area / "labs" / "01_a.ipynb").write_text('{"mine": true}')  # the student's edit
    (course / "labs" / "01_a.ipynb").write_text('{"v": 2}')      # the course is updated
    (course / "labs" / "02_b.ipynb").write_text('{"new": 1}')
    c.Spawner.pre_spawn_hook(spawner)
    assert (area / "labs" / "01_a.ipynb").read_text() == '{"mine": true}'
    assert (area / "labs" / "02_b.ipynb").read_text() == '{"new": 1}'
    assert not list(area.rglob(".*.tmp"))


@pytest.mark.parametrize("auth", ["pam", "dummy", "github"])
def test_every_documented_authenticator_loads(monkeypatch, tmp_path, auth):
    c = _load(monkeypatch, tmp_path, RADLAB_HUB_AUTH=auth)
    assert c.JupyterHub.authenticator_class == auth
    assert f"``{auth}``" in CONFIG.read_text()
