"""Bad inputs a RadLab user can meet, and what they see: the source of ``docs/bad-inputs.md``.

Each case builds one bad input in an empty temporary folder, does what a user would do with
it (a ``radlab`` command, or the call a notebook makes) and returns the message RadLab shows.
Paths are written relative to that folder, as a user who typed a relative path sees them.

    .venv/bin/python tests/bad_inputs.py      # rewrite docs/bad-inputs.md from the cases

``tests/test_bad_inputs.py`` runs every case (each must give a clean message, no traceback)
and fails when the committed table differs from what the cases print now.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "bad-inputs.md"


@dataclass(frozen=True)
class Case:
    """One bad input: where it happens, what it is, what the user does, and how to reproduce it."""

    area: str
    bad_input: str
    action: str
    run: Callable[[Path], str]  # gets an empty folder (the current directory), returns the message


@contextlib.contextmanager
def _inside(folder: Path, **env: str) -> Iterator[None]:
    """Run in ``folder`` with RADLAB_DATA=cache and the given environment, then restore both."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.pop("RADLAB_CARDS", None)
    os.environ.update({"RADLAB_DATA": "cache", **env})
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def _cli(*args: str) -> str:
    """What ``radlab ARGS`` prints (both streams) and its exit status."""
    from radlab import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return f"{out.getvalue()}{err.getvalue()}".rstrip() + f"\n(exit status {status})"


def _error(call: Callable[[], object]) -> str:
    """The message of the RadlabError a notebook call raises (what the notebook shows, minus the type)."""
    from radlab.errors import RadlabError

    try:
        call()
    except RadlabError as err:
        return f"{type(err).__name__}: {err}"
    raise AssertionError("no error was raised for a bad input")


# --- DICOM ------------------------------------------------------------------------------------

def _not_dicom(folder: Path) -> str:
    from radlab.data.dicom import read_dicom

    Path("notes.dcm").write_text("Patient seen on Monday; CT to follow.\n")
    return _error(lambda: read_dicom("notes.dcm"))


