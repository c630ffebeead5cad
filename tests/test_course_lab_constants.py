"""The light exercise modules of Labs 10 and 11 repeat a few names of the heavy core; they must agree."""
from __future__ import annotations

import numpy as np

from radlab.course import lab10_segmentation as lab10
from radlab.course import lab11_low_dose_ct_denoising as lab11


def test_lab10_size_groups_and_thresholds_match_the_core():
    from radlab.segmentation import SIZE_GROUPS

    assert lab10.SIZE_GROUP_NAMES == tuple(name for name, *_ in SIZE_GROUPS)
    np.testing.assert_allclose(lab10.THRESHOLDS, np.arange(0.05, 0.96, 0.05), atol=1e-9)


def test_lab11_methods_match_the_core():
    from radlab.denoising import METHOD_NAMES

    assert set(lab11.METHODS) == set(METHOD_NAMES)
    for key, label in lab11.METHOD_LABELS.items():
        assert METHOD_NAMES[key] == label


def test_without_a_lab_the_run_questions_say_what_to_do_first():
    for module in (lab10, lab11):
        ex = module.exercises()
        run_based = [e for e in ex if not e.check(e.hints and "0.5", record=False).answered]
        assert run_based, f"{module.__name__}: no question reads the student's run"
        for e in run_based:
            assert "first" in e.check("0.5", record=False).message
