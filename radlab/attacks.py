"""Adversarial examples: FGSM and PGD, with the budget epsilon in image intensity units.

An adversarial example is the image plus a small, deliberately chosen change that flips
the model's answer. Both attacks follow the sign of the loss gradient w.r.t. the pixels:

- **FGSM** (Goodfellow et al., 2015): one step, ``x + eps · sign(∇x loss)``.
- **PGD** (Madry et al., 2018): many small FGSM steps of size ``alpha``, each followed by a
  projection back into the L∞ ball ``|x' - x| <= eps`` and the valid input range [0, 1];
  optionally from a random start inside the ball.

Untargeted attacks increase the loss of the true label; targeted ones decrease the loss of a
chosen label ("make every scan read healthy").

Epsilon lives in *model-input* units (what the network sees, [0, 1]), but a radiologist
thinks in the image's units: Hounsfield units for CT, detector units for the chest
phantoms, grey levels for 8-bit images. :class:`InputScale` converts between them. A
change smaller than one grey level of the display window (``width / 255``) cannot be seen
on the screen at all, yet it can flip a diagnosis: :func:`robustness_report` checks that.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radlab.errors import DataError
from radlab.device import evaluating
from radlab.explain import as_batch
from radlab.metrics import roc_auc
from radlab.predict import predict

#: The attacks, by the key the labs use.
ATTACKS: dict[str, str] = {"fgsm": "FGSM (one step)", "pgd": "PGD (many projected steps)"}

#: Grey levels of an 8-bit display: one level of a window of width W spans W / 255 units.
DISPLAY_LEVELS = 255


# ----------------------------------------------------------------- intensity units

@dataclass(frozen=True)
class InputScale:
    """How the image's intensity units map to model input: ``input = (value - low) / span``.

    ``span`` is how many image units one model-input unit covers: the window width for CT
    (``to_model_input(units="HU")``), 255 for 8-bit grey levels, 1 for [0, 1] detector units.
    """

    units: str
    span: float
    low: float = 0.0

    @classmethod
    def ct(cls, level_hu: float, width_hu: float) -> InputScale:
        """CT in Hounsfield units, fed to the model through the window ``level_hu`` ± ``width_hu`` / 2."""
        if width_hu <= 0:
            raise DataError(f"window width must be positive, got {width_hu} HU", fix="use e.g. width_hu=400")
        return cls("HU", float(width_hu), float(level_hu) - float(width_hu) / 2)

    @classmethod
    def detector(cls) -> InputScale:
        """Chest phantoms in [0, 1] detector units: the model sees them unchanged."""
        return cls("detector units", 1.0)

    @classmethod
    def grey_levels(cls, bits: int = 8) -> InputScale:
        """Integer pixels 0 .. 2**bits - 1 (MedMNIST is 8-bit), divided by the maximum."""
        return cls("grey levels", float(2 ** bits - 1))

    def to_input(self, eps_units: float) -> float:
        """An epsilon in image units (e.g. HU) as model-input units."""
        return float(eps_units) / self.span

    def to_units(self, eps_input: float) -> float:
        """An epsilon in model-input units as image units (e.g. HU)."""
        return float(eps_input) * self.span

    def image_to_input(self, image: Any) -> np.ndarray:
        """Image values -> model input in [0, 1] (for CT this is the window)."""
        return np.clip((np.asarray(image, dtype=np.float32) - self.low) / self.span, 0.0, 1.0)


def display_grey_level(width: float) -> float:
    """The change in image units that moves a pixel by one grey level on a display window of ``width``."""
    return float(width) / DISPLAY_LEVELS


def grey_levels_at_window(eps_units: float, width: float) -> float:
    """How many display grey levels a change of ``eps_units`` spans at window ``width``."""
    return float(eps_units) / display_grey_level(width)


def invisible_at_window(eps_units: float, width: float) -> bool:
    """True when a change of ``eps_units`` is below one display grey level: no pixel can look different."""
    return grey_levels_at_window(eps_units, width) < 1.0


# -------------------------------------------------------------------------- attacks

def attack_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-image loss (N,): binary cross-entropy for one logit, cross-entropy for several.

    The binary loss is written ``softplus(-(2y - 1) · logit)``, equal to BCE-with-logits, because
    its gradient ``σ(-(2y - 1) · logit)`` stays non-zero for a confident model; BCE's own
    ``σ(logit) - y`` rounds to exactly 0 in float32 once the logit passes ~17, and the attack
    would stall ("gradient masking" by saturation).
    """
    if logits.shape[1] == 1:
        sign = labels.to(logits.dtype) * 2 - 1
        return F.softplus(-sign * logits[:, 0])
    return F.cross_entropy(logits, labels.long(), reduction="none")