def _truncated_dicom(folder: Path) -> str:
    from radlab.data.dicom import read_dicom, sample_files

    data = sample_files(["CT_small.dcm"])["CT_small.dcm"].read_bytes()
    Path("CT_cut.dcm").write_bytes(data[: len(data) * 2 // 3])
    return _error(lambda: read_dicom("CT_cut.dcm"))


def _empty_file(folder: Path) -> str:
    from radlab.data.dicom import read_dicom

    Path("empty.dcm").write_bytes(b"")
    return _error(lambda: read_dicom("empty.dcm"))


# --- datasets ---------------------------------------------------------------------------------

def _wrong_checksum(folder: Path) -> str:
    Path("pneumoniamnist.npz").write_bytes(b"a file that is not the official release\n")
    return _cli("fetch", "pneumoniamnist", "--from", "pneumoniamnist.npz")


def _corrupt_archive(folder: Path) -> str:
    Path("pneumoniamnist.npz").write_bytes(b"PK\x03\x04 a zip archive cut short")
    return _cli("fetch", "pneumoniamnist", "--from", "pneumoniamnist.npz", "--unofficial")


def _unknown_dataset(folder: Path) -> str:
    return _cli("fetch", "pneumonia")


def _offline_fetch(folder: Path) -> str:
    import pooch

    def no_network(url, **kwargs):  # what requests raises when the name does not resolve
        raise ConnectionError(f"Failed to resolve '{url.split('/')[2]}' (Name or service not known)")

    real = pooch.retrieve
    pooch.retrieve = no_network
    try:
        return _cli("fetch", "pneumoniamnist")
    finally:
        pooch.retrieve = real


def _missing_dataset(folder: Path) -> str:
    from radlab.data.medmnist import load_medmnist

    return _error(lambda: load_medmnist("pneumoniamnist"))


# --- splits -----------------------------------------------------------------------------------

def _split_not_json(folder: Path) -> str:
    from radlab.data.splits import Split

    Path("split.json").write_text("train: 1, 2, 3\n")
    return _error(lambda: Split.load("split.json"))


def _split_other_json(folder: Path) -> str:
    from radlab.data.splits import Split

    Path("split.json").write_text('{"train": [0, 1], "test": [2]}\n')
    return _error(lambda: Split.load("split.json"))


def _split_other_dataset(folder: Path) -> str:
    from radlab.data.splits import Split, split_by_image

    split_by_image([0, 1] * 20, seed=0).save("split.json")
    return _error(lambda: Split.load("split.json", n_images=624))


# --- checkpoints ------------------------------------------------------------------------------

def _damaged_checkpoint(folder: Path) -> str:
    import torch

    from radlab.runs import read_checkpoint, save_checkpoint

    save_checkpoint("best.pt", torch.nn.Linear(64, 2), epoch=3)
    data = Path("best.pt").read_bytes()
    Path("best.pt").write_bytes(data[: len(data) // 2])  # the end of the file never reached the disk
    return _error(lambda: read_checkpoint("best.pt"))


def _missing_checkpoint(folder: Path) -> str:
    from radlab.runs import read_checkpoint

    return _error(lambda: read_checkpoint("runs/none/best.pt"))


# --- exercise answers -------------------------------------------------------------------------

def _answer(value: object) -> Callable[[Path], str]:
    def run(folder: Path) -> str:
        from radlab.exercises import Exercise

        question = Exercise("output_size", "How many pixels wide is the output of a 3 × 3 kernel on a "
                            "28-pixel image, stride 1, no padding?", answer=26,
                            hints=["Count the positions the kernel can take.", "28 − 3 + 1."])
        return str(question.check(value, record=False))
    return run


CASES: list[Case] = [
    Case("DICOM", "a text file named `.dcm`", "`read_dicom(\"notes.dcm\")` (Lab 1, chapters)", _not_dicom),
    Case("DICOM", "a DICOM file cut short (copy interrupted)", "`read_dicom(\"CT_cut.dcm\")`", _truncated_dicom),
    Case("DICOM", "an empty file", "`read_dicom(\"empty.dcm\")`", _empty_file),
    Case("datasets", "a copy that is not the official release", "`radlab fetch pneumoniamnist --from FILE`",
         _wrong_checksum),
    Case("datasets", "a damaged archive, even when accepted as unofficial",
         "`radlab fetch pneumoniamnist --from FILE --unofficial`", _corrupt_archive),
    Case("datasets", "a misspelt dataset name", "`radlab fetch pneumonia`", _unknown_dataset),
    Case("datasets", "no network (the transfer's own error text varies; here a name that does not "
         "resolve)", "`radlab fetch pneumoniamnist`", _offline_fetch),
    Case("datasets", "a dataset not fetched yet", "`load_medmnist(\"pneumoniamnist\")` (labs 3, 4)",
         _missing_dataset),
    Case("splits", "a split file that is not JSON", "`Split.load(\"split.json\")` (Lab 2)", _split_not_json),
    Case("splits", "a JSON file that is not a RadLab split", "`Split.load(\"split.json\")`", _split_other_json),
    Case("splits", "a split made for another dataset", "`Split.load(\"split.json\", n_images=624)`",
         _split_other_dataset),
    Case("checkpoints", "a damaged checkpoint", "`read_checkpoint(\"best.pt\")` (labs 3, 4, 6–8)",
         _damaged_checkpoint),
    Case("checkpoints", "a checkpoint that is not there", "`read_checkpoint(\"runs/none/best.pt\")`",
         _missing_checkpoint),
    Case("exercises", "a list where a number is expected", "`ex.output_size.check([26])`", _answer([26])),
    Case("exercises", "NaN", "`ex.output_size.check(float(\"nan\"))`", _answer(float("nan"))),
    Case("exercises", "text where a number is expected", "`ex.output_size.check(\"twenty-six\")`",
         _answer("twenty-six")),
    Case("exercises", "an empty answer", "`ex.output_size.check(\"\")`", _answer("")),
    Case("exercises", "a 10,000-character answer", "`ex.output_size.check(\"9\" * 10_000)`",
         _answer("9" * 10_000)),
]


def run_case(case: Case) -> str:
    """Run one case in a fresh temporary folder; the message with that folder's path removed."""
    folder = Path(tempfile.mkdtemp(prefix="radlab-bad-input-"))
    try:
        with _inside(folder):
            message = case.run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for prefix in (str(folder.resolve()), str(folder)):
        message = message.replace(prefix + os.sep, "").replace(prefix, ".")
    return re.sub(r"\.(\w+)\.(\d+)\.part", r".\1.<pid>.part", message)


def _cell(text: str) -> str:
    """A Markdown table cell holding ``text`` verbatim: one code span per line."""
    def span(line: str) -> str:
        fence = "``" if "`" in line else "`"
        return f"{fence} {line} {fence}" if fence == "``" else f"`{line}`"
    return "<br>".join(span(line.replace("|", "\\|")) for line in text.splitlines() if line.strip())


def render(messages: list[str] | None = None) -> str:
    """docs/bad-inputs.md as the cases give it now (or with the case messages already run)."""
    messages = messages if messages is not None else [run_case(case) for case in CASES]
    lines = [
        "# Bad inputs and what the user sees",
        "",
        "Generated by `tests/bad_inputs.py` from what RadLab prints today; `tests/test_bad_inputs.py`",
        "fails when this file is stale. Refresh: `.venv/bin/python tests/bad_inputs.py`.",
        "Every message names the file (when there is one) and says how to fix it; none is a traceback.",
        "Paths are shown relative to the folder the user works in; `cache/` is the data cache.",
        "",
        "| area | bad input | what the user does | what the user sees |",
        "|---|---|---|---|",
    ]
    for case, message in zip(CASES, messages, strict=True):
        lines.append(f"| {case.area} | {case.bad_input} | {case.action} | {_cell(message)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    DOC.parent.mkdir(parents=True, exist_ok=True)
    tmp = DOC.with_name(f".{DOC.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, DOC)
    print(f"wrote {DOC.relative_to(ROOT)}: {len(CASES)} bad inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
