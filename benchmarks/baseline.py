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
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: main before the issue-14/13 work of 2026-12-04 (the "now" column of issue 14's table);
#: RADLAB_BASELINE_REF=<commit> compares with another commit (e.g. the last one, for one change).
BASELINE_REF = os.environ.get("RADLAB_BASELINE_REF", "2b8e5e7")


def baseline_commit(ref: str = BASELINE_REF) -> str:
    """The full hash of the commit ``ref`` names now; exit with a message when it names none."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"baseline: {ref!r} names no commit of this repository "
                         "(set RADLAB_BASELINE_REF to a commit, e.g. HEAD or a hash from git log)")
    return found.stdout.strip()


def baseline_tree(ref: str = BASELINE_REF) -> Path:
    """A worktree of ``ref`` (made on first use; needs the git history, e.g. a full clone).

    The folder is named by the commit ``ref`` names now, so a moving name (``HEAD``, a branch) gets a
    new worktree after each commit instead of the one made the first time (that compared with a stale tree).
    """
    commit = baseline_commit(ref)
    tree = ROOT / "benchmarks" / "output" / f"baseline-{commit[:12]}"
    if not (tree / "radlab" / "__init__.py").is_file():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(tree), commit],
                       check=True, capture_output=True, text=True)
    return tree


def baseline_env(tree: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with ``tree`` first on PYTHONPATH."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join([str(tree)] + [p for p in [out.get("PYTHONPATH")] if p])
    return out


def serve_options(env: dict[str, str]) -> dict:
    """``serve_labs`` options for the tree whose ``radlab`` ``env`` imports (first on its PYTHONPATH, else this one).

    A tree from before RadLab's execution socket (``NotebookRun`` in its ``radlab/serve.py``) is served
    with ``progressive=False``, as it was: this tree's command line would turn on Voilà's progressive
    rendering in that tree's server, which would then use Voilà's own socket (it runs a notebook only
    once the page's scripts ask, and goes on after a failing cell), a way RadLab never served a page.
    """
    first = (env.get("PYTHONPATH") or "").split(os.pathsep)[0]
    tree = Path(first) if first and (Path(first) / "radlab" / "serve.py").is_file() else ROOT
    return {} if "class NotebookRun" in (tree / "radlab" / "serve.py").read_text() else {"progressive": False}


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, for the figures a benchmark prints."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def chosen_labs(names: list[str] | None, program: str) -> list[str]:
    """Lab notebook file names from stems or file names (every lab under labs/ when none); exit 2 on a typo."""
    every = sorted(p.name for p in (ROOT / "labs").glob("*.ipynb"))
    wanted = [name if name.endswith(".ipynb") else f"{name}.ipynb" for name in names or every]
    unknown = sorted(set(wanted) - set(every))
    if unknown:
        print(f"{program}: no such lab under labs/: {', '.join(unknown)} (choose from {', '.join(every)})",
              file=sys.stderr)
        raise SystemExit(2)
    return wanted


def lab_copies(scratch: Path, labs: list[str], env: dict[str, str], *, baseline: bool,
               before_first: bool = False) -> list[tuple[str, Path, dict[str, str]]]:
    """("after" | "before", a folder holding copies of ``labs`` alone, the environment to serve it with).

    "after" is this tree's labs with ``env``; "before" (with ``baseline``) the baseline tree's
    labs with :func:`baseline_env`, so their kernels import the old ``radlab``. Copies, so that a
    server (and a kernel pool) sees only the labs measured.
    """
    sources = [("after", ROOT / "labs", env)]
    if baseline:
        tree = baseline_tree()
        sources.append(("before", tree / "labs", baseline_env(tree, env)))
    out = []
    for label, source, tree_env in (sources[::-1] if before_first else sources):
        folder = scratch / f"labs-{label}"
        folder.mkdir()
        for name in labs:
            shutil.copy(source / name, folder / name)
        out.append((label, folder, tree_env))
    return out
