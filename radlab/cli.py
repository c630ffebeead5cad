"""The ``radlab`` command: list datasets, fetch them with checksums, check the setup, serve labs.

    radlab datasets                              the catalog, with what is in your data cache
    radlab fetch NAME [--from FILE] [--unofficial]
    radlab check [--dev]                         versions, device, data cache, what is missing
    radlab --version
    radlab serve ...                             Voila for instructors (see radlab serve --help)
    radlab assignments build [--out DIR] [--force] [--only NAME ...]
                                                 chapters and labs as an nbgrader course folder

Errors print as one message saying what went wrong and how to fix it (no traceback).
"""
from __future__ import annotations

import argparse
import importlib
import platform
import shutil
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from packaging.requirements import Requirement

from radlab.errors import RadlabError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``radlab`` and its sub-commands."""
    parser = argparse.ArgumentParser(prog="radlab", description="RadLab: hands-on CNNs for radiology.")
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("datasets", help="list the dataset catalog and what is in the data cache")
    fetch = commands.add_parser("fetch", help="download a dataset, or import a local copy, checking its MD5")
    fetch.add_argument("name", help="dataset name, as listed by `radlab datasets`")
    fetch.add_argument("--from", dest="source", type=Path, metavar="FILE",
                       help="import this local file instead of downloading")
    fetch.add_argument("--unofficial", action="store_true",
                       help="accept a file that is not the official release (it is labelled UNOFFICIAL)")
    check = commands.add_parser("check", help="check versions, device and data cache; say what is missing")
    check.add_argument("--dev", action="store_true",
                       help="also check the developer's tools: the test extras and chromium (browser tests)")
    commands.add_parser("serve", add_help=False, help="serve the labs with Voila (arguments go to radlab.serve)")
    assignments = commands.add_parser("assignments", help="nbgrader assignments for instructors")
    assignment_commands = assignments.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = assignment_commands.add_parser(
        "build", help="write chapters and labs as an nbgrader course folder (source/<assignment>/<notebook>.ipynb)")
    build.add_argument("--out", type=Path, default=Path("radlab-nbgrader"), metavar="DIR",
                       help="the nbgrader course folder to write (default: ./radlab-nbgrader)")
    build.add_argument("--force", action="store_true",
                       help="replace assignment source folders that exist (gradebook and submissions are kept)")
    build.add_argument("--only", nargs="+", metavar="NAME", default=None,
                       help="only these chapters or labs (e.g. ch01_how_a_cnn_reads_an_image labs/03_training)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``radlab`` with ``argv`` (default: the command line) and return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["serve"]:  # everything after "serve" belongs to radlab.serve
            try:
                serve = importlib.import_module("radlab.serve")  # heavy: only when serving
            except ImportError as err:
                print(f"radlab: error: radlab serve cannot start ({err})\n"
                      "Fix: python3 make.py lab (installs voila and the rest of the environment)",
                      file=sys.stderr)
                return 1
            return int(serve.main(argv[1:]) or 0)
        args = build_parser().parse_args(argv)
        if args.command == "datasets":
            return cmd_datasets()
        if args.command == "fetch":
            return cmd_fetch(args.name, args.source, args.unofficial)
        if args.command == "check":
            return cmd_check(dev=args.dev)
        if args.command == "assignments":
            return cmd_assignments_build(args.out, only=args.only, force=args.force)
    except RadlabError as err:
        print(f"radlab: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("radlab: interrupted", file=sys.stderr)
        return 130


# --- radlab assignments build ----------------------------------------------------------

def cmd_assignments_build(out: Path, *, only: list[str] | None = None, force: bool = False) -> int:
    """Write the nbgrader course folder and say what is in it and what to run next."""
    from radlab.assignments import build  # noqa: PLC0415

    built = build(out, only, force=force)
    print(f"nbgrader course folder: {Path(out).expanduser().resolve()}")
    for assignment in built:
        print(f"  {assignment}")
    print("next: cd into it, then `nbgrader generate_assignment NAME` (student version in release/); "
          "see the README's instructor guide")
    return 0


# --- radlab datasets --------------------------------------------------------------------

def cmd_datasets() -> int:
    """Print the catalog as a table: name, kind, modality, size, splits and cache status."""
    from radlab.data.catalog import dataset_status, load_catalog  # noqa: PLC0415
    from radlab.paths import data_cache  # noqa: PLC0415

    rows = [("NAME", "KIND", "IMAGE", "SPLITS", "STATUS")]
    for card in load_catalog().values():
        splits = "/".join(str(n) for n in card.splits.values()) or "-"
        image = "x".join(map(str, card.image_shape)) or "varies"
        rows.append((card.name, card.kind, image, splits, dataset_status(card.name)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    print(f"\nData cache: {data_cache()}  (set RADLAB_DATA to move it)")
    print("Details of a dataset: datasets/NAME.md. Splits are train/val/test of the official release.")
    return 0


# --- radlab fetch -----------------------------------------------------------------------

def cmd_fetch(name: str, source: Path | None, unofficial: bool) -> int:
    """Fetch or import a dataset and print where it is and how its checksum compares."""
    from radlab.data.catalog import WEIGHTS, fetch, fetch_weights  # noqa: PLC0415

    if name in WEIGHTS:  # pretrained weights (e.g. resnet18-imagenet): checked by SHA-256 prefix
        got = fetch_weights(name, source=source.expanduser() if source else None)
        print(f"{got.name}: {got.action} {got.path}")
        print(f"  sha256:            {got.sha256} (starts with {got.expected_prefix}, as expected)")
        return 0
    result = fetch(name, source=source.expanduser() if source else None, unofficial=unofficial)
    print(f"{result.name}: {result.action} {result.path}")
    if result.imported_from:
        print(f"  from:              {result.imported_from}")
    print(f"  expected md5:      {result.expected_md5}  (official release)")
    print(f"  file md5:          {result.md5}")
    if result.official:
        print("  status:            official release (checksum matches)")
    else:
        print("  status:            UNOFFICIAL copy (checksum differs; labelled unofficial wherever it is "
              "listed or loaded)")
    if result.replaced_md5:
        print(f"  replaced:          the previously cached copy (md5 {result.replaced_md5})")
    return 0


# --- radlab check -----------------------------------------------------------------------

@dataclass
class Check:
    """One line of ``radlab check``: what was checked, what was found, and the fix when it failed."""

    name: str
    found: str
    ok: bool
    essential: bool
    fix: str = ""


#: What a runtime package is for, when it is not needed to run the labs (a note, not MISSING).
OPTIONAL = {
    "voila": "dashboards: radlab serve",
    "pydicom-data": "large sample DICOM: chest CR, MR, CT",
    "psutil": "memory figures of the benchmarks",
}


def version_line() -> str:
    """``radlab --version``: radlab's version, the Python running it, and where radlab lives."""
    try:
        radlab_version = version("radlab")
    except PackageNotFoundError:
        radlab_version = "(not installed: run python3 make.py lab)"
    return f"radlab {radlab_version} (Python {platform.python_version()}, {Path(__file__).resolve().parent})"


