"""FGSM and PGD: checked against captum.robust, the L∞ ball and the input range, and in image units."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from radlab import attacks as A
from radlab.errors import DataError
from test_explain import tiny_gap_model, trained_lesion_model


def captum_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return A.attack_loss(logits, labels)


def batch(n: int = 6, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(n, 1, 24, 24, generator=torch.Generator().manual_seed(seed))
    return x, torch.arange(n) % 2


# ------------------------------------------------------------------ agreement with captum

@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("num_classes", [1, 3])
def test_fgsm_equals_captum_fgsm_exactly(targeted, num_classes):
    from captum.robust import FGSM

    model, (x, y) = tiny_gap_model(num_classes), batch()
    ours = A.fgsm(model, x, y, 0.03, targeted=targeted, target=y if targeted else None)
    reference = FGSM(model, loss_func=captum_loss, lower_bound=0.0, upper_bound=1.0)
    # captum leaves pixels with |gradient| <= 1e-6 unchanged; we step wherever the sign is
    # defined. With its threshold at 0 the two are the same formula.
    reference.zero_thresh = 0.0
    theirs = reference.perturb(x, epsilon=0.03, target=y, targeted=targeted)
    assert torch.equal(ours, theirs.detach())


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_without_random_start_equals_captum_pgd(targeted):
    from captum.robust import PGD

    model, (x, y) = tiny_gap_model(), batch()
    ours = A.pgd(model, x, y, eps=0.05, alpha=0.01, steps=7, targeted=targeted,
                 target=y if targeted else None, random_start=False)
    reference = PGD(model, loss_func=captum_loss, lower_bound=0.0, upper_bound=1.0)
    reference.fgsm.zero_thresh = 0.0
    theirs = reference.perturb(x, radius=0.05, step_size=0.01, step_num=7, target=y,
                               targeted=targeted, random_start=False)
    torch.testing.assert_close(ours, theirs.detach(), rtol=0, atol=1e-6)


# --------------------------------------------------------------------- attack behaviour

def test_fgsm_increases_the_loss_and_a_targeted_fgsm_decreases_it():
    model, x, y, _ = trained_lesion_model()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    loss = lambda inputs, labels: A.attack_loss(model(inputs), labels).mean().item()   # noqa: E731
    assert loss(A.fgsm(model, x, y, 0.02), y) > loss(x, y)
    assert loss(A.fgsm(model, x, y, 0.02, targeted=True, target=1 - y), 1 - y) < loss(x, 1 - y)


def test_the_binary_loss_is_bce_and_still_has_a_gradient_when_the_model_is_very_sure():
    logits = torch.tensor([[-3.0], [0.5], [40.0]], requires_grad=True)
    labels = torch.tensor([0, 1, 1])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels.float(), reduction="none")
    ours = A.attack_loss(logits, labels)
    torch.testing.assert_close(ours, bce)
    assert torch.autograd.grad(bce.sum(), logits)[0][2] == 0          # sigmoid(40) - 1 rounds to 0
    assert torch.autograd.grad(ours.sum(), logits)[0][2] < 0           # -sigmoid(-40) does not
    # a linear 'model' 29 logits sure of the lesion: FGSM still moves every pixel down by eps
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(24 * 24, 1))
    with torch.no_grad():
        model[1].weight.fill_(0.1)
        model[1].bias.zero_()
    x = torch.full((1, 1, 24, 24), 0.5)
    torch.testing.assert_close(A.fgsm(model, x, torch.tensor([1]), 0.01), x - 0.01)


def test_a_targeted_binary_attack_without_a_target_aims_at_the_other_diagnosis():
    model, (x, y) = tiny_gap_model(), batch()
    torch.testing.assert_close(A.fgsm(model, x, y, 0.02, targeted=True),
                               A.fgsm(model, x, y, 0.02, targeted=True, target=1 - y))


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd_stays_inside_its_epsilon_ball_and_the_valid_range(random_start):
    model, (x, y) = tiny_gap_model(), batch()
    eps = 0.04
    x_adv = A.pgd(model, x, y, eps, alpha=0.03, steps=5, random_start=random_start, seed=1)
    assert (x_adv - x).abs().max() <= eps + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert (x_adv != x).any()


def test_pgd_random_start_is_seeded():
    model, (x, y) = tiny_gap_model(), batch()
    a = A.pgd(model, x, y, 0.03, steps=2, seed=5)
    assert torch.equal(a, A.pgd(model, x, y, 0.03, steps=2, seed=5))
    assert not torch.equal(a, A.pgd(model, x, y, 0.03, steps=2, seed=6))


def test_pgd_is_at_least_as_strong_as_fgsm_on_a_trained_model():
    model, x, y, _ = trained_lesion_model()
    eps = [0.0, 0.02, 0.05, 0.1]
    fgsm_curve = A.accuracy_vs_epsilon(model, x, y, eps, attack="fgsm")
    pgd_curve = A.accuracy_vs_epsilon(model, x, y, eps, attack="pgd", random_start=False)
    assert [e for e, _ in fgsm_curve] == eps
    assert fgsm_curve[0][1] == pgd_curve[0][1] == (A.predict_labels(model, x) == y).mean()
    assert all(p <= f + 1e-9 for (_, f), (_, p) in zip(fgsm_curve, pgd_curve))
    assert pgd_curve[-1][1] < pgd_curve[0][1]


def test_attacks_leave_the_model_in_training_mode_and_reject_bad_arguments():
    model, (x, y) = tiny_gap_model().train(), batch()
    A.pgd(model, x, y, 0.01, steps=2)
    assert model.training
    with pytest.raises(DataError):
        A.fgsm(model, x, y, -0.1)
    with pytest.raises(DataError, match="pgd"):
        A.run_attack(model, x, y, 0.1, "deepfool")
    with pytest.raises(DataError, match="target"):
        A.fgsm(tiny_gap_model(3), x, y, 0.1, targeted=True)


# ---------------------------------------------------------------------- intensity units

def test_epsilon_converts_between_hounsfield_units_and_model_input_through_the_window():
    scale = A.InputScale.ct(level_hu=-600, width_hu=1500)
    assert scale.to_input(15.0) == pytest.approx(0.01)
    assert scale.to_units(scale.to_input(7.3)) == pytest.approx(7.3)
    assert scale.image_to_input(np.array([-1350.0, -600.0, 150.0, 3000.0])).tolist() == [0.0, 0.5, 1.0, 1.0]
    assert A.InputScale.grey_levels().to_input(2) == pytest.approx(2 / 255)
    assert A.InputScale.detector().to_input(0.004) == 0.004


def test_below_one_display_grey_level_counts_as_invisible():
    assert A.display_grey_level(255.0) == 1.0
    assert A.invisible_at_window(1500 / 255 * 0.99, 1500)
    assert not A.invisible_at_window(1500 / 255, 1500)
    # the same 3 HU is visible through a narrow brain window and invisible through a lung window
    assert not A.invisible_at_window(3.0, 80) and A.invisible_at_window(3.0, 1500)


def test_robustness_report_counts_budgets_in_grey_levels_and_flags_invisible_flips():
    model, x, y, _ = trained_lesion_model()
    scale = A.InputScale.detector()
    report = A.robustness_report(model, x, y, scale=scale, display_width=1.0, grey_levels=(0.5, 8, 40),
                                 attack="pgd", steps=5)
    assert [r.invisible for r in report.rows] == [True, False, False]
    assert report.rows[1].eps_input == pytest.approx(8 / 255)
    assert report.clean_auc >= report.rows[-1].auc
    assert report.rows[-1].accuracy < report.clean_accuracy
    assert report.invisible_flip_rate == report.rows[0].flipped
    assert report.invisible_attack_flips == (report.rows[0].flipped > 0)
    assert "invisible" in str(report) and "AUC" in str(report)
