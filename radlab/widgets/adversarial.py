"""Lab 8 — Adversarial explorer: a change you cannot see that changes the diagnosis.

Choose an image, an attack (FGSM or PGD), optionally a target diagnosis, and the budget
epsilon in the image's own intensity units. The lab shows the original, the perturbation
(amplified: its colour range is ±epsilon, not the window), the adversarial image and both
predictions; the accuracy-vs-epsilon curves of both attacks with the band of budgets that
are invisible at the chosen display window (below one grey level, ``width / 255``).
"""
from __future__ import annotations

import html
from typing import Any, Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from radlab.attacks import (ATTACKS, InputScale, RobustnessReport, accuracy_vs_epsilon, display_grey_level,
                            grey_levels_at_window, invisible_at_window, predict_scores, robustness_report,
                            run_attack)
from radlab.course.lab08_adversarial_explorer import exercises as lab_exercises
from radlab.errors import DataError
from radlab.viz.explain import accuracy_vs_epsilon_figure, adversarial_figure, adversarial_view, epsilon_marks
from radlab.widgets.common import STYLE, image_options, window_sliders
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.guard import guard_click
from radlab.widgets.figure import Figure

#: Budgets of the accuracy curve, in grey levels of the *model's* input window (0..255).
CURVE_GREY_LEVELS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class AdversarialLab(W.VBox):
    """The Lab 8 widget: attack one image, see the flip, and the accuracy-vs-epsilon curves.

    ``x`` are the model inputs (N, 1, H, W) in [0, 1]; ``images`` what is shown (default:
    ``x`` in the image's units via ``scale``); ``scale`` converts epsilon between the image's
    units and model input (:class:`radlab.attacks.InputScale`; default: detector units). ``level``/``width`` is the
    display window. The curves use the first ``curve_images`` images.
    Controls (attributes): ``eps_slider`` (image units), ``attack_dropdown``, ``targeted_checkbox``,
    ``target_dropdown``, ``image_dropdown``, ``level_slider``, ``width_slider``, ``report_button``.
    Figures: ``adversarial_fig``, ``curve_fig``.
    """

    def __init__(self, model: nn.Module, x: Any, y: Any, *, images: Any = None,
                 scale: InputScale | None = None, level: float = 0.5, width: float = 1.0,
                 class_names: Sequence[str] = ("no lesion", "lesion"), eps_grey_levels: float = 2.0,
                 curve_images: int = 48, pgd_steps: int = 10, seed: int = 0):
        self.model = model
        self.x = x.detach().float().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x)).float()
        self.y = np.asarray(y).reshape(-1)
        if len(self.x) != len(self.y) or len(self.x) == 0:
            raise DataError(f"{len(self.x)} inputs and {len(self.y)} labels", fix="pass one label per image")
        self.scale, self.class_names = scale or InputScale.detector(), list(class_names)
        self.images = (self.scale.low + self.x[:, 0].numpy() * self.scale.span) if images is None \
            else np.asarray(images, dtype=np.float32)
        self.pgd_steps, self.seed = int(pgd_steps), int(seed)
        self.scores = predict_scores(model, self.x)
        self.curve_n = int(np.clip(curve_images, 1, len(self.x)))
        input_grey = self.scale.to_units(1 / 255)       # one grey level of the model's input, in units
        self.curve_eps_units = [g * input_grey for g in CURVE_GREY_LEVELS]
        self.curves = {name: self._curve(name) for name in ATTACKS}

        units = self.scale.units
        self.eps_slider = W.FloatSlider(value=eps_grey_levels * input_grey, min=0.0, max=max(self.curve_eps_units),
                                        step=input_grey / 8, description=f"ε ({units})", style=STYLE,
                                        readout_format=".3g", continuous_update=False,
                                        layout=W.Layout(width="480px"))
        self.attack_dropdown = W.Dropdown(options=[(label, key) for key, label in ATTACKS.items()], value="fgsm",
                                          description="attack", style=STYLE)
        self.targeted_checkbox = W.Checkbox(value=False, description="targeted: force the diagnosis")
        self.target_dropdown = W.Dropdown(options=[(n, i) for i, n in enumerate(self.class_names)], value=0,
                                          description="target", style=STYLE, disabled=True)
        start = int(np.argmax(np.where(self.y == 1, self.scores, -1)))   # a lesion the model is surest of
        self.image_dropdown = W.Dropdown(options=image_options(self.y, self.scores, self.class_names), value=start,
                                         description="image", style=STYLE, layout=W.Layout(width="430px"))
        self.level_slider, self.width_slider = window_sliders(self.images, level, width, units)
        self.info_html = W.HTML()
        self.report_button = W.Button(description="Robustness report", icon="table",
                                      tooltip="clean vs adversarial accuracy and AUC at the chosen window and attack")
        self.report_html = W.HTML()
        self.report: RobustnessReport | None = None

        # FigureWidget rule: every trace is in the constructor; updates only touch fig.data[i].
        self.adversarial_fig = Figure(self._adversarial())
        self.curve_fig = Figure(self._curves())

        for control in (self.eps_slider, self.attack_dropdown, self.targeted_checkbox, self.target_dropdown,
                        self.image_dropdown, self.level_slider, self.width_slider):
            control.observe(lambda _c: self.refresh(), names="value")
        self.report_guard = guard_click(self.report_button, self.run_report, status=self.report_html)

        self.exercises = lab_exercises(self)  # the lab's ExerciseSet (labs/NN_name)
        self.exercise_panel = exercise_panel(self.exercises)
        super().__init__([
            W.HBox([self.image_dropdown, self.attack_dropdown]),
            W.HBox([self.eps_slider, self.targeted_checkbox, self.target_dropdown]),
            W.HBox([self.level_slider, self.width_slider]),
            self.adversarial_fig, self.info_html,
            W.HTML(f"<b>Accuracy under attack</b> on {self.curve_n} test images (ε in {html.escape(units)})."),
            self.curve_fig, self.report_button, self.report_html,
            self.exercise_panel,
        ])

    # ------------------------------------------------------------------ validated state
    @property
    def eps_units(self) -> float:
        """The budget in image units, clamped to the slider's range."""
        return float(np.clip(self.eps_slider.value, 0.0, self.eps_slider.max))

    @property
    def eps_input(self) -> float:
        """The budget in model-input units."""
        return self.scale.to_input(self.eps_units)

    @property
    def attack_name(self) -> str:
        if self.attack_dropdown.value not in ATTACKS:
            raise DataError(f"unknown attack {self.attack_dropdown.value!r}", fix=f"choose one of {list(ATTACKS)}")
        return self.attack_dropdown.value

    @property
    def index(self) -> int:
        return int(np.clip(int(self.image_dropdown.value), 0, len(self.x) - 1))

    @property
    def target(self) -> int | None:
        """The forced class when the attack is targeted, else None."""
        if not self.targeted_checkbox.value:
            return None
        return int(np.clip(int(self.target_dropdown.value), 0, len(self.class_names) - 1))

    @property
    def window(self) -> tuple[float, float]:
        return float(self.level_slider.value), max(float(self.width_slider.value), 1e-9)

    # ----------------------------------------------------------------------- compute
    def _attack_kwargs(self, name: str) -> dict[str, Any]:
        return {"steps": self.pgd_steps, "seed": self.seed} if name == "pgd" else {}

    def _curve(self, name: str) -> list[tuple[float, float]]:
        """Accuracy vs epsilon (image units) of one attack on the curve images."""
        eps_input = [self.scale.to_input(e) for e in self.curve_eps_units]
        curve = accuracy_vs_epsilon(self.model, self.x[:self.curve_n], self.y[:self.curve_n], eps_input,
                                    attack=name, **self._attack_kwargs(name))
        return [(self.scale.to_units(e), acc) for e, acc in curve]

    def attacked(self) -> tuple[np.ndarray, float, float]:
        """The chosen image attacked with the chosen settings: (adversarial image in units, p before, p after)."""
        i = self.index
        x = self.x[i:i + 1]
        target = self.target
        kwargs = self._attack_kwargs(self.attack_name)
        if target is not None:
            kwargs.update(targeted=True, target=target)
        x_adv = run_attack(self.model, x, self.y[i:i + 1], self.eps_input, self.attack_name, **kwargs)
        delta_units = (x_adv - x)[0, 0].numpy() * self.scale.span
        return self.images[i] + delta_units, float(self.scores[i]), float(predict_scores(self.model, x_adv)[0])

    def _label(self, p: float) -> str:
        return f"{self.class_names[int(p >= 0.5)]} (p={p:.2f})"

    # ----------------------------------------------------------------------- figures
    def _attack_panels(self) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, Any]]:
        """Attack the chosen image (updating the info line): the arguments of adversarial_figure/_view."""
        adversarial, p, p_adv = self.attacked()
        level, width = self.window
        self._info(p, p_adv)
        return (self.images[self.index], adversarial), dict(
            level=level, width=width, eps_units=self.eps_units, prediction=self._label(p),
            adversarial_prediction=self._label(p_adv), units=self.scale.units)

    def _adversarial(self) -> go.Figure:
        images, kwargs = self._attack_panels()
        return adversarial_figure(*images, **kwargs)

    def _curves(self) -> go.Figure:
        return accuracy_vs_epsilon_figure(self.curves, units=self.scale.units,
                                          one_grey_level=display_grey_level(self.window[1]), current=self.eps_units)

    def _info(self, p: float, p_adv: float) -> None:
        units, (_, width) = html.escape(self.scale.units), self.window
        levels = grey_levels_at_window(self.eps_units, width)
        visible = "invisible" if invisible_at_window(self.eps_units, width) else "visible"
        flipped = int(p >= 0.5) != int(p_adv >= 0.5)
        self.info_html.value = (
            f"ε = {self.eps_units:.4g} {units} = {self.eps_input:.5f} in model input = "
            f"<b>{levels:.2f} grey levels</b> at window width {width:.4g} {units} → <b>{visible}</b> on this screen. "
            f"Prediction {html.escape(self._label(p))} → {html.escape(self._label(p_adv))}: "
            + ("<b style='color:#c00'>diagnosis flipped</b>" if flipped else "unchanged"))

    def refresh(self) -> None:
        """Re-attack the chosen image and redraw both figures (their values updated in place: building and
        copying two whole figures took ~30 ms of every step)."""
        self.target_dropdown.disabled = not self.targeted_checkbox.value
        images, kwargs = self._attack_panels()
        pictures, titles = adversarial_view(*images, **kwargs)
        with self.adversarial_fig.batch_update():
            for trace, data in zip(self.adversarial_fig.data, pictures):
                trace.update(data)
            for annotation, title in zip(self.adversarial_fig.layout.annotations, titles):
                annotation.text = title
        marks = epsilon_marks(display_grey_level(self.window[1]), self.eps_units)
        with self.curve_fig.batch_update():
            for trace, data in zip(self.curve_fig.data[len(self.curves):], marks):
                trace.update(data)

    def run_report(self) -> RobustnessReport:
        """Clean vs adversarial accuracy/AUC at the chosen window and attack (what the button does)."""
        self.report = robustness_report(self.model, self.x[:self.curve_n], self.y[:self.curve_n], scale=self.scale,
                                        display_width=self.window[1], attack=self.attack_name,
                                        **self._attack_kwargs(self.attack_name))
        self.report_html.value = f"<pre>{html.escape(str(self.report))}</pre>"
        return self.report


def adversarial_lab_from_reference(reference: Any, *, split: str = "test", max_images: int | None = None,
                                   **kwargs: Any) -> AdversarialLab:
    """An :class:`AdversarialLab` on ``radlab.reference.reference_model()``'s data (chest phantoms, detector units)."""
    data = reference.data[split]
    n = len(data.y) if max_images is None else min(int(max_images), len(data.y))
    return AdversarialLab(reference.model, data.x[:n], data.y[:n], scale=InputScale.detector(), **kwargs)
