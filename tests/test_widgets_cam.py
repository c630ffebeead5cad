"""Lab 7 widget: controls change the figures; scores and exercises come from the model."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
import pytest

from radlab import explain as E
from radlab.errors import DataError
from radlab.widgets.cam import CamExplorerLab
from test_explain import trained_lesion_model
from figures import plain_figure, shape_named, trace_named
from radlab.viz.conv import from_plotly_array
from radlab.viz.images import outline_path


@pytest.fixture(scope="module")
def lab() -> CamExplorerLab:
    model, x, y, masks = trained_lesion_model()
    return CamExplorerLab(model, x, y, masks, level=0.5, width=1.0)


def heat(lab: CamExplorerLab) -> np.ndarray:
    """The map the overlay shows (its picture's hover values)."""
    return from_plotly_array(trace_named(lab.overlay_fig, "heatmap").customdata).astype(float)


def test_the_lab_builds_figure_widgets_with_data_in_them(lab):
    assert isinstance(lab.overlay_fig, go.FigureWidget) and isinstance(lab.report_fig, go.FigureWidget)
    assert [t.type for t in lab.overlay_fig.data] == ["image", "image", "heatmap", "scatter"]   # map, its colour bar
    assert heat(lab).shape == (24, 24)
    assert len(trace_named(lab.report_fig, "pointing game (hit rate)").y) == 3            # CAM, Grad-CAM, saliency


def test_changing_the_method_changes_the_heatmap(lab):
    lab.method_dropdown.value = "grad_cam"
    before = heat(lab)
    lab.method_dropdown.value = "saliency"
    assert not np.allclose(before, heat(lab))
    np.testing.assert_allclose(heat(lab), lab.heatmaps("saliency")[lab.index], atol=1e-6)
    assert lab.layer_dropdown.disabled
    lab.method_dropdown.value = "grad_cam"
    assert not lab.layer_dropdown.disabled


def test_changing_the_grad_cam_layer_changes_the_map_and_the_scores(lab):
    lab.method_dropdown.value = "grad_cam"
    lab.layer_dropdown.value = lab.default_layer
    before, bars = heat(lab), list(trace_named(lab.report_fig, "mean IoU with the mask").y)
    lab.layer_dropdown.value = "features.0"
    assert not np.allclose(before, heat(lab))
    assert list(trace_named(lab.report_fig, "mean IoU with the mask").y) != bars
    lab.layer_dropdown.value = lab.default_layer


def test_changing_the_image_and_window_redraws_the_overlay(lab):
    lab.image_dropdown.value = 1
    picture = trace_named(lab.overlay_fig, "image").source
    lab.width_slider.value = 0.3
    assert trace_named(lab.overlay_fig, "image").source != picture
    lab.image_dropdown.value = 3
    assert shape_named(lab.overlay_fig, "mask outline").path == outline_path(lab.masks[3]) != ""
    assert "#3" in lab.overlay_fig.layout.title.text


def test_the_threshold_slider_rescores_the_test_set(lab):
    lab.method_dropdown.value = "cam"
    lab.threshold_slider.value = 0.2
    low = list(trace_named(lab.report_fig, "mean IoU with the mask").y)
    lab.threshold_slider.value = 0.8
    high = list(trace_named(lab.report_fig, "mean IoU with the mask").y)
    assert low != high
    expected = E.cam_mask_iou(lab.heatmaps("cam"), lab.masks, threshold=0.8)
    assert high[0] == pytest.approx(expected)
    assert "threshold 0.8" in lab.report_html.value


def test_a_larger_pointing_tolerance_never_lowers_the_hit_rate(lab):
    lab.tolerance_slider.value = 0
    strict = list(trace_named(lab.report_fig, "pointing game (hit rate)").y)
    lab.tolerance_slider.value = 16
    lenient = list(trace_named(lab.report_fig, "pointing game (hit rate)").y)
    assert all(b >= a for a, b in zip(strict, lenient))
    assert lenient == pytest.approx([E.pointing_game(lab.heatmaps(m), lab.masks, tolerance=16) for m in lab.methods])
    lab.tolerance_slider.value = lab.default_tolerance


def test_exercises_are_answered_by_the_lab_itself(lab):
    widgets = {w.exercise.name: w for w in lab.exercise_panel.items}
    assert {"cam_vs_gradcam", "hit_rate"} <= set(widgets) and lab.exercises.notebook == "labs/07_cam_explorer"
    hit = widgets["hit_rate"]
    report = E.right_reason_report(lab.model, lab.x, lab.masks, method="grad_cam", tolerance=lab.default_tolerance)
    hit.answer.value = f"{100 * report.hit_rate:.1f}"
    assert hit.check().correct
    same = widgets["cam_vs_gradcam"]
    same.answer.value = "yes"                           # a GAP net: CAM = Grad-CAM at the last block
    assert same.check().correct


def test_the_lab_refuses_images_without_lesions_or_mismatched_inputs():
    model, x, y, masks = trained_lesion_model()
    with pytest.raises(DataError, match="lesion"):
        CamExplorerLab(model, x, y, np.zeros_like(masks))
    with pytest.raises(DataError, match="labels"):
        CamExplorerLab(model, x, y[:-1], masks)


def test_the_overlay_shows_what_a_fresh_figure_shows_after_every_control(lab):
    """The lab updates the overlay's values in place (overlay_view), not by copying a rebuilt figure."""
    lab.method_dropdown.value = "grad_cam"
    changes = [("image_dropdown", 3), ("width_slider", 0.4), ("method_dropdown", "saliency"),
               ("image_dropdown", 1), ("level_slider", 0.4), ("method_dropdown", "grad_cam"),
               ("layer_dropdown", "features.0"), ("image_dropdown", int(lab.positive[0]))]
    for name, value in changes:
        getattr(lab, name).value = value
        assert plain_figure(lab.overlay_fig) == plain_figure(lab._overlay()), name
    lab.layer_dropdown.value = lab.default_layer


def test_the_report_shows_what_a_fresh_one_shows_after_every_control(lab):
    """The report's bars are updated in place (right_reason_view); its text follows the same reports."""
    from radlab.viz.explain import right_reason_figure

    for name, value in [("threshold_slider", 0.3), ("tolerance_slider", 3.0), ("image_dropdown", 1),
                        ("layer_dropdown", "features.0"), ("threshold_slider", 0.6), ("tolerance_slider", 0.0)]:
        getattr(lab, name).value = value
        reports = lab.reports()
        assert plain_figure(lab.report_fig) == plain_figure(right_reason_figure(reports)), name
        assert lab.report_html.value == "<br>".join(html.escape(str(r)) for r in reports), name
    lab.layer_dropdown.value = lab.default_layer
    lab.threshold_slider.value, lab.tolerance_slider.value = 0.5, lab.default_tolerance
