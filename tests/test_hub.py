"""A real JupyterHub, started from binder/jupyterhub_config.py, with three simulated students.

The hub runs with its standard proxy (configurable-http-proxy, from npm: .ci/run installs it),
the config's dummy authenticator and single-account spawner, on free 127.0.0.1 ports, with its
state, work areas and data cache in tmp folders. Students log in through the login form, their
servers are started through the hub's REST API, and their kernels run code through the Jupyter
server's REST and websocket API: what a browser does, without one (helpers: tests/hubtools.py).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import uuid

import pytest

pytest.importorskip("requests")
pytest.importorskip("jupyterhub")
pytest.importorskip("jupyterhub_idle_culler")
psutil = pytest.importorskip("psutil")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STUDENTS = ("ana", "ben", "chloe")

if shutil.which("configurable-http-proxy") is None:
    if os.environ.get("CI"):
        pytest.fail("configurable-http-proxy is missing in CI: .ci/run installs it with "
                    "`npm install -g configurable-http-proxy`", pytrace=False)
    pytest.skip("configurable-http-proxy (npm) is not installed: npm install -g configurable-http-proxy",
                allow_module_level=True)

from hubtools import Hub, Student, login  # noqa: E402


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("hub"), STUDENTS, cull_timeout=3600)
    try:
        yield hub
    finally:
        hub.close()


@pytest.fixture(scope="module")
def students(hub):
    for name in STUDENTS:
        login(hub, name)
    for name in STUDENTS:  # all at once, as at the start of a class
        hub.start(name)
    for name in STUDENTS:
        hub.wait_ready(name)
    return {name: Student(hub, name) for name in STUDENTS}


def test_each_student_gets_a_server_with_the_course(hub, students):
    for name, student in students.items():
        r = student.get("/api/status")
        assert r.ok, (name, r.status_code)
        labs = student.get("/api/contents/labs").json()
        assert any(item["name"].endswith(".ipynb") for item in labs["content"]), labs
        assert student.get("/voila/tree").ok, "Voila is not served inside the student's server"
    own = students["ana"].request("GET", "/api/status", headers={"Authorization": f"token {students['ben'].token}"})
    assert own.status_code in (403, 404) or "login" in own.url, "ben's token opened ana's server"


def test_kernel_environment_and_one_killed_kernel_leaves_the_others_working(hub, students):
    kernels = {name: s.new_kernel() for name, s in students.items()}
    pids = {}
    for name, s in students.items():
        got = json.loads(s.run(kernels[name], "import json, os\nprint(json.dumps({'pid': os.getpid(), **{k: "
                                              "os.environ.get(k) for k in ('OMP_NUM_THREADS', 'RADLAB_DATA', "
                                              "'RADLAB_RUNS', 'RADLAB_PROGRESS')}}))"))
        assert got["OMP_NUM_THREADS"] == "1"
        assert got["RADLAB_DATA"] == str(hub.data)
        assert got["RADLAB_RUNS"] == str(hub.homes / name / "radlab-runs")
        assert got["RADLAB_PROGRESS"] == str(hub.homes / name / ".radlab" / "progress.jsonl")
        pids[name] = got["pid"]
    victim = "ana"
    os.kill(pids[victim], signal.SIGKILL)  # what the OOM killer does
    psutil.Process(pids[victim]).wait(timeout=10) if psutil.pid_exists(pids[victim]) else None
    for name, s in students.items():
        assert s.get("/api/status").ok, f"{name}'s server stopped answering after {victim}'s kernel died"
        if name != victim:
            assert s.run(kernels[name], "print(6 * 7)").strip() == "42"
            assert psutil.pid_exists(pids[name])
    # The victim's own server is fine too: a new kernel works.
    victim_kernel = students[victim].new_kernel()
    assert students[victim].run(victim_kernel, "print('back')").strip() == "back"


def test_work_survives_a_server_stop_and_start(hub, students):
    s = students["ben"]
    labs = [i["path"] for i in s.get("/api/contents/labs").json()["content"] if i["name"].endswith(".ipynb")]
    path = sorted(labs)[0]
    model = s.get(f"/api/contents/{path}").json()
    marker = f"ben's answer {uuid.uuid4().hex}"
    model["content"]["cells"].append({"cell_type": "markdown", "metadata": {}, "source": marker})
    r = s.request("PUT", f"/api/contents/{path}", json={"type": "notebook", "content": model["content"]})
    assert r.ok, r.text
    kernel = s.new_kernel()
    s.run(kernel, "from radlab import progress\nfrom radlab.paths import runs_dir\n"
                  "progress.record(notebook='labs/hub', exercise='q1', event='check', answer=3, correct=True)\n"
                  "(runs_dir() / 'run-hub').mkdir(parents=True)\n(runs_dir() / 'run-hub' / 'metrics.json').write_text('{}')")
    hub.stop("ben")
    hub.start("ben")
    hub.wait_ready("ben")
    after = s.get(f"/api/contents/{path}").json()
    assert marker in [("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
                      for c in after["content"]["cells"]], "the notebook edit was lost (or overwritten)"
    assert s.get("/api/contents/radlab-runs/run-hub/metrics.json").ok
    kernel = s.new_kernel()
    got = s.run(kernel, "from radlab import progress\nprint(progress.progress_file().read_text())")
    events = [json.loads(line) for line in got.splitlines() if line.strip()]
    assert any(e.get("exercise") == "q1" and e.get("notebook") == "labs/hub" for e in events), got


def test_an_idle_server_is_culled_and_its_work_kept(tmp_path):
    hub = Hub(tmp_path, ("dora",), cull_timeout=10, cull_every=5)
    try:
        login(hub, "dora")
        hub.start("dora")
        hub.wait_ready("dora")
        dora = Student(hub, "dora")
        r = dora.request("PUT", "/api/contents/notes.txt", json={"type": "file", "format": "text", "content": "mine"})
        assert r.ok, r.text
        hub.wait_gone("dora", timeout=90)  # nobody touches it: the culler stops it
        assert "Culling server dora" in hub.tail(None), "the server went away, but not by the idle culler"
        hub.start("dora")
        hub.wait_ready("dora")
        assert dora.get("/api/contents/notes.txt").json()["content"] == "mine"
    finally:
        hub.close()
