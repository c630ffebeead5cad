"""The code passes ruff with the rules configured in pyproject.toml ([tool.ruff])."""
from __future__ import annotations

import subprocess
import sys
import tomllib

from radlab.paths import PROJECT_ROOT

LINTED = ["radlab", "tests", "benchmarks", "make.py", "course", "labs", "index.ipynb"]


def test_ruff_finds_nothing_in_the_package_tests_benchmarks_make_and_notebooks():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                             *LINTED], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert "No module named ruff" not in result.stderr, "install the test extras: pip install -e '.[test]'"
    assert result.returncode == 0, f"ruff check {' '.join(LINTED)}:\n{result.stdout}{result.stderr}\n" \
                                   "fix them, or run `ruff check --fix` for the safe fixes"


def test_ruff_is_configured_so_that_every_noqa_is_deliberate():
    lint = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "RUF100" in lint["select"], "stale noqa comments must be reported"
    assert {"E", "F", "B", "UP"} <= set(lint["select"])


def test_the_declared_python_and_setuptools_floors_fit_what_the_code_uses():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11"  # tomllib is 3.11+
    setuptools = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    assert setuptools == "setuptools>=77"  # an SPDX license string needs setuptools 77
    assert (PROJECT_ROOT / "LICENSE").read_text().startswith("MIT License")
    assert (PROJECT_ROOT / "radlab" / "py.typed").is_file()


def _module_imports() -> dict[str, set[str]]:
    """radlab module -> the radlab modules it imports at import time (top-level statements only)."""
    import ast

    root = PROJECT_ROOT / "radlab"
    names = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        found = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            found |= {c for c in candidates if c in names and c != name and not name.startswith(c + ".")}
        graph[name] = found - {"radlab"}
    return graph


def test_no_two_radlab_modules_import_each_other_at_import_time():
    graph = _module_imports()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, f"import cycles: {cycles}; move what both need one layer down (CONTRIBUTING.md)"
