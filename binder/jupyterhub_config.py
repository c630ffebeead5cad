"""JupyterHub configuration for a RadLab class on ONE server (a "Littlest JupyterHub"-style setup).

What the students get
---------------------
Each student logs in and gets their own JupyterLab (a local process started by the hub, with
RadLab's Python environment: the one this hub runs in), with Voila available inside it: a lab
opens as a dashboard at ``/user/<name>/voila/render/labs/<lab>.ipynb``. Every server has
- its own work area (``RADLAB_HUB_HOMES/<name>`` with the single-account spawner, or
  ``~<name>/radlab`` for system users), where the course notebooks (``index.ipynb``,
  ``course/``, ``labs/``) are copied on first start; a notebook already there is never
  overwritten, so a student's edits survive restarts and course updates;
- ``RADLAB_RUNS`` (training runs) and ``RADLAB_PROGRESS`` (exercise progress) inside that area;
- ``RADLAB_DATA`` pointing at ONE shared, read-only data cache, filled once before class;
- ``OMP_NUM_THREADS=1`` (and MKL/OpenBLAS likewise): one intra-op thread per kernel, so that
  30 kernels on a shared server do not each start one thread per core.
- ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` (``STUDENT_ENV`` below): memory a training
  run frees goes back to the server instead of staying in each kernel's heap.
Idle servers are stopped by ``jupyterhub-idle-culler`` (a hub service); their files stay.
The proxy is the standard ``configurable-http-proxy``; everything listens on 127.0.0.1 only:
put a TLS reverse proxy (nginx, caddy, traefik) in front for students.

Set up a server (Ubuntu, as root)
---------------------------------
::

    npm install -g configurable-http-proxy          # node >= 18 (apt-get install -y nodejs npm)
    git clone https://github.com/YOUR/radlab /srv/radlab/radlab && cd /srv/radlab/radlab
    python3 make.py test --co                          # builds .venv (radlab + the hub, [test])
    # Fill the shared data cache once, then make it read-only for students:
    RADLAB_DATA=/srv/radlab/data .venv/bin/radlab fetch pneumoniamnist
    chmod -R a+rX,go-w /srv/radlab/data
    # Start the hub (run it under systemd for a real class):
    RADLAB_HUB_USERS=ana,ben,chloe RADLAB_HUB_ADMINS=teacher \\
        .venv/bin/jupyterhub -f binder/jupyterhub_config.py

What an instructor changes: environment variables (defaults in brackets)
------------------------------------------------------------------------
- ``RADLAB_HUB_ROOT`` [/srv/radlab]: parent of ``state/``, ``data/`` and ``homes/`` below.
- ``RADLAB_HUB_STATE`` [ROOT/state]: the hub's database, cookie secret, proxy pid file.
- ``RADLAB_DATA`` [ROOT/data]: the shared read-only data cache.
- ``RADLAB_HUB_HOMES`` [ROOT/homes]: work areas with the single-account spawner.
- ``RADLAB_HUB_NOTEBOOKS`` [this checkout]: the folder whose notebooks each student gets.
- ``RADLAB_HUB_USERS`` / ``RADLAB_HUB_ADMINS``: comma-separated user names (allowed / admins).
- ``RADLAB_HUB_AUTH`` [pam]: ``pam`` (the server's Unix accounts, TLJH's default for
  system users), ``dummy`` (ANY password, or ``RADLAB_HUB_DUMMY_PASSWORD``: tests and
  rehearsals only, never for a class on a network), or ``github`` (oauthenticator: set
  ``GITHUB_CLIENT_ID``, ``GITHUB_CLIENT_SECRET``, ``OAUTH_CALLBACK_URL``; install
  ``oauthenticator``). Other institutions' single sign-on: ``GenericOAuthenticator`` or
  ``LTI13Authenticator`` (from an LMS), configured the same way below this file's end.
- ``RADLAB_HUB_SPAWNER`` [system]: ``system`` starts each server as the student's Unix
  account (the hub runs as root; accounts must exist, e.g. ``useradd -m ana``; files are
  protected from each other by Unix permissions); ``single`` runs every server as the hub's
  own account with a work area per student (no Unix accounts needed, but students can read
  each other's files: tests, rehearsals, a trusted group).
- ``RADLAB_HUB_MEM_LIMIT`` [2G]: memory per student. A local-process spawner passes it to the
  server (``MEM_LIMIT``, shown by jupyter-resource-usage) but cannot enforce it; enforced
  limits need ``jupyterhub-systemdspawner`` (what TLJH uses) or Kubernetes (binder/config.yaml).
  Measured with benchmarks/class_sim.py (10 students at once, 2 cores, 2026-12-05), per student
  (server + one lab kernel), median PSS: Lab 1 289 MB, Lab 3 (training) 706 MB (its kernel
  peaked at 1018 MB RSS); a 24 GB server holds ~82 students in Lab 1, ~34 in Lab 3 (hub and
  OS apart): 30 students in the training lab fit in 24 GB.
- ``RADLAB_HUB_CULL_TIMEOUT`` [3600]: seconds of inactivity before a server is stopped;
  ``RADLAB_HUB_CULL_EVERY`` [timeout / 4, at least 5]: how often the culler looks.
- ``RADLAB_HUB_PORT`` [8000]: the public port (proxy); ``RADLAB_HUB_API_PORT`` [8081]: the
  hub's internal port; ``RADLAB_HUB_PROXY_API_PORT`` [8001]: the proxy's REST API port.
- ``RADLAB_HUB_ADMIN_TOKEN``: if set, a service ``radlab-admin`` with this API token and the
  admin role (scripts, the class simulator in benchmarks/, the tests). Keep it secret.
"""
# ruff: noqa: F821  (``c`` is the configuration object JupyterHub defines when it loads this file)
from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
BIN = Path(sys.executable).parent  # RadLab's environment: the hub runs from it, so do the servers


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _names(name: str) -> set[str]:
    return {n.strip() for n in os.environ.get(name, "").split(",") if n.strip()}