def declared_requirements(extra: str = "") -> list[Requirement]:
    """radlab's own requirements: pyproject.toml in a checkout (what make.py installs), else radlab's
    installed metadata. One source, never a hand-written list.

    ``extra=""`` gives the runtime dependencies (what a student needs); ``extra="test"`` only
    what the test extras add.
    """
    from radlab.paths import PROJECT_ROOT  # noqa: PLC0415

    pyproject = PROJECT_ROOT / "pyproject.toml"
    try:
        import tomllib  # noqa: PLC0415  (Python 3.11+)

        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        if project.get("name") != "radlab":
            raise KeyError("name")
    except (ImportError, OSError, KeyError, ValueError):  # an installed radlab, not a checkout
        lines = requires("radlab") or []
    else:
        lines = list(project["dependencies"])
        for name, extras in project.get("optional-dependencies", {}).items():
            for line in extras:
                spec, _, marker = line.partition(";")
                lines.append(f"{spec}; ({marker}) and extra == {name!r}" if marker.strip()
                             else f"{spec}; extra == {name!r}")
    reqs = [Requirement(line) for line in lines]
    runtime = [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]
    if not extra:
        return runtime
    return [r for r in reqs if r not in runtime and r.marker is not None and r.marker.evaluate({"extra": extra})]


def _requirement_check(req: Requirement, *, essential: bool, fix_all: str) -> Check:
    """Check one requirement: installed, and at a version inside radlab's range."""
    what = OPTIONAL.get(req.name.lower(), "")
    note = f"  ({what})" if what else ""
    try:
        found = version(req.name)
    except PackageNotFoundError:
        return Check(req.name, "not installed" + note, False, essential,
                     fix=f'{fix_all}, or pip install "{req.name}{req.specifier}"')
    if req.specifier and not req.specifier.contains(found, prereleases=True):
        return Check(req.name, f"{found}, outside the range {req.specifier}{note}", False, essential,
                     fix=f'{fix_all}, or pip install "{req.name}{req.specifier}"')
    return Check(req.name, found + note, True, essential)


def _device_check() -> Check:
    """Which device training will use; importing torch also proves the install works."""
    try:
        from radlab.device import describe_device  # noqa: PLC0415  (imports torch)

        return Check("device", describe_device(), True, essential=True)
    except Exception as err:  # noqa: BLE001  (a broken torch install fails in many ways: report, do not crash)
        return Check("device", f"torch does not import ({type(err).__name__}: {err})", False, True,
                     fix="reinstall torch: python3 make.py lab")