def _labels(y: Any, n: int, device: torch.device) -> torch.Tensor:
    labels = torch.as_tensor(np.array(y) if not isinstance(y, torch.Tensor) else y, device=device).reshape(-1)
    if labels.numel() == 1:
        labels = labels.expand(n)
    if labels.numel() != n:
        raise DataError(f"{labels.numel()} labels for {n} images", fix="pass one label per image")
    return labels


def attack_labels(model_outputs: int, y: Any, n: int, device: torch.device, *, targeted: bool,
                  target: Any = None) -> torch.Tensor:
    """The labels whose loss the attack follows: the true ones, or (targeted) the target class.

    A targeted attack on a binary model without ``target`` aims at the opposite diagnosis.
    """
    if not targeted:
        return _labels(y, n, device)
    if target is None:
        if model_outputs != 1:
            raise DataError("a targeted attack on a multi-class model needs target=", fix="pass the class to force")
        return 1 - _labels(y, n, device)
    return _labels(target, n, device)


def fgsm(model: nn.Module, x: Any, y: Any, eps: float, *, targeted: bool = False, target: Any = None,
         bounds: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Fast gradient sign method: ``x + eps · sign(∇x loss)`` (targeted: minus), clipped to ``bounds``.

    ``eps`` is in model-input units (see :class:`InputScale`); ``y`` are the true labels.
    """
    if eps < 0:
        raise DataError(f"epsilon must be >= 0, got {eps}", fix="use a small positive budget, e.g. 2/255")
    x = as_batch(x, model).clone().requires_grad_(True)
    with evaluating(model), torch.enable_grad():
        logits = model(x)
        labels = attack_labels(logits.shape[1], y, len(x), x.device, targeted=targeted, target=target)
        # the summed per-image loss: images do not interact, so each gets its own gradient
        gradient = torch.autograd.grad(attack_loss(logits, labels).sum(), x)[0]
    step = eps * torch.sign(gradient)
    x_adv = x.detach() - step if targeted else x.detach() + step
    return x_adv.clamp(*bounds).detach()


def pgd(model: nn.Module, x: Any, y: Any, eps: float, alpha: float | None = None, steps: int = 10, *,
        targeted: bool = False, target: Any = None, random_start: bool = True, seed: int = 0,
        bounds: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Projected gradient descent in the L∞ ball of radius ``eps`` (model-input units) around ``x``.

    Each of ``steps`` FGSM steps of size ``alpha`` (default 2.5·eps/steps, as Madry et al.)
    is followed by clipping the perturbation to ±eps and the image to ``bounds``.
    ``random_start`` begins at a uniform random point of the ball (seeded by ``seed``).
    """
    if eps < 0 or steps < 1:
        raise DataError(f"need eps >= 0 and steps >= 1, got eps={eps}, steps={steps}",
                        fix="use e.g. eps=2/255, steps=10")
    x = as_batch(x, model)
    alpha = 2.5 * eps / steps if alpha is None else float(alpha)
    x_adv = x.clone()
    if random_start and eps > 0:
        generator = torch.Generator(device=x.device).manual_seed(seed)
        noise = torch.rand(x.shape, generator=generator, device=x.device) * 2 * eps - eps
        x_adv = (x + noise).clamp(*bounds)
    for _ in range(steps):
        x_adv = fgsm(model, x_adv, y, alpha, targeted=targeted, target=target, bounds=bounds)
        x_adv = (x + (x_adv - x).clamp(-eps, eps)).clamp(*bounds)   # back into the ball and the range
    return x_adv.detach()


def run_attack(model: nn.Module, x: Any, y: Any, eps: float, method: str = "fgsm", **kwargs: Any) -> torch.Tensor:
    """Run the attack called ``method`` ("fgsm" or "pgd") with budget ``eps`` (model-input units)."""
    if method == "fgsm":
        return fgsm(model, x, y, eps, **kwargs)
    if method == "pgd":
        return pgd(model, x, y, eps, **kwargs)
    raise DataError(f"unknown attack {method!r}", fix=f"use one of {sorted(ATTACKS)}")


# ------------------------------------------------------------ predictions and curves

def predict_scores(model: nn.Module, x: Any, batch_size: int = 256) -> np.ndarray:
    """Probabilities: (N,) of the positive class for a binary model, (N, K) softmax otherwise.

    :func:`radlab.predict.predict` on images given any way :func:`~radlab.explain.as_batch` accepts.
    """
    return predict(model, as_batch(x, model), batch_size=batch_size)


def labels_from_scores(scores: np.ndarray) -> np.ndarray:
    """Predicted classes (N,): probability >= 0.5 for a binary model, the argmax otherwise."""
    return (scores >= 0.5).astype(np.int64) if scores.ndim == 1 else scores.argmax(1)


def predict_labels(model: nn.Module, x: Any) -> np.ndarray:
    """The model's predicted classes (N,) for inputs ``x``."""
    return labels_from_scores(predict_scores(model, x))


def _attack_in_batches(model: nn.Module, x: torch.Tensor, y: np.ndarray, eps: float, method: str,
                       batch_size: int, **kwargs: Any) -> torch.Tensor:
    return torch.cat([run_attack(model, x[s:s + batch_size], y[s:s + batch_size], eps, method, **kwargs)
                      for s in range(0, len(x), batch_size)])


def accuracy_vs_epsilon(model: nn.Module, x: Any, y: Any, epsilons: Sequence[float], attack: str = "fgsm",
                        *, batch_size: int = 256, **kwargs: Any) -> list[tuple[float, float]]:
    """Accuracy under attack for each budget in ``epsilons`` (model-input units): [(eps, accuracy), ...]."""
    x, y = as_batch(x, model), np.asarray(y).reshape(-1)
    curve = []
    for eps in epsilons:
        x_adv = x if eps == 0 else _attack_in_batches(model, x, y, float(eps), attack, batch_size, **kwargs)
        curve.append((float(eps), float((predict_labels(model, x_adv) == y).mean())))
    return curve


@dataclass
class RobustnessRow:
    """The model under one attack budget."""

    grey_levels: float        # the budget in display grey levels at the chosen window
    eps_units: float          # ... in image units (HU, detector units, grey levels)
    eps_input: float          # ... in model-input units
    invisible: bool           # below one display grey level
    accuracy: float
    auc: float
    flipped: float            # fraction of images whose predicted class changed


@dataclass
class RobustnessReport:
    """Clean vs adversarial accuracy and AUC at a few budgets, and the 'invisible attack' verdict."""

    attack: str
    units: str
    display_width: float
    clean_accuracy: float
    clean_auc: float
    rows: list[RobustnessRow] = field(default_factory=list)

    @property
    def invisible_flip_rate(self) -> float:
        """The largest fraction of diagnoses flipped by a budget below one display grey level."""
        return max((r.flipped for r in self.rows if r.invisible), default=0.0)

    @property
    def invisible_attack_flips(self) -> bool:
        """Does a perturbation nobody can see at this window flip at least one diagnosis?"""
        return self.invisible_flip_rate > 0

    def __str__(self) -> str:
        lines = [f"{ATTACKS.get(self.attack, self.attack)}, window width {self.display_width:g} {self.units} "
                 f"(one grey level = {display_grey_level(self.display_width):.3g} {self.units})",
                 f"clean: accuracy {self.clean_accuracy:.3f}, AUC {self.clean_auc:.3f}",
                 f"{'grey lvls':>9} {'eps (' + self.units + ')':>18} {'eps (input)':>12} "
                 f"{'accuracy':>9} {'AUC':>6} {'flipped':>8}"]
        for r in self.rows:
            mark = "  invisible" if r.invisible else ""
            lines.append(f"{r.grey_levels:>9.2f} {r.eps_units:>18.4g} {r.eps_input:>12.5f} "
                         f"{r.accuracy:>9.3f} {r.auc:>6.3f} {r.flipped:>8.1%}{mark}")
        verdict = "YES" if self.invisible_attack_flips else "no"
        lines.append(f"an invisible perturbation flips a diagnosis: {verdict} "
                     f"({self.invisible_flip_rate:.1%} of images at most)")
        return "\n".join(lines)


def robustness_report(model: nn.Module, x: Any, y: Any, *, scale: InputScale, display_width: float,
                      grey_levels: Sequence[float] = (0.5, 1, 2, 4, 8), attack: str = "pgd",
                      batch_size: int = 256, **kwargs: Any) -> RobustnessReport:
    """Accuracy, AUC and flipped diagnoses under attack, with budgets counted in display grey levels.

    ``display_width`` is the window width (in the image's units) the reader looks through;
    a budget of g grey levels is ``g · display_width / 255`` image units, converted to model
    input with ``scale``. Budgets below one grey level are marked invisible.
    """
    x, y = as_batch(x, model), np.asarray(y).reshape(-1)
    clean_scores = predict_scores(model, x)
    clean_pred = labels_from_scores(clean_scores)
    report = RobustnessReport(attack=attack, units=scale.units, display_width=float(display_width),
                              clean_accuracy=float((clean_pred == y).mean()),
                              clean_auc=roc_auc(y, clean_scores, undefined="nan"))
    for g in grey_levels:
        eps_units = g * display_grey_level(display_width)
        eps_input = scale.to_input(eps_units)
        x_adv = _attack_in_batches(model, x, y, eps_input, attack, batch_size, **kwargs)
        scores = predict_scores(model, x_adv)
        pred = labels_from_scores(scores)
        report.rows.append(RobustnessRow(
            grey_levels=float(g), eps_units=eps_units, eps_input=eps_input,
            invisible=invisible_at_window(eps_units, display_width), accuracy=float((pred == y).mean()),
            auc=roc_auc(y, scores, undefined="nan"), flipped=float((pred != clean_pred).mean())))
    return report
