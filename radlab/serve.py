"""Serve the labs to a class as Voilà dashboards: ``radlab serve [labs_dir] [options]``.

Voilà turns each lab notebook into a web page that shows the outputs and widgets but not
the code. One command starts it on the labs folder with safe defaults for a classroom:

* it listens on 127.0.0.1 (this computer only) unless ``--ip`` names another address, and
  then it requires a token (one is generated and printed when ``--token`` is not given);
* notebook sources are stripped, tracebacks are replaced by a friendly message, and the
  ``.ipynb`` files cannot be downloaded through the server;
* a page can only talk to its widgets: Voilà refuses ``execute_request`` messages, so a
  page cannot run code of its choosing;
* kernels idle for ``--cull-idle`` seconds are shut down, and a notebook cell that runs
  longer than ``--cell-timeout`` seconds is interrupted;
* without a pool (and without ``--whole-page``), a page is sent as soon as its kernel has started,
  and each cell's outputs follow as the cell ends (Voilà's progressive rendering, through RadLab's
  execution socket: a failing or timed-out cell still stops the rest). The notebook starts running
  as the page is sent, so the browser loads the page's scripts while the kernel works;
* ``--pool N`` keeps N kernels per lab started and executed ahead of time (faster first
  page, more memory); a kernel taken by a page is replaced ``--pool-refill-delay`` seconds
  later, once that page has been drawn, not while it is (on 2 cores the replacement running the
  notebook slowed the page that had just opened by up to 0.4 s);
* a page's kernel websocket must speak the v1 protocol and send well-formed frames (a legacy
  socket or a malformed frame froze the whole server); a page cannot set a widget's bounds,
  choices or ``disabled`` state, nor use a disabled widget; tracebacks never travel to a page;
* pages may hold at most ``--max-kernels`` kernels in total and ``--max-kernels-per-client``
  per computer (a short page says so when full), and a page's kernel with no connection for
  ``--cull-abandoned`` seconds is shut down;
* on loopback, requests for any other host name are refused (DNS rebinding), and the token
  never appears in the log; ``?theme=`` and ``?template=`` in an address are ignored.

The Voilà process is :func:`run_voila_server` (``python -m radlab.serve --voila-server``):
Voilà's own application with RadLab's kernel websocket, page handler and settings.

The front page is a gallery of the labs: each notebook's first markdown heading and the
line under it. The same code starts the server for the browser tests
(``tests/test_browser.py``), which pass ``--fast`` (``RADLAB_FAST=1``) so the labs run their quick
version; for a class the labs run in full.
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import quote

from radlab.errors import DataError
from radlab.paths import PROJECT_ROOT

#: Package data: a Jupyter data folder holding the ``radlab`` Voilà template (the gallery).
TEMPLATES_ROOT = Path(__file__).resolve().parent / "voila_templates"
TEMPLATE_NAME = "radlab"

DEFAULT_PORT = 8866
DEFAULT_CULL_IDLE_S = 1800
DEFAULT_CELL_TIMEOUT_S = 600
#: A page's kernel with no websocket connection for this long is shut down (aborted or closed pages).
DEFAULT_CULL_ABANDONED_S = 180
#: With a pool, a kernel a page took is replaced this many seconds later: by then that page has been
#: drawn (a preheated page takes ~2 s on 2 cores), and the replacement, which runs the whole
#: notebook, no longer competes with it for the CPU (Voila's own delay, 1 s, fell in the middle).
DEFAULT_POOL_REFILL_DELAY_S = 5.0
#: Kernels one computer may hold at once when serving a network (on loopback: no per-client limit).
DEFAULT_KERNELS_PER_CLIENT = 3
#: Memory planned per lab kernel when the total cap comes from the machine's memory (PSS, torch + a lab).
KERNEL_MEMORY_GB = 0.75
#: The kernel websocket protocol RadLab's server speaks (and the only one it accepts).
KERNEL_WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"
#: The first argument that makes ``python -m radlab.serve`` the Voilà process itself.
VOILA_SERVER_FLAG = "--voila-server"

#: What a student sees instead of a traceback; the details stay in the server's terminal.
#: (A cell past --cell-timeout is interrupted, and shows this message too.)
ERROR_MESSAGE = ("This lab hit an error, or ran past the server time limit, while it was being "
                 "prepared. Reload the page to try again; if it happens again, tell your instructor "
                 "(the details are printed in the terminal running `radlab serve`).")


@dataclass
class ServeOptions:
    """How to serve the labs; the defaults are the safe classroom ones."""

    labs_dir: Path = PROJECT_ROOT / "labs"
    ip: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None      # None: none on loopback, generated on any other address
    pool: int = 0                 # preheated kernels per lab (0: start a kernel per page)
    pool_refill_delay_s: float = DEFAULT_POOL_REFILL_DELAY_S   # wait before replacing a pooled kernel
    progressive: bool = True      # without a pool: the page first, each cell's outputs as it ends
    cull_idle_s: int = DEFAULT_CULL_IDLE_S
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S
    fast: bool = False            # the labs' quick versions (RADLAB_FAST=1): tests, trying the setup
    max_kernels: int | None = None             # page kernels in total (None: from memory; 0: no limit)
    max_kernels_per_client: int | None = None  # per computer (None: 3 off loopback, none on it; 0: none)
    cull_abandoned_s: int = DEFAULT_CULL_ABANDONED_S   # 0: never
    allow_hosts: tuple[str, ...] = ()          # more host names a loopback server answers (reverse proxy)

    def kernel_limits(self) -> tuple[int, int]:
        """(total, per client) page-kernel caps actually used; 0 means no limit."""
        total = default_max_kernels() if self.max_kernels is None else self.max_kernels
        if self.max_kernels_per_client is not None:
            return total, self.max_kernels_per_client
        return total, 0 if is_loopback(self.ip) else DEFAULT_KERNELS_PER_CLIENT


@dataclass
class LabEntry:
    """One gallery card: the notebook's path under labs_dir, its title and one-line description."""

    path: str
    title: str
    description: str

    @property
    def href(self) -> str:
        """The notebook's path quoted for a URL (``voila/render/<href>``)."""
        return quote(self.path)


