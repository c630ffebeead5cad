"""binder/config.yaml, merged over the zero-to-jupyterhub chart's defaults, fits the chart's schema.

The chart's values.yaml and values.schema.yaml are in ../shared/z2jh/ (see its README). Helm merges
a user's values over the defaults (dicts key by key, anything else replaced); the chart's own
tools validate the merged values with jsonschema. The commented authenticator example is
validated uncommented too, and every YAML mapping is checked for duplicate keys (which
yaml.safe_load would silently resolve to the last one).
"""
from __future__ import annotations

import re

import pytest
import yaml

from radlab.paths import PROJECT_ROOT

jsonschema = pytest.importorskip("jsonschema")

CONFIG = PROJECT_ROOT / "binder" / "config.yaml"
Z2JH = PROJECT_ROOT.parent / "shared" / "z2jh"
# Measured per-student figures (benchmarks/class_sim.py, 10 students, 2026-12-05): one student in
# the training lab (their server + the lab's kernel, PSS), and the training lab's kernel at its peak.
STUDENT_PSS_MB = 706
TRAINING_PEAK_MB = 1018


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key(s) {sorted(dupes)}",
                                                    node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _load(text: str):
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass


def _merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: _merge(base[k], v) if k in base else v for k, v in over.items()} | \
               {k: v for k, v in base.items() if k not in over}
    return over


def _uncomment_example(text: str) -> str:
    lines, out, inside = text.splitlines(), [], False
    for line in lines:
        if "BEGIN authenticator example" in line:
            inside = True
            continue
        if "END authenticator example" in line:
            inside = False
            continue
        out.append(re.sub(r"^(\s*)# ", r"\1", line) if inside else line)
    assert not inside, "the authenticator example has a BEGIN without an END"
    return "\n".join(out) + "\n"


def _validate(values: dict) -> list[str]:
    schema = yaml.safe_load((Z2JH / "values.schema.yaml").read_text())
    defaults = yaml.safe_load((Z2JH / "values.yaml").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(_merge(defaults, values))]


def _bytes(quantity: str | int) -> float:
    m = re.fullmatch(r"([\d.]+)\s*([KMGT]i?)?", str(quantity))
    assert m, f"not a Kubernetes quantity: {quantity!r}"
    unit = {None: 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]
    return float(m.group(1)) * unit


pytestmark = pytest.mark.skipif(not (Z2JH / "values.schema.yaml").is_file(),
                                reason=f"the chart's schema is not in {Z2JH} (see its README)")


def test_config_merged_over_the_chart_defaults_validates_against_the_chart_schema():
    values = _load(CONFIG.read_text())
    assert _validate(values) == []


def test_the_authenticator_example_uncommented_has_no_duplicate_key_and_validates():
    text = _uncomment_example(CONFIG.read_text())
    values = _load(text)  # raises on a duplicate key such as a second `JupyterHub:`
    config = values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "github"
    assert config["JupyterHub"]["admin_access"] is True
    assert "client_id" in config["GitHubOAuthenticator"]
    assert _validate(values) == []


def test_the_duplicate_key_check_catches_a_second_key():
    with pytest.raises(yaml.constructor.ConstructorError, match="JupyterHub"):
        _load("hub:\n  config:\n    JupyterHub: {a: 1}\n    JupyterHub: {b: 2}\n")


def test_memory_guarantee_and_limit_follow_from_the_measured_kernel_sizes():
    memory = _load(CONFIG.read_text())["singleuser"]["memory"]
    guarantee, limit = _bytes(memory["guarantee"]), _bytes(memory["limit"])
    assert guarantee >= STUDENT_PSS_MB * 1e6, "the guarantee must hold one student in the training lab"
    assert limit >= TRAINING_PEAK_MB * 1e6 + guarantee / 2, "the limit must hold the training lab at its peak"
    assert limit >= guarantee
    text = CONFIG.read_text()
    assert str(STUDENT_PSS_MB) in text and str(TRAINING_PEAK_MB) in text, "say where the sizes come from"
