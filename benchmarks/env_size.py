"""How big the student environment is, with the CUDA build of PyTorch vs the CPU build.

Measures the installed packages of the running environment (.venv): radlab's runtime
dependencies and everything they pull in, file by file from each package's RECORD. The CPU
build's size is the unpacked size of a CPU wheel of torch given on the command line (the PyTorch
CPU index is not reachable from every machine), in place of the CUDA build and its CUDA
libraries. Prints `name: value` lines (sizes in MB = 2**20 bytes).

    .venv/bin/python benchmarks/env_size.py [path/to/torch-X+cpu-....whl]
"""
from __future__ import annotations

import re
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, distribution, requires
from pathlib import Path

from packaging.requirements import Requirement

MB = 2**20
CUDA_ONLY = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")  # what torch's CUDA build adds on Linux


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: list[Requirement]) -> set[str]:
    """Installed distributions needed by ``roots``, following extras and environment markers."""
    seen: dict[str, set[str]] = {}  # distribution -> the extras already followed
    todo = list(roots)
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        extras = {""} | set(req.extras)
        if name in seen and extras <= seen[name]:
            continue
        try:
            distribution(name)
        except PackageNotFoundError:
            continue  # a marker-less optional we do not have: not part of this environment
        seen[name] = seen.get(name, set()) | extras
        for line in requires(name) or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return set(seen)


def installed_mb(name: str) -> float:
    """Bytes on disk of a distribution's files (its RECORD), in MB."""
    dist = distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total / MB


def runtime_requirements(extra: str = "") -> list[Requirement]:
    reqs = [Requirement(r) for r in requires("radlab") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": extra})]


def main(argv: list[str]) -> int:
    student = closure(runtime_requirements())
    developer = closure(runtime_requirements("test"))
    sizes = {name: installed_mb(name) for name in developer}
    student_mb = sum(sizes[n] for n in student)
    cuda_libs = sorted(n for n in student if CUDA_ONLY.match(n))
    cuda_mb = sum(sizes[n] for n in cuda_libs)
    print(f"student_packages: {len(student)}")
    print(f"student_env_mb_as_installed: {student_mb:.0f}")
    print(f"torch_version_installed: {distribution('torch').version}")
    print(f"torch_package_mb: {sizes['torch']:.0f}")
    print(f"cuda_libraries_mb: {cuda_mb:.0f}  ({len(cuda_libs)} packages: nvidia-*, cuda-*, triton)")
    print(f"test_extras_add_mb: {sum(sizes[n] for n in developer - student):.0f}  "
          f"({len(developer - student)} packages)")
    if argv:
        with zipfile.ZipFile(argv[0]) as wheel:
            cpu_torch_mb = sum(i.file_size for i in wheel.infolist()) / MB
        print(f"torch_cpu_wheel_mb_unpacked: {cpu_torch_mb:.0f}  ({Path(argv[0]).name}, "
              f"{Path(argv[0]).stat().st_size / MB:.0f} MB download)")
        cpu_mb = student_mb - cuda_mb - sizes["torch"] + cpu_torch_mb
        print(f"student_env_mb_with_cpu_torch: {cpu_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
