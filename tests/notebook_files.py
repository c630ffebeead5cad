"""Which notebooks the project has: every .ipynb under course/ and labs/, plus index.ipynb."""
from __future__ import annotations

from pathlib import Path

from radlab.paths import PROJECT_ROOT


def all_notebooks() -> list[Path]:
    found = [PROJECT_ROOT / "index.ipynb"]
    for folder in ("course", "labs"):
        found += sorted((PROJECT_ROOT / folder).rglob("*.ipynb"))
    return [p for p in found if p.is_file() and ".ipynb_checkpoints" not in p.parts]


def lab_notebooks() -> list[Path]:
    return [p for p in all_notebooks() if p.parent.name == "labs"]


def notebook_id(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))
