"""Lab 9 — Small data and transfer learning: learning curves, fixed features vs fine-tuning, gray to RGB.

The widget composes controls and figures; the experiments are :mod:`radlab.small_data`'s and
the pretrained weights :mod:`radlab.pretrain`'s. ``run_curves()`` and ``compare()`` do what
the two buttons do, in the caller's thread (notebooks, tests).
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from radlab.course.lab09_transfer_learning import exercises as lab_exercises
from radlab.data.lab_data import pneumonia_available
from radlab.models.transfer import STAGES
from radlab.pretrain import channel_adaptation, first_layer_kernels, resolve_weights
from radlab.small_data import (FRACTIONS, METHODS, STRATEGIES, LearningCurves, StrategyRun, compare_strategies,
                               learning_curves, load_target_data, nested_subsets,
                               strategy_parameter_counts)
from radlab.viz.learning import parameter_counts_figure
from radlab.viz.transfer import (adaptation_titles, adaptation_traces, channel_adaptation_figure,
                                 learning_curve_traces, learning_curves_figure, strategies_figure, strategy_traces)
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.figure import Figure

STYLE = {"description_width": "150px"}
MAX_EPOCHS = 30


def _error(err: Exception) -> str:
    return f'<span style="color:#cf222e">{html.escape(str(err))}</span>'


class TransferLab(W.VBox):
    """Learning curves, the strategy comparison and the gray-to-RGB figure over one dataset and one set of weights.

    ``weights``: ``"radlab"`` (the CT-phantom source model, built once and cached), ``"imagenet"``,
    a ``.pth`` path, or ``"random"``. Controls: ``kernel_slider``, ``image_slider``,
    ``size_dropdown``, ``unfreeze_slider``, ``epochs_slider``, ``curves_button``, ``compare_button``.
    """

    def __init__(self, *, seed: int = 0, fast: bool = False, weights: str | Path = "radlab",
                 dataset: str | None = None, epochs: int | None = None):
        self.seed, self.fast = int(seed), bool(fast)
        self.dataset = dataset or ("pneumoniamnist" if pneumonia_available() else "phantoms")
        self.data = load_target_data(self.dataset, fast=self.fast, seed=self.seed)
        self.weights = resolve_weights(weights, fast=self.fast, seed=self.seed)
        self._conv1 = first_layer_kernels(self.weights.path)   # read once: sliders only slice it
        self.curves: LearningCurves | None = None
        self.strategy_runs: list[StrategyRun] = []
        self.fractions: tuple[float, ...] = FRACTIONS   # the learning curves' training-set sizes
        self._sizes = [len(s) for s in nested_subsets(self.data.y_train, FRACTIONS, seed=self.seed)]

        self.kernel_slider = W.IntSlider(value=0, min=0, max=63, description="conv1 kernel", style=STYLE,
                                         continuous_update=False)
        self.image_slider = W.IntSlider(value=0, min=0, max=len(self.data.y_val) - 1, description="image",
                                        style=STYLE, continuous_update=False)
        self.size_dropdown = W.Dropdown(options=[(f"{f:.0%} ({n} images)", n) for f, n in zip(FRACTIONS, self._sizes)
                                                 if f < 1], value=self._sizes[0], description="training set",
                                        style=STYLE)
        self.unfreeze_slider = W.IntSlider(value=2, min=1, max=len(STAGES), description="fine-tune: last stages",
                                           style=STYLE)
        default_epochs = epochs or (2 if self.fast else 6)
        self.epochs_slider = W.IntSlider(value=int(np.clip(default_epochs, 1, MAX_EPOCHS)), min=1, max=MAX_EPOCHS,
                                         description="epochs", style=STYLE)
        self.curves_button = W.Button(description="Run learning curves", icon="play", button_style="success",
                                      layout=W.Layout(width="200px"))
        self.compare_button = W.Button(description="Compare strategies", icon="play", button_style="success",
                                       layout=W.Layout(width="200px"))
        self.weights_html = W.HTML(f"<b>Pretrained weights:</b> {html.escape(self.weights.note)}.<br>"
                                   f"<b>Data:</b> {html.escape(self.data.note)}.")
        self.adaptation_html, self.curves_html, self.strategies_html = W.HTML(), W.HTML(), W.HTML()
        self.status_html = W.HTML()

        # FigureWidget rule: all traces in the constructor; later only fig.data[i] changes.
        self.adaptation_fig = Figure(channel_adaptation_figure(self._adaptation()))
        self.curves_fig = Figure(learning_curves_figure(None, METHODS))
        self.strategies_fig = Figure(strategies_figure([], STRATEGIES))
        self.params_fig = Figure(parameter_counts_figure(self.parameter_counts(),
                                                                  title="What learns, what stays frozen"))
        self._show_adaptation()

        for control in (self.kernel_slider, self.image_slider):
            control.observe(lambda _c: self._show_adaptation(), names="value")
        self.unfreeze_slider.observe(lambda _c: self._show_counts(), names="value")
        self.curves_button.on_click(lambda _b: self._safely(self.run_curves))
        self.compare_button.on_click(lambda _b: self._safely(self.compare))

        self.exercises = lab_exercises(self)
        self.exercise_panel = exercise_panel(self.exercises)
        super().__init__([
            self.weights_html,
            W.HTML("<h4>Gray to three channels</h4>"),
            W.HBox([self.kernel_slider, self.image_slider]), self.adaptation_fig, self.adaptation_html,
            W.HTML("<h4>Learning curves</h4>"),
            self.curves_button, self.curves_fig, self.curves_html,
            W.HTML("<h4>Fixed features vs fine-tuning vs from scratch</h4>"),
            W.HBox([self.size_dropdown, self.unfreeze_slider, self.epochs_slider]), self.compare_button,
            self.params_fig, self.strategies_fig, self.strategies_html, self.status_html,
            self.exercise_panel,
        ])

    # ------------------------------------------------------------------ gray to RGB
    def _adaptation(self) -> Any:
        i = int(np.clip(self.image_slider.value, 0, len(self.data.y_val) - 1))
        return channel_adaptation(self._conv1, self.data.x_val[i, 0].numpy(), int(self.kernel_slider.value))

    def _show_adaptation(self) -> None:
        ca = self._adaptation()
        with self.adaptation_fig.batch_update():
            for trace, data in zip(self.adaptation_fig.data, adaptation_traces(ca)):
                trace.update(data)   # pictures of one size: the page swaps them in place
            for annotation, title in zip(self.adaptation_fig.layout.annotations, adaptation_titles(ca)):
                annotation.text = title
        self.adaptation_html.value = (
            f"<small>Kernel {int(self.kernel_slider.value)} of conv1: the image repeated into R, G, B and the "
            f"RGB kernel, or the gray image and the kernel summed over R, G, B, give the same feature map "
            f"(largest difference {ca.max_difference:.1e}, rounding). Summing costs a third.</small>")

    # ------------------------------------------------------------------ parameter counts
    def parameter_counts(self) -> dict[str, tuple[int, int]]:
        """(trainable, total) of each strategy's ResNet-18, for the current fine-tuning setting."""
        counts = strategy_parameter_counts(int(self.unfreeze_slider.value))
        return {label: counts[strategy] for strategy, label in STRATEGIES.items()}

    def _show_counts(self) -> None:
        new = parameter_counts_figure(self.parameter_counts())
        with self.params_fig.batch_update():
            for trace, fresh in zip(self.params_fig.data, new.data):
                trace.x, trace.y, trace.text = fresh.x, fresh.y, fresh.text

    # ------------------------------------------------------------------ experiments
    def _safely(self, action) -> None:
        """Run a button's action; show an error to the student instead of losing it in a log."""
        for button in (self.curves_button, self.compare_button):
            button.disabled = True
        try:
            action()
        except Exception as err:  # noqa: BLE001
            self.status_html.value = _error(err)
        finally:
            for button in (self.curves_button, self.compare_button):
                button.disabled = False

    def run_curves(self) -> LearningCurves:
        """What 'Run learning curves' does: every method at every training-set size."""
        started = time.perf_counter()
        self.curves_html.value = "<i>Training… the curves grow point by point.</i>"
        self.curves = learning_curves(self.data, self.weights.path, fractions=self.fractions, fast=self.fast,
                                      seed=self.seed, on_point=self._show_curves)
        self.curves.weights_note = self.weights.note
        self._show_curves(self.curves)
        self.curves_html.value += f"<small>All runs: {time.perf_counter() - started:.0f} s.</small>"
        return self.curves

    def _show_curves(self, curves: LearningCurves) -> None:
        with self.curves_fig.batch_update():
            for trace, data in zip(self.curves_fig.data, learning_curve_traces(curves, METHODS)):
                trace.x, trace.y, trace.text = data["x"], data["y"], data["text"]
        methods = curves.methods()
        head = "".join(f"<th>{html.escape(METHODS[m])}</th>" for m in methods)
        rows = "".join(f"<tr><td>{r['fraction']:.0%}</td><td>{r['n_train']}</td>"
                       + "".join(f"<td>{r[m]:.3f}</td>" if np.isfinite(r[m]) else "<td>–</td>" for m in methods)
                       + "</tr>" for r in curves.rows())
        self.curves_html.value = (f"<table><tr><th>share</th><th>images</th>{head}</tr>{rows}</table>"
                                  "<small>Validation AUC at each run's best epoch.</small> ")

    def compare(self, n_train: int | None = None, unfreeze: int | None = None,
                epochs: int | None = None) -> list[StrategyRun]:
        """What 'Compare strategies' does: the three strategies on the same training set and seed."""
        n = int(n_train if n_train is not None else self.size_dropdown.value)
        unfreeze = int(unfreeze if unfreeze is not None else self.unfreeze_slider.value)
        epochs = int(epochs if epochs is not None else self.epochs_slider.value)
        if not 1 <= unfreeze <= len(STAGES) or not 1 <= epochs <= MAX_EPOCHS or not 2 <= n <= len(self.data.y_train):
            raise ValueError(f"not allowed: {n} images, last {unfreeze} stages, {epochs} epochs")
        self.strategy_runs = []
        self.status_html.value = f"<i>Training ResNet-18 three ways on {n} images…</i>"
        compare_strategies(self.data, self.weights.path, n_train=n, unfreeze=unfreeze, epochs=epochs,
                           seed=self.seed, val_limit=80 if self.fast else 200, on_run=self._add_run)
        self.status_html.value = ""
        return self.strategy_runs

    def _add_run(self, run: StrategyRun) -> None:
        self.strategy_runs.append(run)
        with self.strategies_fig.batch_update():
            for trace, data in zip(self.strategies_fig.data, strategy_traces(self.strategy_runs, STRATEGIES)):
                trace.x, trace.y = data["x"], data["y"]
                if "name" in data:
                    trace.name = data["name"]
        rows = "".join(
            f"<tr><td>{html.escape(r.label)}</td><td>{r.trainable:,}</td><td>{r.frozen:,}</td>"
            f"<td>{', '.join(r.frozen_stages) or '–'}</td><td>{r.seconds_per_epoch:.2f}</td>"
            f"<td>{r.best_val_auc:.3f}</td><td>{'yes' if r.frozen_unchanged else 'NO'}</td></tr>"
            for r in self.strategy_runs)
        self.strategies_html.value = (
            "<table><tr><th>strategy</th><th>trainable</th><th>frozen</th><th>frozen stages</th>"
            "<th>s / epoch</th><th>best val AUC</th><th>frozen weights unchanged</th></tr>" + rows + "</table>")

    def table(self) -> list[dict[str, Any]]:
        """The strategy comparison as rows (for printing in a notebook)."""
        return [{"strategy": r.label, "trainable": r.trainable, "frozen": r.frozen,
                 "s/epoch": round(r.seconds_per_epoch, 2), "best val AUC": round(r.best_val_auc, 3),
                 "frozen unchanged": r.frozen_unchanged} for r in self.strategy_runs]
