"""The previous way, for benchmarks that print before and after side by side in one run.

``baseline_tree()`` checks out the baseline commit (main before the issue-14 speed work) as a
git worktree under ``benchmarks/output/`` (git-ignored) once, and ``baseline_env(tree)`` gives
an environment whose ``import radlab`` (and ``python -m radlab``) is that tree's code when the
command runs with ``cwd=tree`` (Python puts the working directory first on ``sys.path``), so a
benchmark can run the same measurement on both trees in one run, on the same machine state.

    from baseline import baseline_tree, baseline_env
    old = baseline_tree(); env = baseline_env(old)   # then subprocess.run([...], env=env, cwd=old)
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: main before the issue-14/13 work of 2026-12-04 (the "now" column of issue 14's table).
BASELINE_REF = "2b8e5e7"


def baseline_tree(ref: str = BASELINE_REF) -> Path:
    """A worktree of ``ref`` (made on first use; needs the git history, e.g. a full clone)."""
    tree = ROOT / "benchmarks" / "output" / f"baseline-{ref}"
    if not (tree / "radlab" / "__init__.py").is_file():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(tree), ref],
                       check=True, capture_output=True, text=True)
    return tree


def baseline_env(tree: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with ``tree`` first on PYTHONPATH."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join([str(tree)] + [p for p in [out.get("PYTHONPATH")] if p])
    return out
