"""`radlab serve`: the classroom defaults are safe, and each one is checked on a real server.

Tiny notebooks (no torch) stand in for the labs so each server starts in seconds: one
prints a marker from its source, one fails, one runs past the cell time limit.
"""
from __future__ import annotations

import asyncio
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from browser import free_port, http_get, lab_page, page_kernel_id, serve_labs
from radlab.errors import DataError
from radlab.serve import (ERROR_MESSAGE, NotebookRun, ServeOptions, is_loopback, lab_entries, parse_args, read_title,
                          resolve_token, voila_launch)

SOURCE_MARKER = "SOURCE_ONLY_MARKER_5f2c"    # appears in a cell's code, never in its output
SECRET_DETAIL = "SECRET_DETAIL_91ab"         # the message of an exception the page must not show


def _notebook(path: Path, title: str, *codes: str) -> Path:
    cells = [new_markdown_cell(f"# {title}\nOne line that says what the lab is about.")]
    cells += [new_code_cell(code) for code in codes]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labs folder of three tiny notebooks."""
    folder = tmp_path_factory.mktemp("labs")
    _notebook(folder / "01_ok.ipynb", "Lab 1 — Okay",
              f"{SOURCE_MARKER} = 6 * 7\nprint('the answer is', {SOURCE_MARKER})",
              "import radlab.lesson\nprint('fast mode:', radlab.lesson.fast_mode())",
              "import radlab.paths\nprint('runs go to', radlab.paths.runs_dir())")
    _notebook(folder / "02_fails.ipynb", "Lab 2 — Fails", f"raise ValueError('{SECRET_DETAIL}')")
    _notebook(folder / "03_slow.ipynb", "Lab 3 — Slow", "import time\ntime.sleep(300)",
              "print('after the slow cell')")
    return folder


@pytest.fixture(scope="module")
def server(labs: Path):
    """A server with the classroom defaults, but a short cell time limit."""
    with serve_labs(labs, cell_timeout_s=4, fast=True) as running:
        yield running


def _listening_addresses(pid: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


# --- the command line and the config, without a server ---------------------------------------

def test_defaults_listen_on_loopback_without_a_token(tmp_path: Path):
    options = parse_args([])
    assert options.ip == "127.0.0.1" and options.pool == 0
    assert resolve_token(options) == ""
    argv = voila_launch(options, "", tmp_path).argv
    assert "--Voila.ip=127.0.0.1" in argv


def test_another_address_gets_a_generated_token_and_an_empty_one_is_refused():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    first, second = resolve_token(ServeOptions(ip="0.0.0.0")), resolve_token(ServeOptions(ip="0.0.0.0"))
    assert len(first) >= 20 and first != second
    assert resolve_token(ServeOptions(ip="0.0.0.0", token="mine")) == "mine"
    with pytest.raises(DataError, match="token"):
        resolve_token(ServeOptions(ip="0.0.0.0", token=""))


def test_voila_command_line_carries_the_safety_settings_and_keeps_the_token_off_it(tmp_path: Path):
    options = parse_args(["--ip", "0.0.0.0", "--cull-idle", "300", "--cell-timeout", "90", "--pool", "2"])
    launch = voila_launch(options, "tok-123", tmp_path)
    for setting in ("--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
                    "--VoilaExecutor.timeout=90", "--MappingKernelManager.cull_idle_timeout=300",
                    "--VoilaConfiguration.preheat_kernel=True", "--VoilaConfiguration.default_pool_size=2",
                    "--Voila.ip=0.0.0.0"):
        assert setting in launch.argv
    assert not any("tok-123" in arg for arg in launch.argv), "the token would show in `ps`"
    assert launch.config["Voila"]["token"] == "tok-123"
    assert not any("progressive_rendering" in arg for arg in launch.argv), "Voilà refuses it with a pool"
    assert "--VoilaConfiguration.progressive_rendering=True" in voila_launch(parse_args([]), "", tmp_path).argv
    assert not any("progressive" in arg for arg in voila_launch(parse_args(["--whole-page"]), "", tmp_path).argv)


def test_a_notebook_run_gives_a_late_reader_what_it_has_then_the_rest_in_order_and_ends_once_finished():
    """The page's socket may ask long after the run started (progressive rendering), or while a cell runs."""
    async def scenario() -> tuple[list[int], list[int]]:
        run, got = NotebookRun(), []

        async def read() -> None:
            async for message in run.results():
                got.append(message["n"])

        run.add({"n": 0})
        run.add({"n": 1})
        reader = asyncio.ensure_future(read())
        await asyncio.sleep(0.01)
        early = list(got)
        run.add({"n": 2})
        await asyncio.sleep(0.01)
        run.add({"n": 3})
        run.finish()
        await asyncio.wait_for(reader, 2)
        return early, got

    early, got = asyncio.run(scenario())
    assert early == [0, 1] and got == [0, 1, 2, 3]


