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


# --- the student environment, the hub image and its lock ------------------------------------------

LOCK = PROJECT_ROOT / "binder" / "requirements.lock"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]


def _binder_pip() -> list[str]:
    env = yaml.safe_load((PROJECT_ROOT / "binder" / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "binder/environment.yml needs exactly one pip: section"
    return pip_lists[0]


def _lock_pins() -> list[Requirement]:
    """The lock's requirement lines (``name==version ; marker``), comments dropped."""
    lines = [line.split("#", 1)[0].strip() for line in LOCK.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def test_the_student_environment_has_no_test_tools():
    runtime = {_canonical(Requirement(r).name) for r in _pyproject()["dependencies"]}
    test_only = {_canonical(Requirement(r).name) for r in _pyproject()["optional-dependencies"]["test"]}
    assert not runtime & test_only, f"listed as both runtime and test: {runtime & test_only}"
    for tool in ("pytest", "playwright", "captum", "grad-cam", "torchmetrics", "papermill"):
        assert _canonical(tool) in test_only and _canonical(tool) not in runtime, tool
    assert "scikit-image" in runtime  # radon/iradon, Otsu, nl-means and GLCM in the labs
    env_reqs, _ = _environment_requirements()
    assert not set(map(_canonical, env_reqs)) & test_only


def test_the_hub_image_installs_cpu_torch_and_the_locked_student_environment():
    pip = _binder_pip()
    options = [line for line in pip if line.startswith("-")]
    assert f"--extra-index-url {CPU_INDEX}" in options or f"--index-url {CPU_INDEX}" in options
    assert "-c requirements.lock" in options  # relative to binder/: conda and mamba run pip there
    assert (PROJECT_ROOT / "binder" / "requirements.lock").is_file()
    packages = {Requirement(line).name.lower(): str(Requirement(line).specifier)
                for line in pip if not line.startswith("-")}
    assert packages == _pyproject_requirements()  # the student environment: no test extras


def test_the_lock_pins_every_dependency_inside_its_range():
    """Every runtime and test dependency is pinned, and every pin satisfies pyproject's range."""
    pins: dict[str, list[Requirement]] = {}
    for pin in _lock_pins():
        (spec,) = list(pin.specifier)
        assert spec.operator == "==", f"{pin}: the lock pins exact versions"
        pins.setdefault(_canonical(pin.name), []).append(pin)
    wanted = [Requirement(r) for r in _pyproject()["dependencies"]]
    wanted += [Requirement(r) for r in _pyproject()["optional-dependencies"]["test"]]
    refresh = "refresh the lock: python3 make.py lock"
    for req in wanted:
        found = pins.get(_canonical(req.name))
        assert found, f"{req.name} is a dependency but not in binder/requirements.lock; {refresh}"
        for pin in found:
            version = next(iter(pin.specifier)).version
            assert req.specifier.contains(version, prereleases=True), \
                f"the lock pins {pin} outside pyproject's {req}; {refresh}"


def test_the_locked_torch_has_no_local_build_label_so_the_cpu_wheel_satisfies_it():
    """``torch==2.14.1`` admits the CPU index's ``2.14.1+cpu``; ``==2.14.1+cu130`` would not."""
    from packaging.specifiers import SpecifierSet

    for pin in _lock_pins():
        if _canonical(pin.name) in ("torch", "torchvision"):
            version = next(iter(pin.specifier)).version
            assert "+" not in version
            assert f"{version}+cpu" in SpecifierSet(f"=={version}")


def test_the_environment_files_point_to_the_readme_section_on_cpu_torch():
    readme = (PROJECT_ROOT / "README.md").read_text()
    comment = (PROJECT_ROOT / "environment.yml").read_text()
    title = "CPU-only PyTorch (saves ~5 GB)"
    assert f'"{title}"' in comment
    assert f"## {title}" in readme or f"### {title}" in readme
    assert CPU_INDEX in readme
    assert "python3 make.py lock" in readme  # how to refresh the lock