@dataclass
class VoilaLaunch:
    """Everything needed to start Voilà: its command line, its config file and its environment.

    The token and the gallery go in the config file (``voila.json``, readable by this user
    only) rather than on the command line, where any user of the machine could read the
    token with ``ps``.
    """

    argv: list[str]
    config: dict
    env: dict[str, str] = field(default_factory=dict)


def is_loopback(ip: str) -> bool:
    """True when ``ip`` only accepts connections from this computer (127.x, ::1, localhost)."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def default_max_kernels(memory_bytes: int | None = None) -> int:
    """How many lab kernels fit in this machine's memory (80 % of it, ``KERNEL_MEMORY_GB`` each; at least 2)."""
    if memory_bytes is None:
        try:
            memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):   # not a POSIX system: a laptop-sized guess
            memory_bytes = 8 * 2**30
    return max(2, int(0.8 * memory_bytes / 2**30 / KERNEL_MEMORY_GB))


def served_host_names(options: ServeOptions) -> list[str] | None:
    """Host names a loopback server answers (None: any, a server on a network is guarded by its token).

    A page on another site can point a name it controls at 127.0.0.1 (DNS rebinding) and then
    read the tokenless loopback server as its own origin: refusing other ``Host`` headers stops it.
    IP literals are checked separately (loopback ones only).
    """
    if not is_loopback(options.ip):
        return None
    names = ["localhost", *options.allow_hosts]
    if options.ip not in names and not _is_ip(options.ip):
        names.append(options.ip)
    return names


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def resolve_token(options: ServeOptions) -> str:
    """The token the server requires: "" on loopback unless one is given, else the given or a new one."""
    if options.token is not None:
        if options.token == "" and not is_loopback(options.ip):
            raise DataError(f"refusing to serve on {options.ip} without a token",
                            fix="drop --token '' (a token is generated) or pass --token YOUR_TOKEN")
        return options.token
    return "" if is_loopback(options.ip) else secrets.token_urlsafe(24)


def _plain(markdown: str) -> str:
    """A line of Markdown as plain text for the gallery: links keep their text; *, ** and ` go."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"\*\*|\*|`", "", text).strip()


def read_title(notebook: Path) -> tuple[str, str]:
    """The notebook's first markdown heading and the first line of text under it (for the gallery)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the notebook ({err})", path=notebook,
                        fix="open it in JupyterLab and save it again, or remove it from the labs folder") from err
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        lines = [line.strip() for line in ("".join(source) if isinstance(source, list) else source).splitlines()]
        lines = [line for line in lines if line]
        if lines and lines[0].startswith("#"):
            title = _plain(lines[0].lstrip("#").strip())
            description = _plain(next((line for line in lines[1:] if not line.startswith("#")), ""))
            return title, description
    return notebook.stem.replace("_", " "), ""


def lab_entries(labs_dir: Path) -> list[LabEntry]:
    """Every notebook under ``labs_dir`` (sorted; hidden folders such as checkpoints skipped) as a gallery entry."""
    labs_dir = Path(labs_dir)
    notebooks = sorted(p for p in labs_dir.rglob("*.ipynb")
                       if not any(part.startswith(".") for part in p.relative_to(labs_dir).parts))
    return [LabEntry(p.relative_to(labs_dir).as_posix(), *read_title(p)) for p in notebooks]


#: Federated extensions installed with the environment that only JupyterLab can load.
LAB_ONLY_EXTENSIONS = ("@jupyter/nbgrader", "@jupyter-notebook/lab-extension")