def _cache_checks() -> list[Check]:
    """The data cache folder and the dataset files in it, each with its status."""
    from radlab.data.catalog import dataset_state, load_catalog  # noqa: PLC0415
    from radlab.paths import data_cache  # noqa: PLC0415

    try:
        cards = load_catalog()
    except RadlabError as err:
        return [Check("catalog", str(err).splitlines()[0], False, True, fix="run from a RadLab checkout")]
    cache = data_cache()
    checks = [Check("catalog", f"{len(cards)} dataset cards", True, True),
              Check("data cache", f"{cache}" + ("" if cache.is_dir() else "  (not created yet)"), True, False)]
    files = [c for c in cards.values() if c.downloadable and (cache / c.filename).is_file()]
    for card in files:
        size_mb = (cache / card.filename).stat().st_size / 1e6
        status = dataset_state(card.name)
        checks.append(Check(f"  {card.filename}", f"{size_mb:.1f} MB, {status}", status.cached, False,
                            fix=status.text))
    if not files:
        checks.append(Check("  (empty)", "no dataset files yet; the labs use phantoms offline", True, False,
                            fix="radlab fetch pneumoniamnist"))
    return checks


def _chromium_check() -> Check:
    """Chromium drives the browser tests (playwright); students do not need it."""
    for exe in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(exe)
        if path:
            return Check("chromium", f"{path}  (browser tests)", True, False)
    return Check("chromium", "not found  (browser tests only)", False, False,
                 fix="apt-get install -y chromium (only needed for tests/test_browser.py)")


def _widget_frontend_check() -> Check:
    """JupyterLab shows widgets and plotly figures only with their extensions in its environment."""
    try:
        from jupyter_core.paths import jupyter_path  # noqa: PLC0415
    except ImportError:
        return Check("lab extensions", "jupyter_core not installed", False, False,
                     fix="python3 make.py lab (installs JupyterLab and the widget extensions)")
    folders = [Path(p) for p in jupyter_path("labextensions")]
    missing = [name for name in WIDGET_EXTENSIONS
               if not any((folder / name / "package.json").is_file() for folder in folders)]
    if missing:
        return Check("lab extensions", f"missing {', '.join(missing)}  (labs show no controls in JupyterLab)",
                     False, False, fix="open the labs with the JupyterLab of this environment: python3 make.py "
                                       "lab (README, Troubleshooting: a lab that never renders)")
    return Check("lab extensions", "widgets, anywidget, plotly  (JupyterLab shows the labs' controls)", True, False)


#: The JupyterLab front-end extensions the labs need (ipywidgets, anywidget for plotly's FigureWidget).
WIDGET_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "anywidget", "jupyterlab-plotly")


def run_checks(dev: bool = False) -> list[Check]:
    """Everything ``radlab check`` looks at, in the order it prints it (``dev``: also the test tools)."""
    py_ok = sys.version_info >= (3, 10)
    checks = [Check("python", platform.python_version(), py_ok, True,
                    fix="" if py_ok else "install Python 3.10 or newer")]
    lab_fix = "python3 make.py lab (installs the project's environment into .venv)"
    for req in declared_requirements():
        checks.append(_requirement_check(req, essential=req.name.lower() not in OPTIONAL, fix_all=lab_fix))
    checks.append(_device_check())
    checks.append(_widget_frontend_check())
    checks.extend(_cache_checks())
    if dev:
        test_fix = "python3 make.py test (installs the test extras into .venv)"
        for req in declared_requirements("test"):
            checks.append(_requirement_check(req, essential=False, fix_all=test_fix))
        checks.append(_chromium_check())
    return checks


def cmd_check(dev: bool = False) -> int:
    """Print the checks; exit 0 when everything essential is there."""
    checks = run_checks(dev)
    width = max(len(c.name) for c in checks)
    print("RadLab setup check")
    for c in checks:
        mark = "ok" if c.ok else ("MISSING" if c.essential else "note")
        print(f"  {c.name.ljust(width)}  {mark:7s}  {c.found}")
    problems = [c for c in checks if not c.ok]
    if problems:
        print("\nTo fix:")
        for c in problems:
            print(f"  {c.name.strip()}: {c.fix}")
    essential_missing = [c for c in problems if c.essential]
    print("\n" + ("Essentials OK: the labs will run." if not essential_missing else
                  f"{len(essential_missing)} essential item(s) missing: the labs will not run until fixed."))
    return 1 if essential_missing else 0


if __name__ == "__main__":
    sys.exit(main())
