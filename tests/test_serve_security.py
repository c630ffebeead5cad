"""`radlab serve` under attack: each finding of issue 15's serving section, replayed on a real server.

A tiny lab (ipywidgets only, no torch) stands in for the real ones so the server starts in
seconds. Every probe is bounded by timeouts: the server runs in its own process, and a
server that stops answering makes the test fail (and is killed afterwards), never hang.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from browser import http_get, lab_page, page_kernel_id, serve_labs

pytestmark = pytest.mark.timeout(300)

V1 = "v1.kernel.websocket.jupyter.org"

# The lab: an Image (its value travels as a binary buffer), a slider, a disabled button whose click
# handler leaves a file behind, and a button whose handler fails (its traceback must not travel).
WIDGETS_CELL = """\
import os, pathlib
import ipywidgets as w
PNG = bytes.fromhex('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
                    '1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d605a10000000049454e44ae426082')
image = w.Image(value=PNG, format='png')
slider = w.IntSlider(value=3, min=0, max=10, description='level')
locked = w.Button(description='locked', disabled=True)
locked.on_click(lambda _: pathlib.Path(os.environ['RADLAB_PROOF_DIR'], 'clicked').write_text('ran'))
failing = w.Button(description='fails')
def fail(_):
    raise ValueError('SECRET_DETAIL_7d1e')