def voila_launch(options: ServeOptions, token: str, config_dir: Path) -> VoilaLaunch:
    """The Voilà command line, config and environment for ``options`` (config goes in ``config_dir``)."""
    labs_dir = Path(options.labs_dir).resolve()
    cull_interval = max(1, min(60, options.cull_idle_s // 2))
    max_total, max_per_client = options.kernel_limits()
    argv = [
        sys.executable, "-m", "radlab.serve", VOILA_SERVER_FLAG, str(labs_dir),
        "--no-browser",
        f"--Voila.ip={options.ip}",
        f"--Voila.port={options.port}",
        "--Voila.port_retries=0",                          # the printed address must be the real one
        f"--Voila.config_file_paths={config_dir}",
        f"--VoilaConfiguration.template={TEMPLATE_NAME}",   # the gallery front page
        "--VoilaConfiguration.classic_tree=True",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",     # ?theme= was written raw into the page (XSS)
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--VoilaExecutor.cell_error_instruction={ERROR_MESSAGE}",
        f"--VoilaExecutor.timeout={options.cell_timeout_s}",
        "--VoilaExecutor.interrupt_on_timeout=True",        # stop the runaway cell: free the CPU
        f"--MappingKernelManager.cull_idle_timeout={options.cull_idle_s}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        "--MappingKernelManager.cull_connected=True",       # an open but idle tab does not hold a kernel
        # Tracebacks are replaced by KernelMessageFilter.to_page, not by allow_tracebacks=False: with
        # jupyter_server 2.21 that option crashes the channel handler on every error message
        # (ServerKernelManager has no traceback_replacement_message) and the page stops updating.
        f"--RadlabVoila.max_page_kernels={max_total}",
        f"--RadlabVoila.max_page_kernels_per_client={max_per_client}",
        f"--RadlabVoila.cull_abandoned_s={options.cull_abandoned_s}",
    ]
    if options.pool > 0:
        argv += ["--VoilaConfiguration.preheat_kernel=True",
                 f"--VoilaConfiguration.default_pool_size={options.pool}",
                 f"--VoilaKernelManager.fill_delay={options.pool_refill_delay_s:g}"]
    elif options.progressive:   # the page first, then each cell's outputs as it ends (Voilà: not with a pool)
        argv += ["--VoilaConfiguration.progressive_rendering=True"]
    gallery = [{"path": e.path, "href": e.href, "title": e.title, "description": e.description}
               for e in lab_entries(labs_dir)]
    hosts = served_host_names(options)
    config = {
        # JupyterLab-only extensions that fail to load in a dashboard (their shared JupyterLab modules
        # are not on a Voila page): a browser fetched and ran them on every page for nothing.
        "VoilaConfiguration": {"extension_denylist": list(LAB_ONLY_EXTENSIONS)},
        "Voila": {
            "token": token,
            "tornado_settings": {"jinja_template_vars": {"radlab_labs": gallery}},
        },
        "RadlabVoila": {"check_host": hosts is not None, "host_names": hosts or []},
    }
    jupyter_path = os.pathsep.join(p for p in (str(TEMPLATES_ROOT), os.environ.get("JUPYTER_PATH", "")) if p)
    env = {"JUPYTER_PATH": jupyter_path, "RADLAB_FAST": "1" if options.fast else "0",
           "RADLAB_CALLBACK_TIMEOUT_S": str(options.cell_timeout_s)}   # radlab.widgets.guard: button callbacks
    return VoilaLaunch(argv=argv, config=config, env=env)


def public_address(ip: str) -> str:
    """The host name students type: the address given, or this machine's LAN address for 0.0.0.0 / ::."""
    if ip not in ("0.0.0.0", "::", ""):
        return f"[{ip}]" if ":" in ip else ip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:  # connecting a UDP socket sends nothing; it only picks the outgoing interface
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()


def gallery_url(options: ServeOptions, token: str) -> str:
    """The address to hand out: the gallery page, with ``?token=`` when the server needs one."""
    url = f"http://{public_address(options.ip)}:{options.port}/"
    return f"{url}?token={token}" if token else url


@dataclass
class RunningServer:
    """A Voilà server started by :func:`start_server`; ``stop()`` ends it and its kernels.

    ``config_dir`` holds Voilà's config (with the token) and, unless RADLAB_RUNS is set, the
    runs the served labs save; it is removed when the server stops.
    """

    process: subprocess.Popen
    options: ServeOptions
    token: str
    url: str             # the gallery address, with the token when one is needed
    base_url: str        # http://host:port (no token), for building page addresses
    config_dir: Path
    labs: list[LabEntry]

    def lab_url(self, lab: LabEntry | str) -> str:
        """The address of one lab's dashboard (with the token when one is needed)."""
        href = lab.href if isinstance(lab, LabEntry) else quote(lab)
        url = f"{self.base_url}/voila/render/{href}"
        return f"{url}?token={self.token}" if self.token else url

    def stop(self, timeout_s: float = 20) -> None:
        """Stop Voilà (SIGTERM lets it shut its kernels down) and remove the config folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        shutil.rmtree(self.config_dir, ignore_errors=True)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_for_port(host: str, port: int, process: subprocess.Popen, timeout_s: float) -> None:
    """Return once ``host:port`` accepts connections; raise if Voilà exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DataError(f"Voilà exited with code {process.returncode} before it started serving",
                            fix=f"read its messages above; is port {port} already in use? try --port {port + 1}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise DataError(f"Voilà did not start listening on port {port} within {timeout_s:.0f} s",
                    fix="read its messages above")


def start_server(options: ServeOptions, *, env: dict[str, str] | None = None, quiet: bool = False,
                 log: Path | None = None, startup_timeout_s: float = 90) -> RunningServer:
    """Start Voilà on ``options.labs_dir`` and wait until it listens; the caller must ``stop()`` it.

    The labs run in full unless ``options.fast`` (a stray ``RADLAB_FAST`` in the shell is
    overridden). ``env`` adds environment variables for the server and its kernels (the tests
    point ``RADLAB_DATA`` at their data cache). Voilà's log goes to this terminal, to the file
    ``log``, or nowhere when ``quiet``.
    """
    labs_dir = Path(options.labs_dir)
    if not labs_dir.is_dir():
        raise DataError("the labs folder does not exist", path=labs_dir,
                        fix="pass the folder holding the lab notebooks: radlab serve path/to/labs")
    token = resolve_token(options)
    config_dir = Path(tempfile.mkdtemp(prefix="radlab-serve-"))  # mode 700: the token stays private
    launch = voila_launch(options, token, config_dir)
    config_file = config_dir / "voila.json"
    config_file.write_text(json.dumps(launch.config, indent=1), encoding="utf-8")
    config_file.chmod(0o600)
    # Runs the served labs save (checkpoints, splits) go to a folder of this server, not into
    # the labs folder (Voilà runs each notebook there), unless RADLAB_RUNS says where.
    runs = {} if os.environ.get("RADLAB_RUNS") else {"RADLAB_RUNS": str(config_dir / "runs")}
    full_env = {**os.environ, **runs, **launch.env, **(env or {})}
    output = open(log, "ab") if log else (subprocess.DEVNULL if quiet else None)
    try:
        process = subprocess.Popen(launch.argv, env=full_env, cwd=labs_dir, stdout=output, stderr=output)
    finally:
        if log:
            output.close()  # the child has its own copy
    host = "127.0.0.1" if options.ip in ("0.0.0.0", "", "localhost") else options.ip
    host = "::1" if options.ip == "::" else host
    try:
        _wait_for_port(host, options.port, process, startup_timeout_s)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(config_dir, ignore_errors=True)
        raise
    bracketed = f"[{host}]" if ":" in host else host
    labs = lab_entries(labs_dir)
    return RunningServer(process=process, options=options, token=token, url=gallery_url(options, token),
                         base_url=f"http://{bracketed}:{options.port}", config_dir=config_dir, labs=labs)


# --- inside the Voilà process: what passes between a page and its kernel ----------------------

#: Widget state only the lab may set. A page that set these could widen a slider's range, add
#: choices, re-enable a control the lab turned off, or swap the widget's front-end code.
PROTECTED_WIDGET_KEYS = frozenset({
    "min", "max", "step", "disabled", "options", "_options_labels", "description", "tooltip", "layout", "style",
    "children", "_model_name", "_model_module", "_model_module_version", "_view_name", "_view_module",
    "_view_module_version",
})
#: What a page gets instead of a traceback (an ``error`` message); the details go to the server's log.
CALLBACK_ERROR_MESSAGE = ("This control hit an error. Try another setting or reload the page; if it happens "
                          "again, tell your instructor (the details are in the terminal running `radlab serve`).")
#: What a page gets instead of the kernel's stderr (tracebacks, warnings with file paths).
STDERR_NOTE = "[a message for the instructor was written to the terminal running `radlab serve`]\n"


def parse_ws_v1(frame: object) -> tuple[str, list[bytes]] | None:
    """A v1 kernel-websocket frame's channel and parts (header, parent, metadata, content, buffers...).

    None when the frame is malformed. jupyter_server (``deserialize_msg_from_ws_v1``) and Voilà
    (``read_header_from_binary_message``) trust the frame's first 8 bytes as a count and build a
    list that long: 16 bytes of 0xff, or a legacy frame read as v1, froze the whole server.
    """
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        return None
    frame = bytes(frame)
    count = int.from_bytes(frame[:8], "little") if len(frame) >= 8 else 0
    if count < 6 or 8 * (count + 1) > len(frame):     # channel + header, parent, metadata, content
        return None
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != 8 * (count + 1) or offsets[-1] > len(frame) or any(b < a for a, b in zip(offsets, offsets[1:])):
        return None
    try:
        channel = frame[offsets[0]:offsets[1]].decode("ascii")
    except UnicodeDecodeError:
        return None
    return channel, [frame[offsets[i]:offsets[i + 1]] for i in range(1, count - 1)]


def pack_ws_v1(channel: str, parts: list[bytes]) -> bytes:
    """The v1 frame of ``channel`` and ``parts`` (the inverse of :func:`parse_ws_v1`)."""
    ends = [8 * (len(parts) + 3)]
    for part in (channel.encode("ascii"), *parts):
        ends.append(ends[-1] + len(part))
    head = b"".join(n.to_bytes(8, "little") for n in (len(ends), *ends))
    return head + channel.encode("ascii") + b"".join(parts)


def _json(part: bytes) -> dict | None:
    try:
        value = json.loads(part)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class KernelMessageFilter:
    """RadLab's rules for one page's kernel websocket, applied to v1 frames in both directions.

    To the kernel: malformed frames are dropped, and so are widget messages that set a
    :data:`PROTECTED_WIDGET_KEYS` key or that touch a widget the lab has disabled (a click on a
    disabled button). To the page: tracebacks and stderr are replaced by short notes. Each
    method returns the frame to pass on (None: drop it) and a note for the server's log.
    """

    def __init__(self) -> None:
        self.disabled: dict[str, bool] = {}   # comm id -> the lab's last `disabled` value for that widget

    def to_kernel(self, frame: object) -> tuple[bytes | None, str | None]:
        parsed = parse_ws_v1(frame)
        if parsed is None:
            return None, "a malformed frame"
        _channel, parts = parsed
        header = _json(parts[0])
        if header is None:
            return None, "a frame whose header is not JSON"
        if header.get("msg_type") != "comm_msg":
            return bytes(frame), None
        content = _json(parts[3]) or {}
        data = content.get("data") if isinstance(content.get("data"), dict) else {}
        comm_id, method = content.get("comm_id"), data.get("method")
        if method == "update" and isinstance(data.get("state"), dict):
            protected = sorted(PROTECTED_WIDGET_KEYS & set(data["state"]))
            if protected:
                return None, f"a widget update that sets {', '.join(protected)} (comm {comm_id})"
        if method in ("update", "custom") and self.disabled.get(comm_id):
            return None, f"a {method!r} message to a disabled widget (comm {comm_id})"
        return bytes(frame), None

    def to_page(self, frame: object) -> tuple[bytes | None, str | None]:
        parsed = parse_ws_v1(frame)
        if parsed is None:
            return None, "dropped a malformed frame from the kernel"
        channel, parts = parsed
        header = _json(parts[0]) or {}
        msg_type = header.get("msg_type")
        if msg_type in ("comm_open", "comm_msg") and b'"disabled"' in parts[3]:
            self._remember_disabled(_json(parts[3]) or {})
        note = None
        content = None
        if msg_type == "error" or (msg_type != "stream" and b'"traceback"' in parts[3]):
            content = _json(parts[3]) or {}
            if msg_type == "error" or "traceback" in content:
                note = f"{content.get('ename', 'error')}: {content.get('evalue', '')}"[:2000]
                content.update(ename="Error", evalue=CALLBACK_ERROR_MESSAGE, traceback=[CALLBACK_ERROR_MESSAGE])
        elif msg_type == "stream":
            content = _json(parts[3]) or {}
            if content.get("name") == "stderr":
                note = f"stderr: {content.get('text', '')}"[:2000]
                content["text"] = STDERR_NOTE
        if note is None:
            return bytes(frame), None
        parts = [*parts[:3], json.dumps(content).encode(), *parts[4:]]
        return pack_ws_v1(channel, parts), f"kept from the page: {note}"

    def _remember_disabled(self, content: dict) -> None:
        data = content.get("data") if isinstance(content.get("data"), dict) else {}
        states = {content.get("comm_id"): data.get("state")}
        if data.get("method") == "update_states" and isinstance(data.get("states"), dict):
            states = {model: (value or {}).get("state") for model, value in data["states"].items()}
        for comm_id, state in states.items():
            if isinstance(state, dict) and "disabled" in state:
                self.disabled[comm_id] = bool(state["disabled"])


# --- inside the Voilà process: how many kernels pages may hold ---------------------------------

class RefusalKind(Enum):
    SERVER_FULL = "server full"
    CLIENT_FULL = "client full"


@dataclass(frozen=True)
class Refusal:
    """Why a page may not start a kernel now, and the limit it hit."""

    kind: RefusalKind
    limit: int

    def page(self) -> str:
        """The short page a refused browser shows (HTTP 503)."""
        if self.kind is RefusalKind.CLIENT_FULL:
            what = (f"This computer already has {self.limit} lab pages open on the server, its limit. Close a lab "
                    "tab you no longer use, wait a few seconds and reload this page.")
        else:
            what = (f"The server is running as many lab pages as it may ({self.limit}). Close labs you no longer "
                    "use, or wait a minute and reload this page; if it stays full, tell your instructor.")
        return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>RadLab: the lab cannot open now</title>"
                "</head><body style='font-family: sans-serif; max-width: 40em; margin: 3em auto'>"
                f"<h1>This lab cannot open right now</h1><p class='radlab-refusal'>{what}</p></body></html>")


@dataclass(eq=False)
class PageTicket:
    """A page that was admitted and has not started its kernel yet (it counts against the caps)."""

    client: str
    kernel_id: str | None = None


@dataclass
class PageKernel:
    """A kernel started for a page: whose it is and when a browser or its own work last showed life."""

    client: str
    last_seen: float
    connected: bool = False
    busy: bool = True


#: An idle kernel without a connection this long may be shut down to make room for a new page.
EVICT_GRACE_S = 20


class PageKernels:
    """The kernels started for pages: who asked for each, and whether another page may start one.

    Caps of 0 mean no limit. Preheated kernels waiting in a pool are not page kernels: they
    count only once a page takes one.
    """

    def __init__(self, max_total: int = 0, max_per_client: int = 0) -> None:
        self.max_total, self.max_per_client = max_total, max_per_client
        self.kernels: dict[str, PageKernel] = {}
        self.pending: set[PageTicket] = set()

    def count(self, client: str | None = None) -> int:
        """Page kernels (started or about to start) of ``client``, or of everyone."""
        owners = [k.client for k in self.kernels.values()] + [t.client for t in self.pending]
        return len(owners) if client is None else owners.count(client)

    def refusal(self, client: str) -> Refusal | None:
        if self.max_per_client and self.count(client) >= self.max_per_client:
            return Refusal(RefusalKind.CLIENT_FULL, self.max_per_client)
        if self.max_total and self.count() >= self.max_total:
            return Refusal(RefusalKind.SERVER_FULL, self.max_total)
        return None

    def reserve(self, client: str) -> PageTicket:
        ticket = PageTicket(client)
        self.pending.add(ticket)
        return ticket

    def record(self, ticket: PageTicket, kernel_id: str, now: float) -> None:
        """The admitted page ``ticket`` started (or took) kernel ``kernel_id``."""
        self.pending.discard(ticket)
        ticket.kernel_id = kernel_id
        self.kernels[kernel_id] = PageKernel(ticket.client, last_seen=now)

    def release(self, ticket: PageTicket) -> None:
        """The page's request ended; if it never started a kernel it no longer counts."""
        self.pending.discard(ticket)

    def forget(self, kernel_id: str) -> None:
        self.kernels.pop(kernel_id, None)

    def observe(self, kernel_id: str, *, connections: int, busy: bool, last_activity: float, now: float) -> None:
        """What the kernel manager says about a page kernel now."""
        kernel = self.kernels.get(kernel_id)
        if kernel is None:
            return
        kernel.connected, kernel.busy = connections > 0, busy
        if kernel.connected or busy:
            kernel.last_seen = now
        kernel.last_seen = max(kernel.last_seen, last_activity)

    def abandoned(self, now: float, after_s: float) -> list[str]:
        """Kernels idle with no browser connected for ``after_s`` seconds (closed tabs, aborted loads)."""
        return [kid for kid, k in self.kernels.items()
                if not k.connected and not k.busy and now - k.last_seen >= after_s]

    def evictable(self, client: str | None, now: float, grace_s: float = EVICT_GRACE_S) -> str | None:
        """The longest-abandoned kernel (of ``client``, or anyone's) that may make room, or None."""
        candidates = [(k.last_seen, kid) for kid, k in self.kernels.items()
                      if (client is None or k.client == client) and not k.connected and not k.busy
                      and now - k.last_seen >= grace_s]
        return min(candidates)[1] if candidates else None


_PAGE_TICKET: contextvars.ContextVar[PageTicket | None] = contextvars.ContextVar("radlab_page_ticket", default=None)


class TokenScrubber(logging.Filter):
    """Replace the server's token with ``[secret]`` in every log record (failed requests logged it whole)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            text = record.getMessage()
            if self.token in text:
                record.msg, record.args = text.replace(self.token, "[secret]"), ()
        return True


def _install_token_scrubber(token: str, *loggers: logging.Logger) -> None:
    scrubber = TokenScrubber(token)
    handlers = {logging.lastResort} | {h for lg in loggers for h in lg.handlers}
    for handler in handlers:
        if handler is not None:
            handler.addFilter(scrubber)


class NotebookRun:
    """The messages of one page's notebook run (progressive rendering), as its cells end.

    The run starts when the page is sent and adds messages with :meth:`add`; the page's execution
    socket reads them with :meth:`results`: those so far, then each new one, until :meth:`finish`.
    """

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.finished = False
        self.task: asyncio.Future | None = None
        self._changed = asyncio.Event()

    def add(self, message: dict) -> None:
        self.messages.append(message)
        self._changed.set()

    def finish(self) -> None:
        self.finished = True
        self._changed.set()

    async def results(self):
        """Every message, in order: those already there at once, the rest as they come."""
        sent = 0
        while True:
            while sent < len(self.messages):
                yield self.messages[sent]
                sent += 1
            if self.finished:
                return
            self._changed.clear()   # no await since the check above: nothing added in between is missed
            await self._changed.wait()


def _radlab_voila_class() -> type:
    """RadLab's Voilà application (built here: Voilà is imported only in the Voilà process)."""
    import tornado.web  # noqa: PLC0415
    from jupyter_core.utils import ensure_async  # noqa: PLC0415
    from jupyter_server.log import log_request  # noqa: PLC0415
    from tornado.ioloop import PeriodicCallback  # noqa: PLC0415
    from traitlets import Bool, Integer, List, Unicode  # noqa: PLC0415
    from nbclient.exceptions import CellExecutionError  # noqa: PLC0415
    from tornado.websocket import WebSocketClosedError  # noqa: PLC0415
    from voila.app import Voila  # noqa: PLC0415
    from voila.execute import VoilaExecutor, strip_code_cell_warnings  # noqa: PLC0415
    from voila.tornado.execution_request_handler import ExecutionRequestHandler  # noqa: PLC0415
    from voila.tornado.handler import TornadoVoilaHandler  # noqa: PLC0415
    from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler  # noqa: PLC0415

    class RadlabKernelWebsocketHandler(VoilaKernelWebsocketHandler):
        """Voilà's kernel websocket, v1 protocol only, with :class:`KernelMessageFilter` both ways."""

        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            return KERNEL_WS_PROTOCOL if KERNEL_WS_PROTOCOL in subprotocols else None

        async def pre_get(self) -> None:
            offered = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
            if KERNEL_WS_PROTOCOL not in offered:   # legacy frames were parsed as v1: the server froze
                self.log.warning("Refused a kernel websocket without the %s subprotocol", KERNEL_WS_PROTOCOL)
                raise tornado.web.HTTPError(400, f"the kernel websocket must use {KERNEL_WS_PROTOCOL}")
            self.message_filter = KernelMessageFilter()
            await super().pre_get()

        def on_message(self, message):
            forward, problem = self.message_filter.to_kernel(message)
            if problem:
                self.log.warning("Dropped a message from a page to kernel %s: %s", self.kernel_id, problem)
            if forward is not None:
                return super().on_message(forward)
            return None

        def write_message(self, message, binary=False):
            if isinstance(message, (bytes, bytearray, memoryview)):
                message, note = self.message_filter.to_page(message)
                if note:
                    self.log.warning("Kernel %s: %s", self.kernel_id, note)
                binary = True
            elif isinstance(message, str) and ('"traceback"' in message or '"stderr"' in message):
                message = None   # a legacy JSON text frame: never expected on v1, never with details
            if message is None:
                return None
            return super().write_message(message, binary)

    def execution_result(index: int, cell: dict, outputs: list | None, total: int | None) -> dict:
        """One message of the execution socket, as Voilà's page reads it (``outputs`` None: a markdown cell)."""
        shown = {"cell_type": cell.get("cell_type", "code")}
        if outputs is not None:
            shown["outputs"] = outputs
        return {"action": "execution_result",
                "payload": {"output_cell": shown, "cell_index": index, "total_cell": total}}

    async def run_cell(executor, cell, index: int, log, kernel_id: str) -> tuple[list | None, bool]:
        """(outputs to show, whether the run goes on) for one cell."""
        if cell.get("cell_type") != "code":
            return None, True
        try:
            await executor.execute_cell(cell, None, index, store_history=False)
        except TimeoutError:   # the cell already shows Voilà's timeout message
            return list(cell.get("outputs", [])), False
        except CellExecutionError:   # an error, or the KeyboardInterrupt of --cell-timeout
            log.warning("A cell of kernel %s failed; the rest of its notebook is not run", kernel_id)
            if executor.should_strip_error():
                strip_code_cell_warnings(cell)
                executor.strip_code_cell_errors(cell)
            return list(cell.get("outputs", [])), False
        except Exception:   # the server's fault (the kernel died, ...), not the notebook's
            log.exception("Error at the server while running a cell of kernel %s", kernel_id)
            return [{"output_type": "stream", "name": "stdout", "text": ERROR_MESSAGE}], False
        return list(cell.get("outputs", [])), True

    async def run_notebook(run: NotebookRun, km, data: dict, log, kernel_id: str) -> None:
        """Run a page's notebook in its kernel, adding each cell's messages to ``run`` as the cell ends.

        It stops at the first failing or timed-out cell, as a whole page does (that cell shows
        :data:`ERROR_MESSAGE`, the later ones nothing). Each output is a message of its own, and only
        the last message says the run is over (``total_cell``): Voilà's page (0.5) keeps only a cell's
        outputs before the first widget it has not registered yet, and closes the socket on
        ``total_cell``; given one output at a time it gives each its own output area, in order.
        """
        nb = data["nb"]
        executor = VoilaExecutor(nb, km=km, config=data["config"], show_tracebacks=data["show_tracebacks"])
        total, going = len(nb.cells), True
        try:
            executor.kc = await executor.async_start_new_kernel_client()
            for index, cell in enumerate(nb.cells):
                outputs, going = await run_cell(executor, cell, index, log, kernel_id) if going else ([], False)
                if cell.get("cell_type") != "code":
                    outputs = None
                parts = [outputs] if outputs is None or len(outputs) <= 1 else [[one] for one in outputs]
                for k, part in enumerate(parts):
                    last = index == total - 1 and k == len(parts) - 1
                    run.add(execution_result(index, cell, part, total if last else None))
        except Exception:   # the kernel could not be reached: the page says so, the log why
            log.exception("Could not run the notebook of kernel %s", kernel_id)
            run.add(execution_result(total - 1, {}, [{"output_type": "stream", "name": "stdout",
                                                     "text": ERROR_MESSAGE}], total))
        finally:
            if executor.kc is not None:
                await ensure_async(executor.kc.stop_channels())
            run.finish()

    class RadlabExecutionHandler(ExecutionRequestHandler):
        """Voilà's progressive-rendering socket (``/voila/execution/<kernel>``), fed by RadLab's run.

        Voilà started a page's notebook only when the page's script asked for it over this socket,
        once the page's JavaScript had loaded (1.1–3.2 s after the HTML on 2 cores, Labs 4 and 7): the
        kernel sat idle meanwhile. RadLab starts the run as the page is sent (:class:`NotebookRun`, in
        ``RadlabVoilaHandler.get``) and this socket sends what the run has so far, then the rest as
        each cell ends. The first socket that asks takes the run; a page runs its notebook once.
        """

        async def on_message(self, message_str):
            try:
                message = json.loads(message_str)
            except (TypeError, ValueError):
                message = None
            if not isinstance(message, dict) or message.get("action") != "execute":
                self.log.warning("Dropped a message on the execution socket of kernel %s", self._kernel_id)
                return
            payload = message.get("payload")
            if not isinstance(payload, dict) or payload.get("kernel_id") != self._kernel_id:
                await self.write_message({"action": "execution_error",
                                          "payload": {"error": "Kernel ID does not match"}})
                return
            run = self.settings["radlab_voila"].notebook_runs.pop(self._kernel_id, None)
            if run is None:   # already taken (a page runs its notebook once), or the kernel is gone
                await self.write_message({"action": "execution_error", "payload": {"error": "Missing notebook data"}})
                return
            try:
                async for result in run.results():
                    await self.write_message(result)
            except WebSocketClosedError:   # the page went away; its kernel is culled as abandoned
                self.log.info("The page of kernel %s closed before its notebook had run", self._kernel_id)

        def on_close(self) -> None:
            pass   # the run's kernel client is the run's own (Voilà's handler stopped its own here)

    class RadlabVoilaHandler(TornadoVoilaHandler):
        """Voilà's page handler, admitting a page only within the kernel caps (else a short 503 page)."""

        @tornado.web.authenticated
        async def get(self, path=None):
            app = self.settings["radlab_voila"]
            if not (path or "").lower().endswith(".ipynb"):   # only notebooks start kernels
                return await super().get(path)
            ticket, refusal = await app.admit_page(self.request.remote_ip)
            if refusal is not None:
                self.set_status(503)
                self.set_header("Retry-After", "60")
                self.set_header("Content-Type", "text/html; charset=UTF-8")
                return self.finish(refusal.page())
            context = _PAGE_TICKET.set(ticket)
            try:
                return await super().get(path)
            finally:
                _PAGE_TICKET.reset(context)
                app.page_kernels.release(ticket)
                if ticket.kernel_id is not None:
                    app.start_notebook_run(ticket.kernel_id)

    class RadlabVoila(Voila):
        """Voilà with RadLab's kernel websocket and page handler, kernel caps, Host check and quiet token."""

        max_page_kernels = Integer(0, config=True, help="page kernels in total (0: no limit)")
        max_page_kernels_per_client = Integer(0, config=True, help="page kernels per client address (0: no limit)")
        cull_abandoned_s = Integer(DEFAULT_CULL_ABANDONED_S, config=True,
                                   help="shut down a page kernel with no connection for this long (0: never)")
        check_host = Bool(False, config=True, help="refuse Host names other than host_names and loopback IPs")
        host_names = List(Unicode(), config=True, help="host names served when check_host is on")

        def init_settings(self) -> dict:
            settings = super().init_settings()
            self.page_kernels = PageKernels(self.max_page_kernels, self.max_page_kernels_per_client)
            self.notebook_runs: dict[str, NotebookRun] = {}   # pages sent whose socket has not taken their run
            self._run_tasks: set[asyncio.Future] = set()
            self._claim_page_kernels()
            settings["radlab_voila"] = self
            settings["log_function"] = functools.partial(log_request, record_prometheus_metrics=False)
            if self.check_host:   # jupyter_server's check: loopback IPs and these names only
                settings["allow_remote_access"] = False
                settings["local_hostnames"] = list(self.host_names)
            token = getattr(getattr(self, "identity_provider", None), "token", None) or self.token or ""
            _install_token_scrubber(token, logging.getLogger(), self.log, logging.getLogger("tornado.access"),
                                    logging.getLogger("tornado.application"), logging.getLogger("tornado.general"))
            return settings

        def init_handlers(self) -> list:
            ours = {VoilaKernelWebsocketHandler: RadlabKernelWebsocketHandler, TornadoVoilaHandler: RadlabVoilaHandler,
                    ExecutionRequestHandler: RadlabExecutionHandler}
            return [(spec[0], ours.get(spec[1], spec[1]), *spec[2:]) for spec in super().init_handlers()]

        def start_notebook_run(self, kernel_id: str) -> None:
            """Start running the notebook of a page just sent (progressive rendering: else nothing to run)."""
            data = ExecutionRequestHandler._execution_data.pop(kernel_id, None)
            if data is None or kernel_id in self.notebook_runs:
                return
            run = self.notebook_runs[kernel_id] = NotebookRun()

            async def start() -> None:
                km = await ensure_async(self.kernel_manager.get_kernel(kernel_id))
                await run_notebook(run, km, data, self.log, kernel_id)

            run.task = asyncio.ensure_future(start())
            self._run_tasks.add(run.task)   # a strong reference until it ends (asyncio keeps only weak ones)
            run.task.add_done_callback(self._run_tasks.discard)

        def forget_notebook_run(self, kernel_id: str) -> None:
            ExecutionRequestHandler._execution_data.pop(kernel_id, None)
            run = self.notebook_runs.pop(kernel_id, None)
            if run is not None and run.task is not None and not run.task.done():
                run.task.cancel()

        def listen(self) -> None:
            if self.cull_abandoned_s > 0:
                every_ms = 1000 * max(1.0, min(30.0, self.cull_abandoned_s / 3))
                PeriodicCallback(self._cull_abandoned, every_ms).start()
            super().listen()

        def _claim_page_kernels(self) -> None:
            """Record which admitted page started (or took from the pool) each kernel."""
            manager = self.kernel_manager
            start_kernel, get_rendered = manager.start_kernel, getattr(manager, "get_rendered_notebook", None)

            def claim(kernel_id: str) -> None:
                ticket = _PAGE_TICKET.get()
                if ticket is not None and ticket.kernel_id is None:
                    self.page_kernels.record(ticket, kernel_id, time.time())

            async def start_page_kernel(*args, **kwargs):
                kernel_id = await ensure_async(start_kernel(*args, **kwargs))
                claim(kernel_id)
                return kernel_id

            async def take_pooled_kernel(*args, **kwargs):
                result = await get_rendered(*args, **kwargs)
                claim(result[2])   # (render task, rendered cells, kernel id)
                return result

            manager.start_kernel = start_page_kernel
            if get_rendered is not None:
                manager.get_rendered_notebook = take_pooled_kernel

        def _observe(self) -> float:
            now = time.time()
            running = set(self.kernel_manager.list_kernel_ids())
            for kernel_id in list(self.page_kernels.kernels):
                if kernel_id not in running:
                    self.page_kernels.forget(kernel_id)
                    self.forget_notebook_run(kernel_id)   # a page that never asked for its outputs
                    continue
                model = self.kernel_manager.kernel_model(kernel_id)
                activity = model.get("last_activity")
                self.page_kernels.observe(
                    kernel_id, connections=int(model.get("connections", 0)),
                    busy=model.get("execution_state") in ("busy", "starting", "restarting"),
                    last_activity=activity.timestamp() if hasattr(activity, "timestamp") else 0.0, now=now)
            return now

        async def _shut_down(self, kernel_id: str, why: str) -> None:
            self.log.info("Shutting down kernel %s: %s", kernel_id, why)
            self.page_kernels.forget(kernel_id)
            self.forget_notebook_run(kernel_id)
            try:
                await ensure_async(self.kernel_manager.shutdown_kernel(kernel_id))
            except Exception as err:  # noqa: BLE001  (already gone: nothing to free)
                self.log.warning("Could not shut down kernel %s: %s", kernel_id, err)

        async def _cull_abandoned(self) -> None:
            now = self._observe()
            for kernel_id in self.page_kernels.abandoned(now, self.cull_abandoned_s):
                await self._shut_down(kernel_id, f"no page connected for {self.cull_abandoned_s} s")

        async def admit_page(self, client: str) -> tuple[PageTicket | None, Refusal | None]:
            """A ticket for a new page from ``client``, making room from abandoned kernels if needed."""
            grace = min(EVICT_GRACE_S, self.cull_abandoned_s or EVICT_GRACE_S)
            while True:
                now = self._observe()
                refusal = self.page_kernels.refusal(client)
                if refusal is None:
                    return self.page_kernels.reserve(client), None   # no await since the check: no race
                victim = self.page_kernels.evictable(
                    client if refusal.kind is RefusalKind.CLIENT_FULL else None, now, grace)
                if victim is None:
                    self.log.warning("Refused a page from %s: %s (limit %d)", client, refusal.kind.value, refusal.limit)
                    return None, refusal
                await self._shut_down(victim, f"its page is gone and {client} needs room ({refusal.kind.value})")

    return RadlabVoila


def run_voila_server(argv: list[str]) -> int:
    """The Voilà process (``python -m radlab.serve --voila-server LABS [--Voila... options]``)."""
    _radlab_voila_class().launch_instance(argv)
    return 0


def parse_args(argv: list[str]) -> ServeOptions:
    """Read ``radlab serve``'s command line into :class:`ServeOptions`."""
    parser = argparse.ArgumentParser(
        prog="radlab serve",
        description="Serve the labs as Voilà dashboards (code hidden, widgets live) for a class.")
    parser.add_argument("labs_dir", nargs="?", type=Path, default=PROJECT_ROOT / "labs",
                        help="folder of lab notebooks (default: the project's labs/)")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; "
                             "0.0.0.0: every network, then a token is required)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--token", default=None,
                        help="token students need in the address (default: none on 127.0.0.1, "
                             "generated on any other address)")
    parser.add_argument("--pool", type=int, default=0, metavar="N",
                        help="kernels per lab started ahead of time: faster first page, more memory (default 0)")
    parser.add_argument("--pool-refill-delay", type=float, default=DEFAULT_POOL_REFILL_DELAY_S, metavar="S",
                        help=("with --pool: replace a kernel a page took S seconds later, once that page is drawn "
                              f"(default {DEFAULT_POOL_REFILL_DELAY_S:g}; Voila's own is 1)"))
    parser.add_argument("--whole-page", dest="progressive", action="store_false",
                        help=("without --pool: send a lab page only once its notebook has run (Voila's default); "
                              "otherwise the page comes at once and each cell's outputs follow as the cell ends"))
    parser.add_argument("--cull-idle", type=int, default=DEFAULT_CULL_IDLE_S, metavar="S",
                        help=f"shut down a kernel idle for S seconds (default {DEFAULT_CULL_IDLE_S})")
    parser.add_argument("--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT_S, metavar="S",
                        help=("interrupt a notebook cell running longer than S seconds "
                              f"(default {DEFAULT_CELL_TIMEOUT_S})"))
    parser.add_argument("--fast", action="store_true",
                        help="serve the labs' quick versions (small data, few epochs): to try the setup")
    parser.add_argument("--max-kernels", type=int, default=None, metavar="N",
                        help=("lab pages (one kernel each) the server runs at once; more get a 'server full' page "
                              f"(default: what 80%% of this machine's memory holds at {KERNEL_MEMORY_GB} GB each, "
                              f"here {default_max_kernels()}; 0: no limit)"))
    parser.add_argument("--max-kernels-per-client", type=int, default=None, metavar="N",
                        help=(f"lab pages one computer may hold at once (default {DEFAULT_KERNELS_PER_CLIENT} with "
                              "--ip, no limit on 127.0.0.1; 0: no limit)"))
    parser.add_argument("--cull-abandoned", type=int, default=DEFAULT_CULL_ABANDONED_S, metavar="S",
                        help=("shut down a page's kernel once no browser has been connected to it for S seconds: "
                              f"closed tabs, aborted loads (default {DEFAULT_CULL_ABANDONED_S}; 0: never)"))
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help=("another host name a 127.0.0.1 server answers, e.g. behind a reverse proxy "
                              "(repeatable; other names are refused)"))
    args = parser.parse_args(argv)
    for name in ("pool", "pool_refill_delay", "cull_idle", "cell_timeout", "max_kernels", "max_kernels_per_client", "cull_abandoned"):
        minimum = 1 if name in ("cull_idle", "cell_timeout") else 0
        value = getattr(args, name)
        if value is not None and value < minimum:
            parser.error(f"--{name.replace('_', '-')} must be >= {minimum}")
    return ServeOptions(labs_dir=args.labs_dir, ip=args.ip, port=args.port, token=args.token, pool=args.pool,
                        pool_refill_delay_s=args.pool_refill_delay, progressive=args.progressive,
                        cull_idle_s=args.cull_idle, cell_timeout_s=args.cell_timeout, fast=args.fast,
                        max_kernels=args.max_kernels, max_kernels_per_client=args.max_kernels_per_client,
                        cull_abandoned_s=args.cull_abandoned, allow_hosts=tuple(args.allow_host))


