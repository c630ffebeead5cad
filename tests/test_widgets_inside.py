"""Lab 6: the image slider, layer dropdown and channel slider redraw the kernels and feature maps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from figures import plain_figure
from radlab.viz import model as V
from radlab.viz.conv import from_plotly_array
from radlab.widgets.inside import InsideCNNLab
from test_viz_model import SmallCNN


def z(fig, i: int = 0) -> np.ndarray:
    """The values panel ``i`` shows (a picture's hover values: the value last, after a mosaic's tile or a
    scaled map's row and column)."""
    values = from_plotly_array(fig.data[i].customdata)
    return values[..., -1] if values.ndim == 3 else values


@pytest.fixture()
def lab() -> InsideCNNLab:
    torch.manual_seed(0)
    images = np.random.default_rng(0).random((4, 32, 32), dtype=np.float32)
    return InsideCNNLab(SmallCNN(), images, labels=[0, 1, 0, 1], class_names=["no lesion", "lesion"])


def test_changing_the_layer_redraws_maps_and_kernels(lab):
    maps_before, kernels_before = z(lab.layer_fig, 2).copy(), z(lab.layer_fig, 3).copy()
    lab.layer_dropdown.value = "features.2.0"
    assert z(lab.layer_fig, 2).shape != maps_before.shape
    assert z(lab.layer_fig, 3).shape != kernels_before.shape or not np.allclose(z(lab.layer_fig, 3), kernels_before)
    assert lab.layer_fig.layout.title.text.startswith("conv 3 · features.2.0")
    assert lab.channel_slider.max == 7
    assert z(lab.layer_fig, 1).shape == (8, 8)


def test_changing_the_channel_shows_that_channels_map(lab):
    lab.channel_slider.value = 3
    fm = lab.feature_maps()
    np.testing.assert_allclose(z(lab.layer_fig, 1), fm.channel("features.0.0", 3))
    assert "channel 3" in lab.layer_fig.layout.annotations[1].text


def test_a_channel_beyond_a_smaller_layer_is_clamped():
    torch.manual_seed(0)
    lab = InsideCNNLab(SmallCNN(widths=(8, 4, 4)), np.zeros((2, 16, 16), dtype=np.float32))
    lab.channel_slider.value = 7
    lab.layer_dropdown.value = "features.1.0"
    assert lab.channel_slider.value == 3 and lab.channel == 3
    assert "channel 3" in lab.layer_fig.layout.annotations[1].text


def test_changing_the_image_runs_the_model_once_and_redraws(lab):
    passes = lab.extractor.forward_passes
    image_before, deep_before = z(lab.layer_fig, 0).copy(), z(lab.depth_fig, 2).copy()
    lab.image_slider.value = 2
    np.testing.assert_allclose(z(lab.layer_fig, 0), lab.images[2, 0])
    assert not np.allclose(z(lab.layer_fig, 0), image_before)
    assert not np.allclose(z(lab.depth_fig, 2), deep_before, equal_nan=True)
    assert "lesion" in lab.prediction.value
    lab.channel_slider.value = 1
    lab.layer_dropdown.value = "features.1.0"
    assert lab.extractor.forward_passes == passes + 1, "channel and layer changes re-slice the cached maps"


def test_exercise_answers_are_read_off_the_model():
    torch.manual_seed(0)
    ex = InsideCNNLab(SmallCNN(), np.zeros((2, 1, 32, 32), dtype=np.float32)).exercises
    assert ex.first_layer_weights.check(4 * 1 * 3 * 3, record=False).correct
    assert "biases" in ex.first_layer_weights.check(4 * 1 * 3 * 3 + 4, record=False).message
    assert ex.deep_size.check(8, record=False).correct
    assert "input image" in ex.deep_size.check(32, record=False).message
    assert ex.early_or_deep.check("the first conv layer", record=False).correct
    assert ex.receptive_field.check(5, record=False).correct
    assert "4 kernels of 3×3" in ex.first_layer_weights.question


def test_the_live_figures_equal_fresh_ones_after_every_control(lab):
    """Updated in place (pictures swapped, titles set), both figures equal ones drawn afresh."""
    for control, value in ((lab.image_slider, 3), (lab.channel_slider, 2), (lab.layer_dropdown, "features.1.0"),
                           (lab.channel_slider, 5), (lab.image_slider, 1), (lab.layer_dropdown, "features.0.0")):
        control.value = value
        fm = lab.feature_maps()
        fresh = V.layer_figure(fm, lab.layer, lab.channel, max_maps=lab.max_maps)
        assert plain_figure(lab.layer_fig, ("title", "annotations")) == plain_figure(fresh, ("title", "annotations"))
        deep = V.early_vs_deep_figure(fm, lab.layer_names[0], lab.layer_names[-1])
        assert plain_figure(lab.depth_fig, ("annotations",)) == plain_figure(deep, ("annotations",))
    assert all(trace.type == "image" for trace in (*lab.layer_fig.data, *lab.depth_fig.data))
