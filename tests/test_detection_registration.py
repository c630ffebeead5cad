"""Chapter 9 core: peak detection, FROC scoring, rigid registration, and the chapter's exercises."""
import numpy as np
import pytest
from skimage.registration import phase_cross_correlation

from radlab.course.ch09_applications_in_radiology import exercises
from radlab.detection import Detection, detect_peaks, froc, lesion_labels
from radlab.registration import register_rigid, rigid_transform


def test_detect_peaks_finds_local_maxima_in_score_order():
    m = np.zeros((1, 20, 20))
    m[0, 5, 5], m[0, 14, 12], m[0, 5, 6] = 0.9, 0.4, 0.5     # (5, 6) is next to a higher peak: not a maximum
    found = detect_peaks(m, min_score=0.1, min_distance=2)
    assert [(d.row, d.col, d.score) for d in found] == [(5, 5, 0.9), (14, 12, 0.4)]
    with pytest.raises(ValueError):
        detect_peaks(np.zeros(5))


def test_froc_counts_each_lesion_once_and_false_positives_per_image():
    masks = np.zeros((2, 10, 10), bool)
    masks[0, 2:4, 2:4] = True                    # one lesion in image 0
    masks[1, 6:8, 6:8] = True                    # one in image 1
    dets = [Detection(0, 0.9, 2, 2), Detection(0, 0.8, 3, 3),    # the same lesion twice: counted once, no FP
            Detection(1, 0.7, 0, 9),                             # a false positive
            Detection(1, 0.6, 7, 7)]                             # the second lesion
    f = froc(dets, masks, radius=0.0)
    np.testing.assert_allclose(f.thresholds, [0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(f.sensitivity, [0.5, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(f.fp_per_image, [0.0, 0.0, 0.5, 0.5])
    assert f.sensitivity_at(0.0) == 0.5 and f.sensitivity_at(0.5) == 1.0


def _ellipse_and_disc():
    yy, xx = np.mgrid[:48, :48]
    image = ((xx - 20) ** 2 / 120 + (yy - 26) ** 2 / 40 < 1).astype(np.float32)      # an ellipse
    return image + 0.5 * ((xx - 30) ** 2 + (yy - 14) ** 2 < 16)                      # and a disc


def test_lesion_labels_merges_close_pieces_and_matches_scipy_when_far_apart():
    from scipy.ndimage import label

    mask = np.zeros((12, 12), bool)
    mask[2:5, 2:5] = True
    mask[5, 6] = True                              # a spiculation one pixel off the body: the same lesion
    mask[9:11, 9:11] = True                        # a second lesion
    labels = lesion_labels(mask, merge_px=2)
    assert labels.max() == 2 and labels[5, 6] == labels[3, 3] != labels[9, 9]
    assert labels[~mask].max() == 0
    np.testing.assert_array_equal(lesion_labels(mask, merge_px=0) > 0, label(mask, np.ones((3, 3)))[0] > 0)


def test_rigid_transform_shift_agrees_with_phase_correlation():
    image = _ellipse_and_disc()
    moved = rigid_transform(image, 0.0, (3.0, -4.0))
    shift = phase_cross_correlation(moved, image)[0]
    np.testing.assert_allclose(shift, [3.0, -4.0], atol=0.5)


def test_register_rigid_recovers_a_known_rotation_and_shift():
    image = _ellipse_and_disc()
    moving = rigid_transform(image, 6.0, (2.0, -3.0))
    r = register_rigid(image, moving, steps=250, lr=0.05)
    assert r.angle_deg == pytest.approx(6.0, abs=1.0)
    np.testing.assert_allclose(r.shift_px, (2.0, -3.0), atol=0.5)
    assert r.losses[-1] < 0.1 * r.losses[0]
    with pytest.raises(ValueError):
        register_rigid(image, moving[:40])


def test_ch09_exercises_accept_their_answer_and_refuse_a_typical_mistake():
    ex = exercises()
    assert len(ex) >= 3
    for q in ex:
        assert q.check(q.expected(), record=False).correct
    assert not ex.dice_value.check(0.5, record=False).correct
    assert not ex.froc_fp.check(0.667, record=False).correct


def test_froc_and_loss_figures():
    from radlab.viz.detection import froc_figure, loss_figure

    masks = np.zeros((1, 6, 6), bool)
    masks[0, 1, 1] = True
    f = froc([Detection(0, 0.9, 1, 1), Detection(0, 0.5, 4, 4)], masks, radius=0.0)
    fig = froc_figure(f)
    assert list(fig.data[0].y) == [1.0, 1.0] and list(fig.data[0].x) == [0.0, 1.0]
    assert list(loss_figure([1.0, 0.5]).data[0].y) == [1.0, 0.5]