def main(argv: list[str]) -> int:
    """``radlab serve``: start Voilà, print the gallery address and every lab's, serve until Ctrl-C."""
    options = parse_args(argv)
    try:
        server = start_server(options)
    except DataError as err:
        print(f"radlab serve: {err}", file=sys.stderr)
        return 1
    with server:
        print(f"\nRadLab labs are served at:\n    {server.url}\n", flush=True)
        for lab in server.labs:
            print(f"  {lab.title}: {server.lab_url(lab)}")
        if server.token:
            print("\nStudents need the whole address, token included. Anyone with it can use the labs.")
        else:
            print("\nOnly this computer can open it. To serve a classroom: radlab serve --ip 0.0.0.0")
        total, per_client = options.kernel_limits()
        print(f"At most {total or 'any number of'} lab pages at once (--max-kernels)"
              + (f", {per_client} per computer (--max-kernels-per-client)" if per_client else "") + ".")
        print("Stop the server with Ctrl-C.", flush=True)
        try:
            return server.process.wait()
        except KeyboardInterrupt:
            print("\nradlab serve: stopping ...", flush=True)
            return 0


if __name__ == "__main__":
    if sys.argv[1:2] == [VOILA_SERVER_FLAG]:   # the Voilà process started by start_server()
        from radlab.serve import run_voila_server   # the importable module (not this __main__ copy)

        sys.exit(run_voila_server(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