def test_a_pooled_kernel_is_replaced_after_the_refill_delay(tmp_path: Path):
    """The replacement runs the whole notebook: it waits until the page that took a kernel is drawn."""
    from voila.voila_kernel_manager import voila_kernel_manager_factory
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    assert "--VoilaKernelManager.fill_delay=5" in voila_launch(parse_args(["--pool", "1"]), "t", tmp_path).argv
    launch = voila_launch(parse_args(["--pool", "1", "--pool-refill-delay", "2.5"]), "t", tmp_path)
    assert "--VoilaKernelManager.fill_delay=2.5" in launch.argv
    assert not any("fill_delay" in arg for arg in voila_launch(parse_args([]), "t", tmp_path).argv)
    # the setting Voila reads (a Voila upgrade that renamed it would otherwise be ignored silently)
    manager = voila_kernel_manager_factory(AsyncMappingKernelManager, preheat_kernel=True, default_pool_size=1)
    assert manager.__name__ == "VoilaKernelManager" and manager.class_traits()["fill_delay"].default_value == 1
    with pytest.raises(SystemExit):
        parse_args(["--pool-refill-delay", "-1"])


def test_jupyterlab_only_extensions_are_kept_off_the_dashboards(tmp_path: Path):
    """They fail to load on a Voila page (the JupyterLab modules they share are not there)."""
    from jupyterlab_server.config import get_federated_extensions
    from voila.utils import get_voila_labextensions_path

    from radlab.serve import LAB_ONLY_EXTENSIONS
    denied = voila_launch(parse_args([]), "t", tmp_path).config["VoilaConfiguration"]["extension_denylist"]
    assert denied == list(LAB_ONLY_EXTENSIONS)
    installed = get_federated_extensions(get_voila_labextensions_path())
    for needed in ("jupyterlab-plotly", "anywidget", "@jupyter-widgets/jupyterlab-manager"):
        assert needed in installed and needed not in denied


def test_gallery_title_and_description_come_from_the_first_markdown_heading(labs: Path, tmp_path: Path):
    assert read_title(labs / "01_ok.ipynb") == ("Lab 1 — Okay", "One line that says what the lab is about.")
    nbformat.write(new_notebook(cells=[new_code_cell("1")]), tmp_path / "no_title.ipynb")
    assert read_title(tmp_path / "no_title.ipynb") == ("no title", "")
    assert [e.path for e in lab_entries(labs)] == ["01_ok.ipynb", "02_fails.ipynb", "03_slow.ipynb"]


def test_gallery_shows_markdown_emphasis_code_and_links_as_plain_text(tmp_path: Path):
    cell = new_markdown_cell("# Lab 9 — *Windows*\nSet `level` and **width**, see [the card](../datasets/x.md).")
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "09.ipynb")
    assert read_title(tmp_path / "09.ipynb") == ("Lab 9 — Windows", "Set level and width, see the card.")


