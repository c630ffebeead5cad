"""benchmarks/baseline.py: the "before" tree of a side-by-side benchmark is the commit its ref names now."""
from __future__ import annotations

import importlib.util
import subprocess

import pytest

from radlab.paths import PROJECT_ROOT


def _baseline():
    spec = importlib.util.spec_from_file_location("baseline_under_test", PROJECT_ROOT / "benchmarks" / "baseline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_moving_ref_names_the_commit_it_points_at_now():
    """HEAD resolves to its commit (the worktree is named by it), so a benchmark after a new commit
    compares with that commit, not with the tree made for HEAD the first time."""
    head = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    assert _baseline().baseline_commit("HEAD") == head.stdout.strip()


def test_a_ref_that_names_no_commit_says_what_to_set():
    with pytest.raises(SystemExit, match="RADLAB_BASELINE_REF"):
        _baseline().baseline_commit("no-such-ref-xyz")


def test_a_tree_from_before_radlabs_execution_socket_is_served_whole_page_as_it_was(tmp_path):
    """This tree's command line turns on Voilà's progressive rendering; an older tree's server would hand
    it to Voilà's own socket, a way RadLab never served, so a benchmark serves that tree with whole pages."""
    old = tmp_path / "old"
    (old / "radlab").mkdir(parents=True)
    (old / "radlab" / "serve.py").write_text("class RadlabVoila: ...\n")
    baseline = _baseline()
    assert baseline.serve_options({"PYTHONPATH": str(old)}) == {"progressive": False}
    assert baseline.serve_options({}) == {}   # this tree: served as radlab serve serves it