failing.on_click(fail)
w.VBox([image, slider, locked, failing])
"""


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("labs")
    cells = [new_markdown_cell("# Lab 1 — Widgets\nA slider, an image and two buttons."), new_code_cell(WIDGETS_CELL)]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), folder / "01_widgets.ipynb")
    return folder


@pytest.fixture(scope="module")
def proof_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proof")


@pytest.fixture(scope="module")
def server(labs: Path, proof_dir: Path):
    with serve_labs(labs, env={"RADLAB_PROOF_DIR": str(proof_dir)}) as running:
        yield running


def answers_quickly(url: str, timeout_s: float = 3) -> bool:
    """True when ``url`` answers (any status) within ``timeout_s``."""
    try:
        http_get(url, timeout_s=timeout_s)
        return True
    except OSError:
        return False


def _message(msg_type: str, content: dict, channel: str = "shell", metadata: dict | None = None) -> dict:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "student",
              "session": uuid.uuid4().hex, "date": "", "version": "5.3"}
    return {"header": header, "parent_header": {}, "metadata": metadata or {}, "content": content, "channel": channel,
            "buffers": []}


class KernelSocket:
    """A kernel websocket as a (hostile) page would open it, with or without the v1 subprotocol."""

    def __init__(self, server, kernel: str, subprotocol: str | None):
        import websocket  # websocket-client, a jupyter_server dependency

        url = server.base_url.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels?session_id={uuid.uuid4()}"
        self.v1 = subprotocol == V1
        self.conn = websocket.create_connection(url, timeout=10, subprotocols=[subprotocol] if subprotocol else None)

    def send(self, msg: dict) -> None:
        from jupyter_server.services.kernels.connection.base import serialize_binary_message, serialize_msg_to_ws_v1

        if self.v1:
            pack = lambda part: json.dumps(part).encode()  # noqa: E731
            self.conn.send_binary(serialize_msg_to_ws_v1(msg, msg["channel"], pack) + b"".join(msg["buffers"]))
        elif msg["buffers"]:
            self.conn.send_binary(serialize_binary_message(msg))
        else:
            self.conn.send(json.dumps(msg))

    def close(self) -> None:
        self.conn.close()


def _decode(frame) -> dict | None:
    """A frame from the server as a message dict (v1 binary or legacy JSON text); None if unreadable."""
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

    if isinstance(frame, str):
        return json.loads(frame)
    channel, parts = deserialize_msg_from_ws_v1(frame)
    header, parent, metadata, content = (json.loads(p) for p in parts[:4])
    return {"channel": channel, "header": header, "parent_header": parent, "content": content,
            "buffers": parts[4:]}


def receive(sock: KernelSocket, seconds: float, until=None) -> list:
    """Frames the page receives for ``seconds`` (or until ``until(decoded)`` is true), raw."""
    import websocket

    frames: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.conn.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            frame = sock.conn.recv()
        except (websocket.WebSocketTimeoutException, TimeoutError):
            break
        frames.append(frame)
        if until is not None and until(_decode(frame)):
            break
    return frames


def _is_update_states(msg: dict | None) -> bool:
    return bool(msg) and msg["header"]["msg_type"] == "comm_msg" and \
        msg["content"].get("data", {}).get("method") == "update_states"


def _open_control_comm_and_request_states(sock: KernelSocket) -> None:
    """The standard widget `request_states`: its reply carries the Image's PNG as a binary buffer."""
    from ipywidgets._version import __control_protocol_version__

    comm_id = uuid.uuid4().hex
    sock.send(_message("comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget.control", "data": {}},
                       metadata={"version": __control_protocol_version__}))
    sock.send(_message("comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}}))


def widget_states(sock: KernelSocket) -> dict[str, dict]:
    """Every widget's state by model id, as the page's widget manager asks for them."""
    _open_control_comm_and_request_states(sock)
    frames = receive(sock, 30, until=_is_update_states)
    replies = [m for m in map(_decode, frames) if _is_update_states(m)]
    assert replies, "the kernel did not answer request_states"
    return {model: value["state"] for model, value in replies[-1]["content"]["data"]["states"].items()}


def _model(states: dict[str, dict], model_name: str, description: str | None = None) -> str:
    return next(model for model, state in states.items() if state.get("_model_name") == model_name
                and (description is None or state.get("description") == description))


def _server_memory_mb(server) -> float:
    return psutil.Process(server.process.pid).memory_info().rss / 2**20


def _lab_socket(server) -> KernelSocket:
    _, page = lab_page(server.lab_url("01_widgets.ipynb"))
    return KernelSocket(server, page_kernel_id(page), V1)


# --- the rules without a server ----------------------------------------------------------------------

def _frame(msg_type: str, content: dict, channel: str = "shell", buffers: tuple[bytes, ...] = ()) -> bytes:
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    msg = _message(msg_type, content, channel)
    parts = [json.dumps(msg[key]).encode() for key in ("header", "parent_header", "metadata", "content")]
    return serialize_msg_to_ws_v1([*parts, *buffers], channel)


def test_v1_frames_are_read_within_bounds_and_written_back_unchanged():
    from radlab.serve import pack_ws_v1, parse_ws_v1

    frame = _frame("comm_msg", {"comm_id": "c", "data": {}}, buffers=(b"\x00\x01", b"png"))
    channel, parts = parse_ws_v1(frame)
    assert channel == "shell" and parts[4:] == [b"\x00\x01", b"png"]
    assert pack_ws_v1(channel, parts) == frame
    start = time.monotonic()
    for bad in (b"\xff" * 16, b"\x00\x00\x00\x02\x00\x00\x00\x0c" + b"{}" * 8, b"", "text", frame[:-3] + b"",
                (6).to_bytes(8, "little") + b"\xff" * 48):
        assert parse_ws_v1(bad) is None or bad == frame[:-3]
    assert time.monotonic() - start < 1


def test_the_message_filter_drops_protected_and_disabled_widget_messages_and_hides_tracebacks():
    from radlab.serve import CALLBACK_ERROR_MESSAGE, STDERR_NOTE, KernelMessageFilter, parse_ws_v1

    rules = KernelMessageFilter()
    update = lambda state: _frame("comm_msg", {"comm_id": "s", "data": {"method": "update", "state": state}})  # noqa: E731
    assert rules.to_kernel(update({"value": 4}))[0] is not None
    for key in ("max", "min", "disabled", "options"):
        forwarded, note = rules.to_kernel(update({key: 1000}))
        assert forwarded is None and key in note
    # the lab disables button "b" (as seen in a state update to the page): its clicks stop there
    rules.to_page(_frame("comm_msg", {"comm_id": "b", "data": {"method": "update", "state": {"disabled": True}}},
                         "iopub"))
    click = _frame("comm_msg", {"comm_id": "b", "data": {"method": "custom", "content": {"event": "click"}}})
    assert rules.to_kernel(click)[0] is None
    rules.to_page(_frame("comm_msg", {"comm_id": "x", "data": {"method": "update_states", "states": {
        "b": {"state": {"disabled": False}}}}}, "iopub"))
    assert rules.to_kernel(click)[0] is not None
    # tracebacks and stderr: a short note instead, the details for the log
    error = _frame("error", {"ename": "ValueError", "evalue": "SECRET", "traceback": ['File "/x.py"']}, "iopub")
    stderr = _frame("stream", {"name": "stderr", "text": 'Traceback ... File "/site-packages/x.py"'}, "iopub")
    stdout = _frame("stream", {"name": "stdout", "text": "epoch 1"}, "iopub")
    for frame, shown in ((error, CALLBACK_ERROR_MESSAGE), (stderr, STDERR_NOTE)):
        sent, note = rules.to_page(frame)
        content = json.loads(parse_ws_v1(sent)[1][3])
        assert b"SECRET" not in sent and b"File" not in sent and shown in (content.get("text"), content.get("evalue"))
        assert "SECRET" in note or "Traceback" in note
    assert rules.to_page(stdout) == (stdout, None)
    assert rules.to_kernel(b"\xff" * 16)[0] is None


def test_the_command_line_sets_the_caps_the_host_check_and_no_theme_override(tmp_path: Path):
    from radlab.serve import parse_args, voila_launch

    options = parse_args(["--max-kernels", "5", "--max-kernels-per-client", "2", "--cull-abandoned", "60",
                          "--allow-host", "labs.example.org"])
    launch = voila_launch(options, "", tmp_path)
    for setting in ("--VoilaConfiguration.allow_theme_override=NO", "--RadlabVoila.max_page_kernels=5",
                    "--RadlabVoila.max_page_kernels_per_client=2", "--RadlabVoila.cull_abandoned_s=60"):
        assert setting in launch.argv
    assert launch.config["RadlabVoila"] == {"check_host": True, "host_names": ["localhost", "labs.example.org"]}
    assert voila_launch(parse_args(["--ip", "0.0.0.0"]), "t", tmp_path).config["RadlabVoila"]["check_host"] is False
    assert parse_args(["--ip", "0.0.0.0"]).kernel_limits()[1] == 3 and parse_args([]).kernel_limits()[1] == 0
    assert launch.env["RADLAB_CALLBACK_TIMEOUT_S"] == str(options.cell_timeout_s)


# --- finding 1: one message froze the whole server ------------------------------------------------

def test_a_kernel_websocket_without_the_v1_protocol_is_refused_and_cannot_freeze_the_server(server):
    _, page = lab_page(server.lab_url("01_widgets.ipynb"))
    memory_before = _server_memory_mb(server)
    refused = None
    try:
        sock = KernelSocket(server, page_kernel_id(page), None)
    except Exception as err:
        refused = err
    else:   # the unfixed server accepts it: one request_states (a reply with buffers) froze it
        try:
            _open_control_comm_and_request_states(sock)
            time.sleep(2)
        finally:
            sock.close()
    assert answers_quickly(server.url), "the server stopped answering GET / after one websocket message"
    grown = _server_memory_mb(server) - memory_before
    assert grown < 200, f"the server's memory grew by {grown:.0f} MB after one websocket message"
    assert refused is not None and "400" in str(refused), "a legacy-protocol kernel websocket was accepted"


def test_the_v1_websocket_the_page_uses_gets_binary_replies_and_the_server_keeps_answering(server):
    sock = _lab_socket(server)
    try:
        _open_control_comm_and_request_states(sock)
        frames = receive(sock, 30, until=_is_update_states)
    finally:
        sock.close()
    replies = [m for m in map(_decode, frames) if _is_update_states(m)]
    assert replies and replies[0]["buffers"], "request_states got no reply with the image's binary buffer"
    assert answers_quickly(server.url)


def test_a_malformed_v1_frame_is_dropped_and_cannot_freeze_the_server(server):
    sock = _lab_socket(server)
    try:
        sock.conn.send_binary(b"\xff" * 16)   # "2**64 - 1 parts": jupyter_server would list them all
        time.sleep(2)
        assert answers_quickly(server.url), "the server stopped answering GET / after one malformed v1 frame"
        sock.send(_message("kernel_info_request", {}))   # the same socket still works
        frames = receive(sock, 20, until=lambda m: m["header"]["msg_type"] == "kernel_info_reply")
    finally:
        sock.close()
    assert any(_decode(f)["header"]["msg_type"] == "kernel_info_reply" for f in frames)


# --- finding 2: reflected XSS through ?theme= ------------------------------------------------------

XSS_PAYLOAD = '"><img src=x onerror=alert(1)>'


def test_a_theme_in_the_address_is_not_written_into_the_page(server):
    from urllib.parse import quote

    for url in (server.lab_url("01_widgets.ipynb"), server.url):
        status, page = http_get(f"{url}?theme={quote(XSS_PAYLOAD)}")
        assert status == 200
        assert "<img src=x" not in page and "onerror=alert" not in page, f"{url}: ?theme= is written raw into the page"
    # the browser check (the payload does not run) is tests/test_browser_security.py


# --- finding 3: unbounded kernels --------------------------------------------------------------------

def _kernels(server) -> int:
    """Kernel processes the server runs now (a kernel exiting while we look, or a zombie, does not count)."""
    count = 0
    for p in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(p.cmdline()):
                count += 1
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return count


def _abort_page_load(server, path: str) -> None:
    """Ask for a lab page and hang up at once (a reload storm, or a script)."""
    import socket

    host, port = server.base_url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET /voila/render/{path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())


def test_aborted_page_loads_hold_at_most_the_cap_and_their_kernels_are_shut_down_soon(labs: Path, proof_dir: Path):
    with serve_labs(labs, max_kernels=2, cull_abandoned_s=4, env={"RADLAB_PROOF_DIR": str(proof_dir)}) as capped:
        for _ in range(8):
            _abort_page_load(capped, "01_widgets.ipynb")
            time.sleep(0.1)
        status, page = http_get(capped.lab_url("01_widgets.ipynb"))   # both places are taken now
        assert status == 503 and "cannot open right now" in page and "(2)" in page, (status, page[:300])
        peak, deadline = 0, time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _kernels(capped)
            peak = max(peak, now)
            if peak and now == 0:
                break
            time.sleep(0.3)
        assert 0 < peak <= 2, f"{peak} kernels for 8 aborted page loads (the cap is 2)"
        assert now == 0, f"{now} kernels of aborted pages still run {60} s later (cull after 4 s)"
        status, page = http_get(capped.lab_url("01_widgets.ipynb"))
        assert status == 200 and "Lab 1" in page, "a page could not open once the abandoned kernels were gone"


def test_the_kernel_ledger_caps_each_client_and_makes_room_from_abandoned_kernels():
    from radlab.serve import PageKernels, RefusalKind

    pages = PageKernels(max_total=3, max_per_client=2)
    first = pages.reserve("10.0.0.1")
    pages.record(first, "k1", now=0)
    pages.record(pages.reserve("10.0.0.1"), "k2", now=0)
    assert pages.refusal("10.0.0.1").kind is RefusalKind.CLIENT_FULL
    assert pages.refusal("10.0.0.2") is None
    pages.record(pages.reserve("10.0.0.2"), "k3", now=0)
    assert pages.refusal("10.0.0.3").kind is RefusalKind.SERVER_FULL
    # k1's page connected, then its tab was closed at t=10; k2 is still rendering (busy)
    pages.observe("k1", connections=1, busy=False, last_activity=0, now=5)
    pages.observe("k1", connections=0, busy=False, last_activity=10, now=12)
    pages.observe("k2", connections=0, busy=True, last_activity=0, now=12)
    assert pages.evictable("10.0.0.1", now=20, grace_s=20) is None        # closed only 10 s ago
    assert pages.evictable("10.0.0.1", now=31, grace_s=20) == "k1"
    assert pages.abandoned(now=200, after_s=180) == ["k1"]                 # k2 works; k3 was never seen idle
    pages.forget("k1")
    assert pages.refusal("10.0.0.1") is None
    unused = pages.reserve("10.0.0.1")
    assert pages.refusal("10.0.0.1").kind is RefusalKind.CLIENT_FULL   # an admitted page counts before its kernel
    pages.release(unused)                                                # ... until its request ends without one
    assert pages.refusal("10.0.0.1") is None


# --- finding 4: widget messages a page must not send ------------------------------------------------

def test_a_page_cannot_rewrite_a_sliders_bounds_nor_click_a_disabled_button(server, proof_dir: Path):
    sock = _lab_socket(server)
    try:
        states = widget_states(sock)
        slider, locked = _model(states, "IntSliderModel"), _model(states, "ButtonModel", "locked")
        sock.send(_message("comm_msg", {"comm_id": slider, "data": {"method": "update", "state": {"max": 1000},
                                                                    "buffer_paths": []}}))
        sock.send(_message("comm_msg", {"comm_id": locked, "data": {"method": "custom",
                                                                    "content": {"event": "click"}}}))
        sock.send(_message("comm_msg", {"comm_id": slider, "data": {"method": "update", "state": {"value": 7},
                                                                    "buffer_paths": []}}))
        time.sleep(2)
        after = widget_states(sock)
    finally:
        sock.close()
    assert after[slider]["max"] == 10, "a page rewrote the slider's max"
    assert after[slider]["value"] == 7, "a plain value change (what a student does) no longer reaches the kernel"
    assert not (proof_dir / "clicked").exists(), "a click on a disabled button ran its callback"


def _button_with_guard(callback, **kwargs):
    import ipywidgets as W

    from radlab.widgets.guard import guard_click

    button = W.Button(description="run")
    return button, guard_click(button, callback, **kwargs)


def _click_message(button) -> dict:
    """What a page sends when the button is clicked (handed to the widget's comm handler)."""
    return {"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []}


def test_a_guarded_button_refuses_clicks_while_disabled():
    from radlab.widgets.guard import ClickOutcome

    runs = []
    button, guard = _button_with_guard(lambda: runs.append(1))
    button.disabled = True
    button._handle_msg(_click_message(button))   # the message a page sends, as the kernel handles it
    button.click()
    assert runs == [] and guard.last_outcome is ClickOutcome.REFUSED_DISABLED
    button.disabled = False
    button._handle_msg(_click_message(button))
    assert runs == [1] and guard.last_outcome is ClickOutcome.RAN


def test_clicks_queued_during_a_run_are_dropped_and_a_later_click_runs():
    from radlab.widgets.guard import ClickOutcome

    now = [0.0]
    runs = []

    def slow_run():
        runs.append(now[0])
        now[0] += 30          # a 30 s training

    button, guard = _button_with_guard(slow_run, repeat_window_s=1.0)
    guard.clock = lambda: now[0]
    outcomes = []
    for _ in range(6):        # six clicks sent during the first run reach the kernel right after it
        button._handle_msg(_click_message(button))
        outcomes.append(guard.last_outcome)
        now[0] += 0.01
    assert len(runs) == 1 and outcomes[1:] == [ClickOutcome.REFUSED_REPEAT] * 5
    now[0] += 5               # a person clicks again after seeing the result
    button.click()
    assert len(runs) == 2


def test_a_guarded_callback_refuses_to_run_twice_at_once():
    import threading

    from radlab.widgets.guard import ClickOutcome

    started, release = threading.Event(), threading.Event()
    button, guard = _button_with_guard(lambda: (started.set(), release.wait(10)))
    worker = threading.Thread(target=button.click)
    worker.start()
    assert started.wait(10)
    button.click()
    assert guard.last_outcome is ClickOutcome.REFUSED_RUNNING
    release.set()
    worker.join(10)
    assert guard.last_outcome is ClickOutcome.RAN


@pytest.mark.timeout(120, method="thread")   # pytest-timeout's default method holds SIGALRM, the guard's clock
def test_a_guarded_callback_is_stopped_at_the_served_time_limit(monkeypatch):
    import ipywidgets as W

    from radlab.widgets.guard import TIME_LIMIT_ENV, ClickOutcome

    monkeypatch.setenv(TIME_LIMIT_ENV, "0.5")   # what `radlab serve --cell-timeout` passes to kernels
    status = W.HTML()
    finished = []
    button, guard = _button_with_guard(lambda: (time.sleep(30), finished.append(1)), status=status)
    start = time.monotonic()
    button.click()
    assert time.monotonic() - start < 10 and not finished
    assert guard.last_outcome is ClickOutcome.TIMED_OUT and "limit of 0.5 s" in status.value


# --- finding 5: tracebacks over the websocket ---------------------------------------------------------

LEAKS = ("Traceback", "SECRET_DETAIL_7d1e", "site-packages", 'File "/', "TraitError")


def test_no_traceback_reaches_the_page_over_the_websocket(server):
    sock = _lab_socket(server)
    try:
        states = widget_states(sock)
        slider, failing = _model(states, "IntSliderModel"), _model(states, "ButtonModel", "fails")
        sock.send(_message("comm_open", {"comm_id": uuid.uuid4().hex, "target_name": "no.such.target", "data": {}}))
        sock.send(_message("comm_msg", {"comm_id": slider, "data": {"method": "update",
                                                                    "state": {"value": "not a number"},
                                                                    "buffer_paths": []}}))
        sock.send(_message("comm_msg", {"comm_id": failing, "data": {"method": "custom",
                                                                     "content": {"event": "click"}}}))
        sock.send(_message("comm_msg", {"comm_id": uuid.uuid4().hex, "data": {"method": "update", "state": {}}}))
        frames = receive(sock, 6)
    finally:
        sock.close()
    texts = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in frames]
    assert texts, "the kernel sent nothing back"
    leaked = [(leak, t[:300]) for t in texts for leak in LEAKS if leak in t]
    assert not leaked, f"details reached the page: {leaked[:3]}"


# --- finding 6: the Host header -----------------------------------------------------------------------

def _get_with_host(server, path: str, host: str) -> int:
    import http.client

    address, port = server.base_url.rsplit("/", 1)[-1].rsplit(":", 1)
    conn = http.client.HTTPConnection(address, int(port), timeout=60)
    try:
        conn.request("GET", path, headers={"Host": host})
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_loopback_server_refuses_other_host_names(server):
    port = server.base_url.rsplit(":", 1)[-1]
    for path in ("/", "/voila/render/01_widgets.ipynb"):
        assert _get_with_host(server, path, f"evil.example:{port}") == 403, f"{path} answered Host: evil.example"
        for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            assert _get_with_host(server, path, host) == 200, f"{path} refused Host: {host}"


# --- finding 7: the token in the log ------------------------------------------------------------------

def test_the_token_never_reaches_the_log(labs: Path, tmp_path: Path):
    token = "tok-" + uuid.uuid4().hex
    log = tmp_path / "voila.log"
    with serve_labs(labs, token=token, log=log) as guarded:
        for path in ("voila/render/missing.ipynb", "no/such/page", "api/kernels/00000000-0000-0000-0000-000000000000",
                     "voila/render/01_widgets.ipynb"):
            http_get(f"{guarded.base_url}/{path}?token={token}")
        http_get(f"{guarded.base_url}/voila/render/01_widgets.ipynb?token=wrong-{token}")
        time.sleep(1)
    text = log.read_text(errors="replace")
    assert "missing.ipynb" in text, "the failed requests were not logged at all"
    assert token not in text, f"the token is in the log: {[line for line in text.splitlines() if token in line][:3]}"
