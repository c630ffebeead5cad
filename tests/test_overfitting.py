"""Chapter 6 core: the mitigation study and the chapter's exercises."""
import numpy as np
import pytest

from radlab.course.ch06_overfitting_and_its_mitigations import exercises
from radlab.data.transforms import to_model_input
from radlab.features import phantom_malignancy_task
from radlab.overfitting import BASELINE, MITIGATION_RECIPES, mitigation_study, run_recipe


def _data():
    task = phantom_malignancy_task(24, seed=0)
    split, pid = task["split"], task["phantoms"].patient_ids
    x = to_model_input(task["crops_hu"], units="HU", level_hu=-600, width_hu=1500)
    small = split.train[np.isin(pid[split.train], np.unique(pid[split.train])[:4])]
    return x, task["y"], small, split.train, split.val


def test_each_recipe_changes_exactly_one_setting():
    base = vars(BASELINE)
    for recipe in MITIGATION_RECIPES[1:]:
        changed = [k for k, v in vars(recipe).items() if k != "name" and v != base[k]]
        assert len(changed) == 1, (recipe.name, changed)


def test_study_rows_sizes_and_gap():
    x, y, small, large, val = _data()
    rows = mitigation_study(x, y, small, large, val, epochs=2, image_size=32,
                            recipes=[MITIGATION_RECIPES[0], MITIGATION_RECIPES[1], MITIGATION_RECIPES[5]])
    assert [r.n_train for r in rows] == [len(small), len(large), len(small)]
    assert rows[2].trainable < rows[0].trainable          # the smaller model has fewer weights
    for r in rows:
        assert r.gap == pytest.approx(r.val_loss - r.train_loss)
        assert 0.0 <= r.val_auc <= 1.0


def test_same_seed_same_result_and_small_must_be_inside_large():
    x, y, small, large, val = _data()
    a = run_recipe(BASELINE, x, y, small, large, val, epochs=1, image_size=32)
    b = run_recipe(BASELINE, x, y, small, large, val, epochs=1, image_size=32)
    assert a.train_loss == pytest.approx(b.train_loss) and a.val_auc == pytest.approx(b.val_auc)
    with pytest.raises(ValueError):
        mitigation_study(x, y, val, large, val, epochs=1, image_size=32)


def test_ch06_exercises_accept_their_answer_and_refuse_a_typical_mistake():
    ex = exercises()
    assert len(ex) >= 3
    for q in ex:
        assert q.check(q.expected(), record=False).correct
    assert not ex.diagnosis.check("underfitting", record=False).correct
    assert not ex.early_stop_epoch.check(6, record=False).correct