ROOT = Path(_env("RADLAB_HUB_ROOT", "/srv/radlab"))
STATE = Path(_env("RADLAB_HUB_STATE", str(ROOT / "state")))
DATA = Path(_env("RADLAB_DATA", str(ROOT / "data")))
HOMES = Path(_env("RADLAB_HUB_HOMES", str(ROOT / "homes")))
NOTEBOOKS = Path(_env("RADLAB_HUB_NOTEBOOKS", str(PROJECT)))
AUTH = _env("RADLAB_HUB_AUTH", "pam").lower()
SPAWNER = _env("RADLAB_HUB_SPAWNER", "system").lower()
MEM_LIMIT = _env("RADLAB_HUB_MEM_LIMIT", "2G")
CULL_TIMEOUT = int(_env("RADLAB_HUB_CULL_TIMEOUT", "3600"))
CULL_EVERY = int(_env("RADLAB_HUB_CULL_EVERY", str(max(5, CULL_TIMEOUT // 4))))
PORT = int(_env("RADLAB_HUB_PORT", "8000"))
API_PORT = int(_env("RADLAB_HUB_API_PORT", "8081"))
PROXY_API_PORT = int(_env("RADLAB_HUB_PROXY_API_PORT", "8001"))
ADMIN_TOKEN = os.environ.get("RADLAB_HUB_ADMIN_TOKEN", "").strip()
#: What each student gets a copy of on first start (relative to NOTEBOOKS).
HANDOUT = ("index.ipynb", "course", "labs")

STATE.mkdir(parents=True, exist_ok=True, mode=0o700)

# --- network: 127.0.0.1 only; the standard proxy ---------------------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = API_PORT
c.JupyterHub.proxy_class = "configurable-http-proxy"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.cleanup_servers = True  # the hub stops the students' servers when it stops

# --- state ---------------------------------------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# --- who may log in ----------------------------------------------------------------------------
if AUTH == "dummy":
    # Tests and rehearsals only: any allowed name logs in with the shared password (or any).
    c.JupyterHub.authenticator_class = "dummy"
    if os.environ.get("RADLAB_HUB_DUMMY_PASSWORD"):
        c.DummyAuthenticator.password = os.environ["RADLAB_HUB_DUMMY_PASSWORD"]
elif AUTH == "github":
    # pip install oauthenticator; register an OAuth app at github.com/settings/developers.
    c.JupyterHub.authenticator_class = "github"
    c.GitHubOAuthenticator.client_id = os.environ.get("GITHUB_CLIENT_ID", "")
    c.GitHubOAuthenticator.client_secret = os.environ.get("GITHUB_CLIENT_SECRET", "")
    c.GitHubOAuthenticator.oauth_callback_url = os.environ.get("OAUTH_CALLBACK_URL", "")
    # c.GitHubOAuthenticator.allowed_organizations = {"your-course-org"}
else:
    # PAM: the server's own Unix accounts and passwords (the hub must run as root).
    c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = _names("RADLAB_HUB_USERS")
c.Authenticator.admin_users = _names("RADLAB_HUB_ADMINS")
if not c.Authenticator.allowed_users:
    # No list: everyone the authenticator accepts (PAM: every account on the server).
    c.Authenticator.allow_all = True

# --- one JupyterLab per student, as a local process ----------------------------------------------
if SPAWNER == "single":
    # Every server runs as the hub's account; a work area per student under HOMES.
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
else:
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"


def work_area(spawner) -> Path:
    """The student's own folder: notebooks, runs, progress."""
    if SPAWNER == "single":
        return HOMES / spawner.user.name
    return Path(pwd.getpwnam(spawner.user.name).pw_dir) / "radlab"


def hand_out(source: Path, area: Path, owner: tuple[int, int] | None = None) -> list[Path]:
    """Copy the course notebooks into ``area``; never overwrite a file the student has."""
    copied = []
    for item in HANDOUT:
        src = source / item
        files = [src] if src.is_file() else sorted(src.rglob("*.ipynb")) if src.is_dir() else []
        for path in files:
            if ".ipynb_checkpoints" in path.parts:
                continue
            target = area / path.relative_to(source)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)  # atomic: a half-copied notebook is never left behind
            copied.append(target)
    if owner is not None:  # the hub runs as root; the files belong to the student
        for path in [area, *area.rglob("*")]:
            os.chown(path, *owner)
    return copied


def pre_spawn(spawner) -> None:
    """Create the work area, hand out the notebooks, point RadLab's variables into it."""
    area = work_area(spawner)
    owner = None
    if SPAWNER != "single" and os.geteuid() == 0:
        entry = pwd.getpwnam(spawner.user.name)
        owner = (entry.pw_uid, entry.pw_gid)
    for sub in ("radlab-runs", ".radlab"):
        (area / sub).mkdir(parents=True, exist_ok=True)
    hand_out(NOTEBOOKS, area, owner)
    spawner.notebook_dir = str(area)
    spawner.environment.update({
        "RADLAB_RUNS": str(area / "radlab-runs"),
        "RADLAB_PROGRESS": str(area / ".radlab" / "progress.jsonl"),
    })


c.Spawner.pre_spawn_hook = pre_spawn
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
#: Server extensions a student never uses: nbgrader's (instructor and test tools: `radlab assignments`;
#: not in the student image, binder/environment.yml). Off, each server starts ~1 s of CPU sooner and
#: holds ~28 MB less (measured: USS 113 -> 85 MB for a bare JupyterLab). Missing ones are ignored.
STUDENT_OFF = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.validate_assignment",
               "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list")
_off = ", ".join(f"{name!r}: False" for name in STUDENT_OFF)
c.Spawner.args = [f"--ServerApp.jpserver_extensions={{{_off}}}"]
if SPAWNER == "single" and os.geteuid() == 0:
    c.Spawner.args.append("--allow-root")  # a container run as root: Jupyter refuses root without it
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.http_timeout = 120  # a cold JupyterLab on a busy server can take a while
c.Spawner.start_timeout = 180
#: What every student's server and kernels get besides paths; a literal, so that
#: benchmarks/kernel_memory.py reads it from here (``kernel_env()``) and measures kernels as the hub starts them.
#: One intra-op thread per kernel (30 kernels must not each start a thread per core). glibc's malloc with a
#: fixed mmap threshold: tensors above 64 KiB are mmap'd and given back to the OS when freed, and free heap
#: tops above 128 KiB are trimmed, instead of the dynamic threshold letting freed training buffers pile up
#: in the heap. Measured (benchmarks/kernel_memory.py --lab 03, FAST, 1 kernel, loadavg 0.34): kernel USS
#: 1060 -> 921 MB, peak RSS 1149 -> 1027 MB, first figure 7.1 -> 6.9 s. Other allocators ignore them.
STUDENT_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": "65536",
    "MALLOC_TRIM_THRESHOLD_": "131072",
}
c.Spawner.environment = {
    "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",  # radlab, jupyter, voila from this env
    "RADLAB_DATA": str(DATA),
    **STUDENT_ENV,
}

# --- services: the idle culler; an admin token for scripts -----------------------------------------
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={CULL_TIMEOUT}", f"--cull-every={CULL_EVERY}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
if ADMIN_TOKEN:
    c.JupyterHub.services.append({"name": "radlab-admin", "api_token": ADMIN_TOKEN})
    c.JupyterHub.load_roles.append({"name": "admin", "services": ["radlab-admin"]})
