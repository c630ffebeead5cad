"""environment.yml (conda/JupyterHub/Binder) and pyproject.toml describe the same environment."""
from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement

from radlab.paths import PROJECT_ROOT


def _pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    reqs = [Requirement(r) for r in data["project"]["dependencies"]]
    return {r.name.lower(): str(r.specifier) for r in reqs}


def _environment_requirements() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: section"
    reqs, other = {}, []
    for line in pip_lists[0]:
        if line.startswith("-e"):
            other.append(line)
            continue
        r = Requirement(line)
        reqs[r.name.lower()] = str(r.specifier)
    return reqs, other


def test_environment_yml_lists_the_same_packages_and_ranges_as_pyproject():
    env_reqs, _ = _environment_requirements()
    assert env_reqs == _pyproject_requirements()


def test_environment_yml_installs_radlab_itself():
    _, other = _environment_requirements()
    assert "-e ." in other


def test_torch_range_admits_the_release_on_these_machines():
    spec = _pyproject_requirements()["torch"]
    from packaging.specifiers import SpecifierSet

    assert "2.14.1" in SpecifierSet(spec)
    assert "==" not in spec
