"""Lab 10 widget: the threshold redraws outline, distributions and curve; exercises check the student's run."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from radlab import segmentation as S
from radlab.widgets.segmentation import SegmentationLab
from figures import outline_area, plain_figure, shape_named, trace_named


@pytest.fixture(scope="module")
def parts():
    data = S.load_segmentation_data(n_patients=20, seed=0)
    images, masks = data.images_hu[data.test], data.masks[data.test]
    # a stand-in network: a blurred copy of the truth (probabilities fall off at the edge)
    prob = np.clip(gaussian_filter(masks.astype(np.float32), sigma=(0, 1.2, 1.2)) * 1.6, 0, 1)
    classical = S.ClassicalSegmenter(min_size=6).predict(images)
    return images, masks, prob, classical


@pytest.fixture()
def lab(parts, tmp_path, monkeypatch) -> SegmentationLab:
    monkeypatch.setenv("RADLAB_PROGRESS", str(tmp_path / "progress.jsonl"))
    images, masks, prob, classical = parts
    return SegmentationLab(images, masks, {"U-Net": prob, "U-Net, BCE alone": prob ** 2}, {"classical": classical})


def _area(lab, name: str) -> float:
    """The area an outline on the slice encloses, in pixels²."""
    return outline_area(shape_named(lab.overlay_fig, name).path)


def test_the_lab_draws_the_slice_with_both_outlines_and_every_method(lab):
    assert len(lab.overlay_fig.data) == 1 and len(lab.distribution_fig.data) == 3 and len(lab.size_fig.data) == 3
    assert [t.name for t in lab.distribution_fig.data] == ["U-Net", "U-Net, BCE alone", "classical"]
    assert _area(lab, "true outline") > 0, "the true outline is drawn"
    assert "<table>" in lab.summary_html.value


def test_moving_the_threshold_redraws_the_outline_the_dice_distribution_and_the_curve(lab):
    before_outline = _area(lab, "predicted outline")
    before_dice = np.asarray(trace_named(lab.distribution_fig, "U-Net").y, dtype=float)
    before_summary = lab.summary_html.value
    lab.threshold_slider.value = 0.9
    assert _area(lab, "predicted outline") < before_outline, "a higher threshold, a smaller outline"
    assert not np.allclose(np.asarray(trace_named(lab.distribution_fig, "U-Net").y, dtype=float), before_dice)
    assert list(trace_named(lab.threshold_fig, "slider").x) == [pytest.approx(0.9)]
    assert lab.summary_html.value != before_summary and "threshold 0.90" in lab.summary_html.value
    classical = np.asarray(trace_named(lab.distribution_fig, "classical").y, dtype=float)
    lab.threshold_slider.value = 0.3
    assert np.allclose(np.asarray(trace_named(lab.distribution_fig, "classical").y, dtype=float), classical), "no threshold there"


def test_every_figure_shows_what_a_fresh_one_shows_after_every_control(lab):
    """The lab updates its figures' values in place (contour_view, threshold_marker), not by copying
    rebuilt figures into them."""
    from radlab.course.lab10_segmentation import THRESHOLDS
    from radlab.viz.segmentation import threshold_curve_figure

    for name, value in [("threshold_slider", 0.8), ("image_dropdown", lab.image_dropdown.options[2][1]),
                        ("method_dropdown", "classical"), ("threshold_slider", 0.35),
                        ("method_dropdown", "U-Net, BCE alone"), ("image_dropdown", lab.image_dropdown.options[-1][1])]:
        getattr(lab, name).value = value
        scores = lab.scores()
        for shown, fresh in [(lab.overlay_fig, lab._overlay()), (lab.distribution_fig, lab._distribution(scores)),
                             (lab.size_fig, lab._by_size(scores)),
                             (lab.threshold_fig, threshold_curve_figure(THRESHOLDS, lab.curve, lab.threshold))]:
            assert plain_figure(shown) == plain_figure(fresh), name


def test_choosing_a_slice_or_a_method_redraws_the_overlay(lab):
    first = shape_named(lab.overlay_fig, "true outline").path
    lab.image_dropdown.value = lab.image_dropdown.options[1][1]
    assert shape_named(lab.overlay_fig, "true outline").path != first
    lab.method_dropdown.value = "classical"
    assert "classical" in lab.overlay_fig.layout.title.text


def test_every_exercise_accepts_its_own_answer_and_refuses_a_wrong_one(lab):
    assert lab.exercises.notebook == "labs/10_segmentation" and len(lab.exercises) >= 5
    for ex in lab.exercises:
        assert len(ex.hints) >= 2 and ex.solution_text
        assert ex.check(ex.expected(), record=False).correct, ex.name
        wrong = [c for c in ex.choices if c != ex.expected()][0] if ex.choices else ex.expected() + 0.5
        assert not ex.check(wrong, record=False).correct, ex.name


def test_a_method_or_slice_that_does_not_exist_is_refused(lab, parts):
    with pytest.raises(ValueError, match="unknown method"):
        lab.predicted("os.system")
    images, masks, prob, _ = parts
    with pytest.raises(ValueError, match="shape"):
        SegmentationLab(images, masks, {"U-Net": prob[:, :10]})
    with pytest.raises(ValueError, match="no test slice has a nodule"):
        SegmentationLab(images[:1] * 0, np.zeros_like(masks[:1]), {"U-Net": prob[:1]})