def test_unreadable_notebook_names_the_file_and_the_fix(tmp_path: Path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not json")
    with pytest.raises(DataError, match="broken.ipynb") as err:
        read_title(broken)
    assert "Fix:" in str(err.value)


# --- a running server ------------------------------------------------------------------------

def test_server_listens_on_loopback_only_and_shows_the_gallery(server):
    assert _listening_addresses(server.process.pid) == {"127.0.0.1"}
    status, page = http_get(server.url)
    assert status == 200
    for lab in server.labs:
        assert lab.title in page and f"voila/render/{lab.href}" in page
    assert "One line that says what the lab is about." in page


def test_page_shows_outputs_but_not_the_notebook_source(server):
    status, page = lab_page(server.lab_url("01_ok.ipynb"))
    assert status == 200
    assert "the answer is 42" in page
    assert SOURCE_MARKER not in page


def test_a_lab_page_asks_nothing_of_the_internet(server):
    """Voila's page linked Font Awesome from a CDN in its head: offline, that held back the first paint
    until the request failed. The icons come from Voila's own styles (static/voila-style.js: Font
    Awesome 5 with the v4 names)."""
    _, page = http_get(server.lab_url("01_ok.ipynb"))
    outside = re.findall(r"""<(?:link|script)\b[^>]*?(?:href|src)=["']((?:https?:)?//[^"']+)""", page)
    assert not [url for url in outside if "127.0.0.1" not in url and "localhost" not in url], outside
    assert "fontawesome" not in page.lower() and "jsdelivr" not in page


def test_served_labs_save_their_runs_outside_the_labs_folder(server, labs: Path):
    _, page = lab_page(server.lab_url("01_ok.ipynb"))
    runs = re.search(r"runs go to (\S+)", page).group(1)
    assert not Path(runs).is_relative_to(labs)
    assert Path(runs).is_relative_to(server.config_dir)   # removed when the server stops


def test_a_failing_cell_shows_a_friendly_message_instead_of_the_traceback(server):
    status, page = lab_page(server.lab_url("02_fails.ipynb"))
    assert status == 200
    assert SECRET_DETAIL not in page and "ValueError" not in page and "Traceback" not in page
    assert ERROR_MESSAGE.split(".")[0] in html.unescape(page)


def test_a_cell_running_past_the_time_limit_is_interrupted_with_a_message(server):
    start = time.monotonic()
    status, page = lab_page(server.lab_url("03_slow.ipynb"), timeout_s=120)
    assert status == 200
    assert time.monotonic() - start < 90, "the 300 s cell was not stopped by the 4 s limit"
    assert ERROR_MESSAGE.split(".")[0] in html.unescape(page) and "after the slow cell" not in page
    kernel = f"{server.base_url}/api/kernels/{page_kernel_id(page)}"
    deadline = time.monotonic() + 20
    while json.loads(http_get(kernel)[1])["execution_state"] != "idle" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert json.loads(http_get(kernel)[1])["execution_state"] == "idle", "the kernel still runs the slow cell"


@pytest.mark.parametrize("path", [
    "voila/files/01_ok.ipynb", "files/01_ok.ipynb", "raw/01_ok.ipynb", "notebooks/01_ok.ipynb",
    "api/contents/01_ok.ipynb", "api/contents/01_ok.ipynb?content=1",
    "voila/api/contents/01_ok.ipynb?content=1&format=text", "nbconvert/notebook/01_ok.ipynb",
    "nbconvert/script/01_ok.ipynb", "voila/tree/01_ok.ipynb", "voila/static/../01_ok.ipynb",
    "voila/render/01_ok.ipynb?download=1", "voila/templates/../../01_ok.ipynb",
])
def test_notebook_file_cannot_be_downloaded_through_the_server(server, path: str):
    status, body = http_get(f"{server.base_url}/{path}")
    assert SOURCE_MARKER not in body, f"/{path} ({status}) leaks the notebook's source"


def test_page_cannot_execute_code_over_the_kernel_websocket(server, tmp_path: Path):
    import websocket  # websocket-client, a jupyter_server dependency
    from jupyter_server.services.kernels.connection.base import (deserialize_msg_from_ws_v1,
                                                                 serialize_msg_to_ws_v1)

    _, page = http_get(server.lab_url("01_ok.ipynb"))
    kernel = page_kernel_id(page)
    proof = tmp_path / "executed.txt"
    ws_url = server.base_url.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels?session_id={uuid.uuid4()}"
    # the protocol the page speaks (the server refuses kernel websockets without it: tests/test_serve_security.py)
    conn = websocket.create_connection(ws_url, timeout=30, subprotocols=["v1.kernel.websocket.jupyter.org"])

    def send(msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": "student", "session": uuid.uuid4().hex,
                  "date": "", "version": "5.3"}
        msg = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        conn.send_binary(serialize_msg_to_ws_v1(msg, "shell", lambda part: json.dumps(part).encode()))
        return msg_id

    try:
        code = f"open({str(proof)!r}, 'w').write('a page ran code')"
        execute_id = send("execute_request", {"code": code, "silent": False, "store_history": False,
                                              "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        info_id = send("kernel_info_request", {})
        replies: dict[str, list[str]] = {}
        deadline = time.monotonic() + 30
        while "kernel_info_reply" not in replies.get(info_id, []) and time.monotonic() < deadline:
            header, parent_header = (json.loads(part) for part in deserialize_msg_from_ws_v1(conn.recv())[1][:2])
            replies.setdefault(parent_header.get("msg_id"), []).append(header["msg_type"])
        time.sleep(1)   # give a (wrongly) accepted execute_request time to run
    finally:
        conn.close()
    assert "kernel_info_reply" in replies.get(info_id, []), "the websocket channel did not answer at all"
    assert execute_id not in replies, f"the kernel answered the execute_request: {replies[execute_id]}"
    assert not proof.exists(), "code sent by the page ran in the kernel"


def test_pool_starts_kernels_before_any_page_is_opened(labs: Path, tmp_path: Path):
    one_lab = tmp_path / "labs"
    one_lab.mkdir()
    (one_lab / "01_ok.ipynb").write_bytes((labs / "01_ok.ipynb").read_bytes())
    with serve_labs(one_lab, pool=1) as pooled:
        deadline = time.monotonic() + 60
        kernels: list[psutil.Process] = []
        while not kernels and time.monotonic() < deadline:
            kernels = [p for p in psutil.Process(pooled.process.pid).children(recursive=True)
                       if "ipykernel" in " ".join(p.cmdline())]
            time.sleep(0.5)
        assert len(kernels) == 1, f"expected 1 preheated kernel, found {len(kernels)}"
        status, page = http_get(pooled.lab_url("01_ok.ipynb"))
        assert status == 200 and "the answer is 42" in page and SOURCE_MARKER not in page


# --- `radlab serve --ip 0.0.0.0`, as an instructor types it ----------------------------------

@pytest.fixture(scope="module")
def classroom(labs: Path):
    """`python -m radlab.serve LABS --ip 0.0.0.0 --cull-idle 2` with a stray RADLAB_FAST=1 in the shell.

    Yields (printed address, port, the command's process); Ctrl-C (SIGINT) stops it.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "radlab.serve", str(labs), "--ip", "0.0.0.0", "--port", str(port),
           "--cull-idle", "2"]
    env = {**os.environ, "RADLAB_FAST": "1"}
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                               start_new_session=True)
    address = None
    deadline = time.monotonic() + 90
    while address is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        found = re.search(rf"http://\S+:{port}/\?token=\S+", line)
        address = found and found.group(0)
    yield address, port, process
    os.killpg(process.pid, signal.SIGINT)   # what Ctrl-C in the terminal does
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 0, "radlab serve did not stop cleanly on Ctrl-C"


def test_serving_on_all_addresses_prints_an_address_with_a_token_and_listens_everywhere(classroom):
    address, port, process = classroom
    assert address, "radlab serve --ip 0.0.0.0 printed no address with a token"
    voila = psutil.Process(process.pid).children()[0]
    assert _listening_addresses(voila.pid) == {"0.0.0.0"}


def test_a_lab_needs_the_printed_token(classroom):
    address, port, _ = classroom
    token = address.split("token=")[1]
    lab = f"http://127.0.0.1:{port}/voila/render/01_ok.ipynb"
    for refused in (lab, f"{lab}?token=not-{token}"):
        status, page = http_get(refused)   # redirected to the login page, or refused
        assert "the answer is 42" not in page, f"{refused} served the lab without the token"
    status, page = lab_page(f"{lab}?token={token}")
    assert status == 200 and "the answer is 42" in page


def test_labs_run_in_full_for_a_class_even_with_a_stray_fast_setting(server, classroom):
    _, page = lab_page(server.lab_url("01_ok.ipynb"))
    assert "fast mode: True" in page       # the test server was started with fast=True
    address, port, _ = classroom
    token = address.split("token=")[1]
    _, page = lab_page(f"http://127.0.0.1:{port}/voila/render/01_ok.ipynb?token={token}")
    assert "fast mode: False" in page      # RADLAB_FAST=1 in the shell did not shrink the labs


def test_idle_kernels_are_shut_down(classroom):
    address, port, _ = classroom
    token = address.split("token=")[1]
    _, page = http_get(f"http://127.0.0.1:{port}/voila/render/01_ok.ipynb?token={token}")
    kernel = f"http://127.0.0.1:{port}/api/kernels/{page_kernel_id(page)}?token={token}"
    status, _ = http_get(kernel)
    assert status == 200
    deadline = time.monotonic() + 30
    while status == 200 and time.monotonic() < deadline:
        time.sleep(1)
        status, _ = http_get(kernel)
    assert status == 404, "the idle kernel was still running 30 s after the 2 s idle limit"


# --- the JupyterHub / Binder kit (binder/) ----------------------------------------------------

def test_binder_environment_lists_the_same_packages_as_the_root_environment(project_root: Path):
    import yaml

    def packages(path: Path) -> tuple[list, list]:
        deps = yaml.safe_load(path.read_text())["dependencies"]
        conda = [d for d in deps if isinstance(d, str)]
        pip = [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
        # pip options (binder's CPU index and lock, the root's `-e .`) differ on purpose:
        # tests/test_environment.py checks them; radlab itself is installed by postBuild.
        return conda, [p for p in pip if not p.startswith(("-", "."))]

    assert packages(project_root / "binder" / "environment.yml") == packages(project_root / "environment.yml")


def test_binder_scripts_are_executable_and_start_hands_over_to_the_server(project_root: Path):
    for name in ("postBuild", "start"):
        script = project_root / "binder" / name
        assert os.access(script, os.X_OK), f"binder/{name} must be executable (chmod +x)"
        assert script.read_text().startswith("#!/bin/bash\n")
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0, f"binder/{name}: syntax error"
    lines = [line for line in (project_root / "binder" / "start").read_text().splitlines() if line.strip()]
    assert lines[-1] == 'exec "$@"', "repo2docker's start script must end with exec \"$@\""


def test_binder_start_fills_the_users_data_cache_from_the_image_without_overwriting(project_root: Path,
                                                                                   tmp_path: Path):
    image_data = tmp_path / "conda" / "share" / "radlab-data"
    image_data.mkdir(parents=True)
    (image_data / "pneumoniamnist.npz").write_text("from the image")
    (image_data / "chestmnist.npz").write_text("from the image")
    user_cache = tmp_path / "home" / ".cache" / "radlab"
    user_cache.mkdir(parents=True)
    (user_cache / "chestmnist.npz").write_text("the user's own copy")
    env = {"HOME": str(tmp_path / "home"), "CONDA_DIR": str(tmp_path / "conda"), "PATH": os.environ["PATH"]}
    shown = subprocess.run([str(project_root / "binder" / "start"), "printenv", "RADLAB_DATA"], env=env,
                           capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == str(user_cache)
    assert (user_cache / "pneumoniamnist.npz").read_text() == "from the image"
    assert (user_cache / "chestmnist.npz").read_text() == "the user's own copy"
