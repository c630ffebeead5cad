"""Synthetic CT volumes: HU, nodules that end within a few slices, vessels that run through, two phases."""
from __future__ import annotations

import numpy as np
import pytest

from radlab.data.volumes import make_ct_volumes
from radlab.errors import DataError


@pytest.fixture(scope="module")
def vols():
    return make_ct_volumes(24, seed=5)


def test_volumes_are_in_hounsfield_units_with_air_lung_and_soft_tissue(vols):
    v = vols.volumes
    assert v.shape == (24, 16, 32, 32) and v.dtype == np.float32 and vols.units == "HU"
    assert np.percentile(v, 1) < -950                       # air around the body
    lung = v[:, :, 12:20, 4:10]                              # inside the right lung
    assert -950 < np.median(lung) < -700
    assert np.percentile(v, 99) > 0                          # soft tissue and blood


def test_a_nodule_ends_within_a_few_slices_while_vessels_run_through_all_of_them(vols):
    pos = vols.labels == 1
    assert 0 < pos.sum() < len(vols)
    spans = vols.slice_labels(min_voxels=1)[pos].sum(axis=1)
    assert spans.min() >= 1 and spans.max() <= 7             # a ball a few voxels across
    assert not vols.masks[~pos].any() and np.isnan(vols.radii[~pos]).all()
    # blood (vessels, heart) is what contrast brightens: it is present in every slice of every volume
    enhanced_blood = (vols.enhanced - vols.volumes) > 100
    assert enhanced_blood.any(axis=(2, 3)).all()


def test_the_venous_phase_brightens_blood_and_leaves_the_nodule_nearly_unchanged(vols):
    gain = vols.enhanced - vols.volumes
    core = vols.masks & (vols.volumes > -400)                # the nodule's solid voxels
    assert abs(np.mean(gain[core])) < 30
    assert np.percentile(gain, 99.5) > 120
    assert vols.phases().shape == (24, 2, 16, 32, 32)


def test_the_same_seed_gives_the_same_volumes_and_another_seed_others():
    a, b = make_ct_volumes(4, seed=1), make_ct_volumes(4, seed=1)
    assert np.array_equal(a.volumes, b.volumes) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.volumes, make_ct_volumes(4, seed=2).volumes)


def test_bad_sizes_are_refused_with_a_fix():
    with pytest.raises(DataError):
        make_ct_volumes(0)
    with pytest.raises(DataError):
        make_ct_volumes(4, depth=4)
