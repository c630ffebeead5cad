"""Every notebook is a test: papermill runs it with FAST = True injected after its parameters cell.

A notebook added under course/ or labs/ is picked up without editing this file. A notebook
that raises fails here, and papermill's error names the failing cell and shows its traceback.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from notebook_files import all_notebooks, notebook_id

NOTEBOOKS = all_notebooks()


def test_the_project_has_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert "index.ipynb" in names
    assert any(p.parent.name == "labs" for p in NOTEBOOKS), "no lab notebooks found under labs/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_notebook_is_committed_clean_with_a_parameters_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.lstrip().startswith("# "), \
        f"{path.name}: the first cell must be a markdown title ('# ...') that the gallery shows"
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    assert "FAST = False" in tagged[0].source, f"{path.name}: the parameters cell must set FAST = False"
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("outputs")]
    assert not with_outputs, f"{path.name}: commit notebooks without outputs (cells {with_outputs})"


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_notebook_runs_end_to_end(path: Path, data_cache: Path, tmp_path: Path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("RADLAB_FAST", "1")
    monkeypatch.setenv("RADLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("RADLAB_DATA", str(data_cache))
    out = Path(os.environ.get("RADLAB_NOTEBOOK_OUTPUT", tmp_path)) / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(path), str(out), parameters={"FAST": True}, kernel_name="python3",
        cwd=str(path.parent), execution_timeout=600, progress_bar=False,
    )
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} produced error outputs: {errors[:1]}"


def test_index_links_every_lab_and_course_notebook_and_every_link_resolves():
    import re

    from radlab.paths import PROJECT_ROOT

    index = nbformat.read(PROJECT_ROOT / "index.ipynb", as_version=4)
    text = "\n".join(c.source for c in index.cells if c.cell_type == "markdown")
    links = set(re.findall(r"\]\(([^)#]+\.ipynb)\)", text))
    missing = [notebook_id(p) for p in NOTEBOOKS if p.name != "index.ipynb" and notebook_id(p) not in links]
    assert not missing, f"index.ipynb does not link: {missing}"
    broken = [link for link in links if not (PROJECT_ROOT / link).is_file()]
    assert not broken, f"index.ipynb links to notebooks that do not exist: {broken}"
