"""The course's concept map (course/concepts.yml) cannot rot.

Every concept the reviews teach names where RadLab explains, demonstrates and exercises it:
a notebook and a cell id, or a notebook and an exercise name. A location that no longer
exists (a renamed notebook, a deleted cell, a renamed exercise) fails here.
"""
from __future__ import annotations

from functools import cache
import nbformat
import pytest
import yaml

from radlab.paths import PROJECT_ROOT

MAP = PROJECT_ROOT / "course" / "concepts.yml"
KINDS = ("explained", "demonstrated", "exercised")
SEEDS = {"Yamashita2018", "Yasaka2018", "Kim2018", "Maier2019", "Intro"}


def _load() -> dict:
    return yaml.safe_load(MAP.read_text(encoding="utf-8"))


CONCEPTS = _load()["concepts"]


@cache
def _cell_ids(notebook: str) -> frozenset[str]:
    path = PROJECT_ROOT / f"{notebook}.ipynb"
    if not path.is_file():
        return frozenset()
    return frozenset(cell.get("id", "") for cell in nbformat.read(path, as_version=4).cells)


@cache
def _exercise_names(notebook: str) -> frozenset[str]:
    from radlab.course import exercises_for

    return frozenset(exercises_for(notebook).names())


def test_the_map_lists_every_concept_once_with_its_seed_papers():
    ids = [c["id"] for c in CONCEPTS]
    assert len(ids) == len(set(ids)), "a concept id appears twice"
    assert len(ids) >= 69, f"the reviews teach 69 concepts; the map has {len(ids)}"
    for concept in CONCEPTS:
        assert concept.get("title"), concept["id"]
        assert set(concept.get("seeds", [])) and set(concept["seeds"]) <= SEEDS, \
            f"{concept['id']}: seeds must be among {sorted(SEEDS)}"


@pytest.mark.parametrize("concept", CONCEPTS, ids=[c["id"] for c in CONCEPTS])
def test_every_location_in_the_map_exists(concept):
    for kind in KINDS:
        for where in concept.get(kind, []) or []:
            notebook = where["notebook"]
            assert (PROJECT_ROOT / f"{notebook}.ipynb").is_file(), \
                f"{concept['id']} ({kind}): no notebook {notebook}.ipynb"
            if "cell" in where:
                assert where["cell"] in _cell_ids(notebook), \
                    f"{concept['id']} ({kind}): {notebook}.ipynb has no cell with id {where['cell']!r}"
            if "exercise" in where:
                assert where["exercise"] in _exercise_names(notebook), \
                    f"{concept['id']} ({kind}): {notebook} has no exercise {where['exercise']!r}"
            assert "cell" in where or "exercise" in where, f"{concept['id']} ({kind}): give a cell or an exercise"


def test_every_concept_is_explained_and_demonstrated_and_most_are_exercised():
    explained = [c["id"] for c in CONCEPTS if c.get("explained")]
    demonstrated = [c["id"] for c in CONCEPTS if c.get("demonstrated")]
    exercised = [c["id"] for c in CONCEPTS if c.get("exercised")]
    n = len(CONCEPTS)
    print(f"concepts: {n}; explained {len(explained)} ({len(explained) / n:.0%}), demonstrated "
          f"{len(demonstrated)} ({len(demonstrated) / n:.0%}), exercised {len(exercised)} ({len(exercised) / n:.0%})")
    assert len(explained) == n, f"not explained: {sorted({c['id'] for c in CONCEPTS} - set(explained))}"
    floor = _load().get("targets", {})
    assert len(demonstrated) / n >= floor.get("demonstrated", 1.0), \
        f"not demonstrated: {sorted({c['id'] for c in CONCEPTS} - set(demonstrated))}"
    assert len(exercised) / n >= floor.get("exercised", 0.9), \
        f"not exercised: {sorted({c['id'] for c in CONCEPTS} - set(exercised))}"


def test_every_chapter_and_lab_appears_in_the_map():
    named = {w["notebook"] for c in CONCEPTS for kind in KINDS for w in c.get(kind, []) or []}
    notebooks = {str(p.relative_to(PROJECT_ROOT).with_suffix(""))
                 for folder in ("course", "labs") for p in sorted((PROJECT_ROOT / folder).glob("*.ipynb"))}
    assert notebooks <= named, f"notebooks the concept map never names: {sorted(notebooks - named)}"

