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
* ``--pool N`` keeps N kernels per lab started and executed ahead of time (faster first
  page, more memory).

The front page is a gallery of the labs: each notebook's first markdown heading and the
line under it. The same code starts the server for the browser tests
(``tests/test_browser.py``), which pass ``--fast`` (``RADLAB_FAST=1``) so the labs run their quick
version; for a class the labs run in full.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
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
    cull_idle_s: int = DEFAULT_CULL_IDLE_S
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S
    fast: bool = False            # the labs' quick versions (RADLAB_FAST=1): tests, trying the setup


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


def voila_launch(options: ServeOptions, token: str, config_dir: Path) -> VoilaLaunch:
    """The Voilà command line, config and environment for ``options`` (config goes in ``config_dir``)."""
    labs_dir = Path(options.labs_dir).resolve()
    cull_interval = max(1, min(60, options.cull_idle_s // 2))
    argv = [
        sys.executable, "-m", "voila", str(labs_dir),
        "--no-browser",
        f"--Voila.ip={options.ip}",
        f"--Voila.port={options.port}",
        "--Voila.port_retries=0",                          # the printed address must be the real one
        f"--Voila.config_file_paths={config_dir}",
        f"--VoilaConfiguration.template={TEMPLATE_NAME}",   # the gallery front page
        "--VoilaConfiguration.classic_tree=True",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--VoilaExecutor.cell_error_instruction={ERROR_MESSAGE}",
        f"--VoilaExecutor.timeout={options.cell_timeout_s}",
        "--VoilaExecutor.interrupt_on_timeout=True",        # stop the runaway cell: free the CPU
        f"--MappingKernelManager.cull_idle_timeout={options.cull_idle_s}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        "--MappingKernelManager.cull_connected=True",       # an open but idle tab does not hold a kernel
    ]
    if options.pool > 0:
        argv += ["--VoilaConfiguration.preheat_kernel=True",
                 f"--VoilaConfiguration.default_pool_size={options.pool}"]
    gallery = [{"path": e.path, "href": e.href, "title": e.title, "description": e.description}
               for e in lab_entries(labs_dir)]
    config = {
        "Voila": {
            "token": token,
            "tornado_settings": {"jinja_template_vars": {"radlab_labs": gallery}},
        },
    }
    jupyter_path = os.pathsep.join(p for p in (str(TEMPLATES_ROOT), os.environ.get("JUPYTER_PATH", "")) if p)
    env = {"JUPYTER_PATH": jupyter_path, "RADLAB_FAST": "1" if options.fast else "0"}
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
    output = open(log, "ab") if log else (subprocess.DEVNULL if quiet else None)  # noqa: SIM115
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
    parser.add_argument("--cull-idle", type=int, default=DEFAULT_CULL_IDLE_S, metavar="S",
                        help=f"shut down a kernel idle for S seconds (default {DEFAULT_CULL_IDLE_S})")
    parser.add_argument("--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT_S, metavar="S",
                        help=("interrupt a notebook cell running longer than S seconds "
                              f"(default {DEFAULT_CELL_TIMEOUT_S})"))
    parser.add_argument("--fast", action="store_true",
                        help="serve the labs' quick versions (small data, few epochs): to try the setup")
    args = parser.parse_args(argv)
    for name in ("pool", "cull_idle", "cell_timeout"):
        if getattr(args, name) < (0 if name == "pool" else 1):
            parser.error(f"--{name.replace('_', '-')} must be {'>= 0' if name == 'pool' else '>= 1'}")
    return ServeOptions(labs_dir=args.labs_dir, ip=args.ip, port=args.port, token=args.token, pool=args.pool,
                        cull_idle_s=args.cull_idle, cell_timeout_s=args.cell_timeout, fast=args.fast)


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
        print("Stop the server with Ctrl-C.", flush=True)
        try:
            return server.process.wait()
        except KeyboardInterrupt:
            print("\nradlab serve: stopping ...", flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
