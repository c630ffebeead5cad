"""Shared helpers for the hub test and the class simulator: a JupyterHub started from
binder/jupyterhub_config.py (dummy login, single-account spawner, free 127.0.0.1 ports, state in a
given folder), its REST API, and students who run code in their kernels over the websocket."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import psutil
import requests

CONFIG = Path(__file__).resolve().parent.parent / "binder" / "jupyterhub_config.py"
PASSWORD = "rehearsal"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """One running hub: its URL, admin token and REST helpers."""

    def __init__(self, root: Path, users: tuple[str, ...], cull_timeout: int, cull_every: int | None = None):
        self.root = root
        self.homes = root / "homes"
        self.data = root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        env = {**os.environ,
               "RADLAB_HUB_ROOT": str(root), "RADLAB_DATA": str(self.data),
               "RADLAB_HUB_AUTH": "dummy", "RADLAB_HUB_DUMMY_PASSWORD": PASSWORD,
               "RADLAB_HUB_SPAWNER": "single", "RADLAB_HUB_USERS": ",".join(users),
               "RADLAB_HUB_ADMIN_TOKEN": self.token,
               "RADLAB_HUB_CULL_TIMEOUT": str(cull_timeout),
               "RADLAB_HUB_PORT": str(self.port), "RADLAB_HUB_API_PORT": str(_free_port()),
               "RADLAB_HUB_PROXY_API_PORT": str(_free_port())}
        if cull_every:
            env["RADLAB_HUB_CULL_EVERY"] = str(cull_every)
        for name in ("RADLAB_RUNS", "RADLAB_PROGRESS", "JUPYTERHUB_API_TOKEN"):
            env.pop(name, None)
        self.log = (root / "hub.log").open("wb")
        hub = Path(sys.executable).parent / "jupyterhub"
        self.proc = subprocess.Popen([str(hub), "-f", str(CONFIG)], cwd=root, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.seen: dict[int, psutil.Process] = {}
        deadline = time.monotonic() + 60
        while True:
            self._remember_children()
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the hub did not answer within 60 s:\n{self.tail()}")
            time.sleep(0.5)

    def tail(self, chars: int | None = 4000) -> str:
        """The hub's log (its services' and the servers' output included): the end, or all of it."""
        self.log.flush()
        text = (self.root / "hub.log").read_text(errors="replace")
        return text[-chars:] if chars else text

    def _remember_children(self) -> None:
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def api(self, method: str, path: str, token: str | None = None, **kw):
        headers = {"Authorization": f"token {token or self.token}"}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kw)

    def server(self, user: str) -> dict | None:
        return self.api("GET", f"/users/{user}").json().get("servers", {}).get("")

    def start(self, user: str) -> None:
        r = self.api("POST", f"/users/{user}/server")
        assert r.status_code in (201, 202), f"{r.status_code} {r.text}\n{self.tail()}"

    def wait_ready(self, user: str, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        while not (self.server(user) or {}).get("ready"):
            self._remember_children()
            assert time.monotonic() < deadline, f"{user}'s server did not start:\n{self.tail()}"
            time.sleep(0.5)
        self._remember_children()

    def stop(self, user: str, timeout: float = 60) -> None:
        r = self.api("DELETE", f"/users/{user}/server")
        assert r.status_code in (202, 204), (r.status_code, r.text)
        self.wait_gone(user, timeout)

    def wait_gone(self, user: str, timeout: float) -> float:
        start = time.monotonic()
        while self.server(user) is not None:
            assert time.monotonic() - start < timeout, f"{user}'s server is still there after {timeout} s"
            time.sleep(0.5)
        return time.monotonic() - start

    def close(self) -> None:
        """Stop the hub (it stops the servers), then kill whatever it started that is left."""
        self._remember_children()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        for proc in [psutil.Process(self.proc.pid) if self.proc.poll() is None else None, *self.seen.values()]:
            if proc is None:
                continue
            try:
                if proc.is_running():
                    os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
            except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
                pass
        self.proc.wait(timeout=10)
        self.log.close()


class Student:
    """A logged-in student: their token and their server's REST API (through the proxy)."""

    def __init__(self, hub: Hub, name: str):
        self.hub, self.name = hub, name
        self.token = hub.api("POST", f"/users/{name}/tokens", json={"note": "test"}).json()["token"]
        self.base = f"{hub.url}/user/{name}"

    def get(self, path: str, **kw):
        return requests.get(f"{self.base}{path}", headers={"Authorization": f"token {self.token}"},
                            timeout=30, **kw)

    def request(self, method: str, path: str, **kw):
        headers = {"Authorization": f"token {self.token}", **kw.pop("headers", {})}
        return requests.request(method, f"{self.base}{path}", timeout=30, headers=headers, **kw)

    def new_kernel(self, path: str | None = None) -> str:
        """Start a kernel; ``path`` (a folder of the work area, e.g. "labs") is its working directory."""
        r = self.request("POST", "/api/kernels", json={"name": "python3", **({"path": path} if path else {})})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def run(self, kernel: str, code: str, timeout: float = 60,
            on_message: Callable[[dict], None] | None = None) -> str:
        """Execute ``code`` in ``kernel`` over the websocket; returns its stdout. ``on_message`` sees each
        message the execution sends (displays included), as it arrives."""
        return asyncio.run(_execute(self.base.replace("http://", "ws://") + f"/api/kernels/{kernel}/channels",
                                    self.token, code, timeout, on_message))

    def shutdown_kernel(self, kernel: str) -> None:
        r = self.request("DELETE", f"/api/kernels/{kernel}")
        assert r.status_code == 204, (r.status_code, r.text)


def _decode(raw: str | bytes) -> dict:
    """A websocket message: JSON text, or (a message with binary buffers, e.g. a widget's arrays)
    Jupyter's binary framing, read by the Jupyter server's own deserializer."""
    if isinstance(raw, str):
        return json.loads(raw)
    from jupyter_server.services.kernels.connection.base import deserialize_binary_message

    return deserialize_binary_message(raw)


async def _execute(url: str, token: str, code: str, timeout: float,
                   on_message: Callable[[dict], None] | None = None) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"},
                                               connect_timeout=timeout, request_timeout=timeout))
    msg_id = uuid.uuid4().hex
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out: list[str] = []
    try:
        while True:
            raw = await asyncio.wait_for(conn.read_message(), timeout)
            assert raw is not None, "the kernel's websocket closed"
            msg = _decode(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if on_message is not None:
                on_message(msg)
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        conn.close()


def login(hub: Hub, name: str) -> None:
    """Log in through the hub's login form, as a browser would (the xsrf cookie included)."""
    s = requests.Session()
    assert s.get(f"{hub.url}/hub/login", timeout=30).ok
    r = s.post(f"{hub.url}/hub/login", data={"username": name, "password": PASSWORD, "_xsrf": s.cookies["_xsrf"]},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    assert any(c.name.startswith("jupyterhub-session") for c in s.cookies), list(s.cookies.keys())
    bad = s.post(f"{hub.url}/hub/login", data={"username": name, "password": "wrong",
                                              "_xsrf": s.cookies["_xsrf"]}, allow_redirects=False, timeout=30)
    assert bad.status_code != 302, "a wrong password logged in"
