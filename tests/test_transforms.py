"""Model input from every intensity unit, and per-image batch augmentation on the device."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from radlab.data.transforms import AUGMENTATIONS, augmentation, to_model_input
from radlab.errors import DataError


def test_uint8_images_become_a_channel_first_float_tensor_in_unit_range():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    x = to_model_input(images)
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32
    assert torch.allclose(x[0, 0], torch.tensor([[0.0, 1.0], [0.2, 0.4]]))


def test_hounsfield_units_are_windowed_to_unit_range():
    hu = np.array([[[-1000.0, -160.0], [40.0, 240.0]]])  # air, window bottom, level, window top
    x = to_model_input(hu, units="HU", level_hu=40, width_hu=400)
    assert torch.allclose(x[0, 0], torch.tensor([[0.0, 0.0], [0.5, 1.0]]))


def test_volumes_get_a_channel_axis_too():
    assert to_model_input(np.zeros((2, 4, 8, 8), np.float32), units="unit").shape == (2, 1, 4, 8, 8)


def test_unit_images_are_clipped_and_bad_units_or_values_are_explained():
    x = to_model_input(np.array([[[-0.5, 1.5]]]), units="unit")
    assert x.min() == 0 and x.max() == 1
    with pytest.raises(DataError, match="units"):
        to_model_input(np.zeros((1, 2, 2)), units="kelvin")
    with pytest.raises(DataError, match="0..255"):
        to_model_input(np.full((1, 2, 2), 900.0), units="uint8")


def test_flip_mirrors_each_image_on_its_own_exactly():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 12, 12)
    out = augmentation(["flip"])(x)
    same = [torch.allclose(o, i, atol=1e-5) for o, i in zip(out, x)]
    flipped = [torch.allclose(o, i.flip(-1), atol=1e-5) for o, i in zip(out, x)]
    assert all(s or f for s, f in zip(same, flipped))
    assert 10 < sum(flipped) < 54, "each image should be flipped with its own coin toss"


def test_shift_moves_by_whole_pixels_within_the_limit():
    torch.manual_seed(1)
    x = torch.rand(16, 1, 28, 28)
    out = augmentation(["shift"])(x)
    for o, i in zip(out, x):
        errors = {(dy, dx): (o[0, 3:-3, 3:-3] - torch.roll(i[0], (dy, dx), (0, 1))[3:-3, 3:-3]).abs().max().item()
                  for dy in range(-2, 3) for dx in range(-2, 3)}
        assert min(errors.values()) < 1e-5


def test_a_mask_moves_with_its_image_and_stays_binary():
    torch.manual_seed(2)
    x = torch.zeros(8, 1, 16, 16)
    x[:, :, 4:8, 3:7] = 1.0
    mask = x.clone()
    out, out_mask = augmentation(["flip", "shift", "rotate"])(x, mask, target_mode="nearest")
    assert set(out_mask.unique().tolist()) <= {0.0, 1.0}
    agree = ((out > 0.5) == (out_mask > 0.5)).float().mean()
    assert agree > 0.97


def test_noise_and_contrast_change_only_the_image_and_stay_in_range():
    torch.manual_seed(3)
    x, target = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    out, same_target = augmentation(["noise", "contrast"])(x, target)
    assert not torch.equal(out, x) and torch.equal(same_target, target)
    assert out.min() >= 0 and out.max() <= 1


def test_every_named_augmentation_keeps_shape_and_unknown_names_are_refused():
    x = torch.rand(3, 1, 10, 10)
    for name in AUGMENTATIONS:
        assert augmentation([name])(x).shape == x.shape
    assert augmentation([]) is None and augmentation(None) is None
    with pytest.raises(DataError, match="unknown augmentation"):
        augmentation(["mixup"])


def test_a_callable_such_as_a_torchvision_transform_runs_after_the_named_ones():
    out = augmentation(["flip", lambda t: t * 0])(torch.rand(2, 1, 6, 6))
    assert torch.equal(out, torch.zeros(2, 1, 6, 6))
