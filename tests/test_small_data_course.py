"""Chapter 7 core: plausibility of a flip (laterality), pseudo-labels, and the chapter's exercises."""
import numpy as np
import pytest

from radlab.course.ch07_small_data import exercises
from radlab.data.phantoms import make_phantoms
from radlab.data.transforms import to_model_input
from radlab.features import phantom_malignancy_task
from radlab.laterality import augmented_views, closer_to_atlas
from radlab.semisupervised import confident_pseudo_labels, pseudo_label_experiment


def test_flipped_chests_resemble_the_mirrored_atlas():
    chest = make_phantoms("chest", n_patients=30, images_per_patient=2, size=48, seed=1).images
    ref, new = chest[:30], chest[30:]
    assert closer_to_atlas(new, ref).mean() > 0.7
    assert closer_to_atlas(new[:, :, ::-1], ref).mean() < 0.3
    with pytest.raises(ValueError):
        closer_to_atlas(new[:, :10], ref)


def test_augmented_views_shapes_and_flip():
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    views = augmented_views(image, ("shift", "noise"), seed=0)
    assert set(views) == {"original", "flip", "shift", "noise"}
    np.testing.assert_array_equal(views["flip"], image[:, ::-1])
    assert all(v.shape == image.shape for v in views.values())
    assert not np.allclose(views["noise"], image)


def test_confident_pseudo_labels_keeps_the_extremes():
    keep, labels = confident_pseudo_labels([0.5, 0.95, 0.02, 0.6, 0.45, 0.1, 0.8, 0.55], 0.5)
    np.testing.assert_array_equal(keep, [1, 2, 5, 6])
    np.testing.assert_array_equal(labels, [1, 0, 0, 1])
    with pytest.raises(ValueError):
        confident_pseudo_labels([0.2], 0.0)


def test_pseudo_label_experiment_runs_and_refuses_overlap():
    task = phantom_malignancy_task(24, seed=0)
    split, pid, y = task["split"], task["phantoms"].patient_ids, task["y"]
    x = to_model_input(task["crops_hu"], units="HU", level_hu=-600, width_hu=1500)
    labelled = split.train[np.isin(pid[split.train], np.unique(pid[split.train])[:6])]
    pool = np.setdiff1d(split.train, labelled)
    r = pseudo_label_experiment(x, y, labelled, pool, split.val, keep_fraction=0.5, epochs=1)
    assert r.n_labelled == len(labelled) and r.n_pseudo == round(0.5 * len(pool))
    assert 0.0 <= r.pseudo_accuracy <= 1.0 and 0.0 <= r.auc_with_pseudo <= 1.0
    with pytest.raises(ValueError):
        pseudo_label_experiment(x, y, labelled, labelled, split.val, epochs=1)


def test_ch07_exercises_accept_their_answer_and_refuse_a_typical_mistake():
    ex = exercises()
    assert len(ex) >= 3
    for q in ex:
        assert q.check(q.expected(), record=False).correct
    assert not ex.radiology_strategy.check("fixed feature extraction", record=False).correct
    assert not ex.gray_kernel_weights.check(9408, record=False).correct
