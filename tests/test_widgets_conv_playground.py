"""Lab 5: typing a kernel entry, changing stride/padding/pooling or the step redraws the figures."""
from __future__ import annotations

import numpy as np
import pytest

from radlab.viz import conv as C
from radlab.viz.conv import from_plotly_array
from figures import trace_named
from radlab.widgets.conv_playground import (KERNEL_LIMIT, ConvPlaygroundLab, playground_images,
                                            toy_square)


def z(fig, name: str) -> np.ndarray:
    """The values a panel shows: its picture's hover values (row, col, value)."""
    return from_plotly_array(trace_named(fig, name).customdata)[..., 2]


@pytest.fixture()
def lab() -> ConvPlaygroundLab:
    rng = np.random.default_rng(0)
    return ConvPlaygroundLab({"toy": toy_square(), "noise 32": rng.random((32, 32), dtype=np.float32)})


def test_editing_one_kernel_entry_redraws_the_feature_map(lab):
    before = z(lab.fig, "feature map").copy()
    lab.kernel_boxes[4].value = 2.5
    kern = C.kernel("edge: Sobel x (vertical edges)")
    kern[1, 1] = 2.5
    np.testing.assert_allclose(z(lab.fig, "feature map"), C.conv2d(toy_square(), kern, padding=1), atol=1e-6)
    assert not np.allclose(z(lab.fig, "feature map"), before)
    assert lab.preset_dropdown.value == "custom"


def test_choosing_a_preset_fills_the_boxes_and_redraws(lab):
    lab.preset_dropdown.value = "blur: Gaussian"
    np.testing.assert_allclose(lab.kernel_value(), C.kernel("blur: Gaussian"))
    np.testing.assert_allclose(z(lab.fig, "feature map"), C.conv2d(toy_square(), C.kernel("blur: Gaussian"), padding=1),
                               atol=1e-6)
    lab.kernel_boxes[0].value = 0.0625            # typing a preset's values back selects that preset
    assert lab.preset_dropdown.value == "blur: Gaussian"


def test_stride_and_padding_change_the_map_size_and_the_formula(lab):
    lab.image_dropdown.value = "noise 32"
    assert z(lab.fig, "feature map").shape == (32, 32)
    lab.stride_slider.value = 2
    lab.padding_slider.value = 0
    assert z(lab.fig, "feature map").shape == (15, 15) and z(lab.fig, "pooled map").shape == (7, 7)
    assert "(32 + 2·0 − 3)/2 + 1" in lab.formula.value
    assert lab.position_slider.max == 15 * 15 - 1


def test_pooling_and_activation_controls_redraw_the_pooled_map(lab):
    lab.image_dropdown.value = "noise 32"
    lab.pool_slider.value = 4
    assert z(lab.fig, "pooled map").shape == (8, 8)
    lab.activation_dropdown.value = "ReLU"
    assert z(lab.fig, "feature map").min() >= 0
    assert "ReLU" in lab.fig.layout.annotations[1].text


def test_step_slider_moves_the_kernel_window_and_shows_the_sum(lab):
    lab.position_slider.value = 23
    step, _ = lab.step
    assert (step.row, step.col) == divmod(23, 10)
    window = trace_named(lab.step_fig, "kernel window")
    n = step.padded.shape[0]
    assert min(window.x) == C.pixel_to_panel(step.left - 0.5, n) and min(window.y) == C.pixel_to_panel(step.top - 0.5, n)
    assert z(lab.step_fig, "products") == pytest.approx(step.patch * step.kernel)
    assert f"{step.value:.3f}" in lab.step_fig.layout.annotations[4].text


def test_a_smaller_map_pulls_the_step_back_inside(lab):
    lab.position_slider.value = 99
    lab.stride_slider.value = 3
    assert lab.position_slider.value <= lab.position_slider.max == 4 * 4 - 1
    assert lab.step[0].position == lab.position_slider.value


def test_kernel_entries_are_validated(lab):
    lab.kernel_boxes[0].value = float("nan")
    assert lab.kernel_boxes[0].value == 0.0
    lab.kernel_boxes[1].value = 1e12
    assert lab.kernel_boxes[1].value == KERNEL_LIMIT
    assert np.isfinite(z(lab.fig, "feature map")).all()


def test_exercises_accept_the_right_answers_and_hint_otherwise():
    from radlab.course import lab05_convolution_playground as lab05
    from radlab.viz import conv as C

    ex = lab05.exercises()
    assert ex.output_size.check(C.output_size(64, 3, 1, 2), record=False).correct
    assert not ex.output_size.check(33, record=False).correct
    assert "rounded down" in ex.output_size.check(33, record=False).message
    assert ex.vertical_edges.check("edge: Sobel x (vertical edges)", record=False).correct
    assert ex.same_padding.check(2, record=False).correct and ex.pooling.check(C.output_size(32, 2, 0, 2)).correct
    assert ex.last_layer.check("sigmoid", record=False).correct
    assert set(lab05.KERNEL_CHOICES) <= set(C.KERNELS)
    assert all(lab05._size(n, k, p, s) == C.output_size(n, k, p, s) for n in (28, 31, 64) for k in (2, 3, 5)
               for p in (0, 1, 2) for s in (1, 2, 3))


def test_the_lab_offers_phantoms_and_a_real_dicom():
    images = playground_images(size=64, seed=0)
    assert any("chest phantom" in name for name in images)
    assert any("CT_small.dcm" in name for name in images)
    for name, image in images.items():
        assert image.ndim == 2 and 0.0 <= image.min() and image.max() <= 1.0, name
        assert max(image.shape) <= 64, name
