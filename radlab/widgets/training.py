"""Lab 3 — Training: train a CNN, watch the learning curves live, and read the monitor's diagnosis.

Controls set the model (architecture, width, dropout, batch norm), the optimisation
(learning rate, batch size, epochs, weight decay) and the data (how much of it, which
augmentation). **Start** trains in a background thread, so **Stop** works in JupyterLab and
in Voila alike; stopping keeps the best weights so far. The curves update after every
epoch and a progress bar after every few mini-batches, with an estimate of the time left;
the previous run is drawn dotted behind the current one for comparison. The augmentation
preview shows what the model sees.

``TrainingLab.run()`` does what Start does, in the caller's thread (notebooks, tests).
"""
from __future__ import annotations

import html
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch

from radlab.course.lab03_training import exercises as lab_exercises
from radlab.data.lab_data import DATASETS, LabData, load_lab_data, pneumonia_available, stratified_subset
from radlab.data.transforms import AUGMENTATIONS, augmentation
from radlab.monitor import OverfittingMonitor
from radlab.train import CLASSIFIER_RECIPE, FitResult, History, ProgressState, TrainingProgress, fit
from radlab.viz.curves import history_figure, update_history_figure
from radlab.viz.images import augmentation_preview_figure, preview_picture
from radlab.widgets.guard import guard_click, stop_after_time_limit
from radlab.widgets.figure import Figure

MODELS = {"teaching_cnn": "Teaching CNN (conv blocks + fully connected)",
          "gap_cnn": "GAP CNN (conv blocks + global average pooling)"}
WIDTHS = (4, 8, 16, 32)
BATCH_SIZES = (16, 32, 64, 128, 256)
WEIGHT_DECAYS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
DATA_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
LR_RANGE = (1e-5, 1.0)
MAX_EPOCHS = 40
PROGRESS_INTERVAL_S = 0.25   # at most ~4 progress messages a second: the comm is not flooded


# --------------------------------------------------------------------------------------
# Settings (validated: widget values are untrusted input under Voila)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainingSettings:
    """Everything one training run of the lab depends on."""

    dataset: str = "phantoms"
    model: str = "teaching_cnn"
    width: int = 16
    lr: float = CLASSIFIER_RECIPE["lr"]                  # the default classifier's recipe (radlab.train)
    batch_size: int = CLASSIFIER_RECIPE["batch_size"]
    epochs: int = CLASSIFIER_RECIPE["epochs"]
    augment: tuple[str, ...] = tuple(CLASSIFIER_RECIPE["augment"])
    dropout: float = 0.0
    weight_decay: float = 0.0
    batchnorm: bool = True
    data_fraction: float = 1.0
    early_stopping: bool = True
    patience: int = 3

    def validated(self) -> TrainingSettings:
        """Return the settings if every value is allowed; raise ValueError naming the bad one."""
        checks = [
            (self.dataset in DATASETS, f"dataset {self.dataset!r} (choose from {list(DATASETS)})"),
            (self.model in MODELS, f"model {self.model!r} (choose from {list(MODELS)})"),
            (self.width in WIDTHS, f"width {self.width!r} (choose from {WIDTHS})"),
            (isinstance(self.lr, float) and LR_RANGE[0] <= self.lr <= LR_RANGE[1],
             f"learning rate {self.lr!r} (use {LR_RANGE[0]:g} to {LR_RANGE[1]:g})"),
            (self.batch_size in BATCH_SIZES, f"batch size {self.batch_size!r} (choose from {BATCH_SIZES})"),
            (isinstance(self.epochs, int) and 1 <= self.epochs <= MAX_EPOCHS,
             f"epochs {self.epochs!r} (use 1 to {MAX_EPOCHS})"),
            (all(a in AUGMENTATIONS for a in self.augment), f"augmentation {self.augment!r}"),
            (isinstance(self.dropout, float) and 0.0 <= self.dropout <= 0.8,
             f"dropout {self.dropout!r} (use 0 to 0.8)"),
            (self.weight_decay in WEIGHT_DECAYS, f"weight decay {self.weight_decay!r} (choose from {WEIGHT_DECAYS})"),
            (isinstance(self.batchnorm, bool), f"batch norm {self.batchnorm!r}"),
            (self.data_fraction in DATA_FRACTIONS,
             f"data fraction {self.data_fraction!r} (choose from {DATA_FRACTIONS})"),
            (isinstance(self.patience, int) and 1 <= self.patience <= 20, f"patience {self.patience!r} (use 1 to 20)"),
        ]
        bad = [what for ok, what in checks if not ok]
        if bad:
            raise ValueError("not allowed: " + "; ".join(bad))
        return self

    def label(self) -> str:
        """A short description for legends and the run table."""
        parts = [f"{self.model.replace('_cnn', '')} w{self.width}", f"lr {self.lr:.0e}", f"bs {self.batch_size}"]
        if self.data_fraction < 1:
            parts.append(f"{self.data_fraction:.0%} data")
        if self.augment:
            parts.append("+".join(self.augment))
        if self.dropout:
            parts.append(f"dropout {self.dropout:g}")
        if self.weight_decay:
            parts.append(f"wd {self.weight_decay:g}")
        if not self.batchnorm:
            parts.append("no BN")
        return ", ".join(parts)


# --------------------------------------------------------------------------------------
# Data and models
# --------------------------------------------------------------------------------------

def build_model(settings: TrainingSettings, image_size: int) -> torch.nn.Module:
    """The CNN the settings describe (binary output: one logit)."""
    from radlab.models.cnn import GapCNN, TeachingCNN  # noqa: PLC0415

    if settings.model == "gap_cnn":
        return GapCNN(width=settings.width, n_blocks=4, dropout=settings.dropout, batchnorm=settings.batchnorm)
    return TeachingCNN(width=settings.width, n_blocks=3, image_size=image_size, dropout=settings.dropout,
                       batchnorm=settings.batchnorm)


@dataclass
class RunRecord:
    """One finished run of the lab."""

    number: int
    settings: TrainingSettings
    history: History
    best_epoch: int
    stop_reason: str
    seconds: float
    diagnosis: str
    result: FitResult | None = field(default=None, repr=False)


# --------------------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------------------

class TrainingLab(W.VBox):
    """The Lab 3 widget: controls, Start/Stop, live curves (``figure``), diagnosis, run table.

    Controls are attributes so tests can set them: ``dataset_dropdown``, ``model_dropdown``,
    ``width_slider``, ``lr_slider``, ``batch_dropdown``, ``epochs_slider``, ``augment_select``,
    ``dropout_slider``, ``weight_decay_slider``, ``batchnorm_checkbox``,
    ``data_fraction_slider``, ``early_stopping_checkbox``, ``patience_slider``,
    ``start_button``, ``stop_button``; ``progress_bar`` and ``progress_label`` show the run's
    mini-batches and the time left.
    """

    def __init__(self, *, seed: int = 0, fast: bool = False, epochs: int | None = None, save_runs: bool = False):
        self.seed, self.fast, self.save_runs = int(seed), bool(fast), bool(save_runs)
        self.runs: list[RunRecord] = []
        self.exercises = lab_exercises(self)  # "your best epoch" reads self.runs
        self.result: FitResult | None = None
        self.monitor: OverfittingMonitor | None = None
        self.live_history: History | None = None
        self._data: dict[str, LabData] = {}
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

        style = {"description_width": "110px"}
        # Real chest X-rays when they are in the cache; the phantoms, generated on the spot, otherwise.
        real = pneumonia_available()
        datasets = [(label, key) for key, label in DATASETS.items() if key != "pneumoniamnist" or real]
        self.dataset_dropdown = W.Dropdown(options=datasets, value="pneumoniamnist" if real else "phantoms",
                                           description="data", style=style, layout=W.Layout(width="420px"))
        self.model_dropdown = W.Dropdown(options=[(label, key) for key, label in MODELS.items()],
                                         value="teaching_cnn", description="model", style=style,
                                         layout=W.Layout(width="420px"))
        self.width_slider = W.SelectionSlider(options=list(WIDTHS), value=16, description="width (channels)",
                                              style=style)
        self.dropout_slider = W.FloatSlider(value=0.0, min=0.0, max=0.8, step=0.05, description="dropout",
                                            style=style)
        self.batchnorm_checkbox = W.Checkbox(value=True, description="batch normalisation", indent=False)
        start = TrainingSettings()   # the controls start at the default classifier's recipe
        epochs = start.epochs if epochs is None else epochs
        self.lr_slider = W.FloatLogSlider(value=start.lr, base=10, min=-4, max=0, step=0.25, description="learning rate",
                                          readout_format=".1e", style=style)
        self.batch_dropdown = W.Dropdown(options=list(BATCH_SIZES), value=start.batch_size, description="batch size", style=style)
        self.epochs_slider = W.IntSlider(value=int(np.clip(epochs, 1, MAX_EPOCHS)), min=1, max=MAX_EPOCHS,
                                         description="epochs", style=style)
        self.weight_decay_slider = W.SelectionSlider(options=[(f"{v:g}", v) for v in WEIGHT_DECAYS], value=0.0,
                                                     description="weight decay", style=style)
        self.data_fraction_slider = W.SelectionSlider(options=[(f"{v:.0%}", v) for v in DATA_FRACTIONS], value=1.0,
                                                      description="training data", style=style)
        self.augment_select = W.SelectMultiple(options=list(AUGMENTATIONS), value=start.augment, rows=len(AUGMENTATIONS),
                                               description="augmentation", style=style)
        self.early_stopping_checkbox = W.Checkbox(value=True, description="early stopping", indent=False)
        self.patience_slider = W.IntSlider(value=3, min=1, max=10, description="patience", style=style)
        self.start_button = W.Button(description="Start", icon="play", button_style="success")
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        self.status_html = W.HTML()
        # Progress per mini-batch with the time left (radlab.train.TrainingProgress), throttled.
        self.progress_bar = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress",
                                            style={"description_width": "60px"}, layout=W.Layout(width="300px"))
        self.progress_label = W.Label("")
        self.progress_label.add_class("radlab-training-progress")
        self.diagnosis_html = W.HTML("<i>The diagnosis appears after the first epoch.</i>")
        self.runs_html = W.HTML()
        self.data_html = W.HTML()

        self.figure = Figure(history_figure(None, None, title="Learning curves"))
        self.preview_figure = Figure(self._preview_figure())

        self.start_guard = guard_click(self.start_button, self.start)   # the run itself: its own thread
        self.stop_button.on_click(lambda _b: self.stop())
        self.augment_select.observe(lambda _c: self._update_preview(), names="value")
        self.dataset_dropdown.observe(lambda _c: self._update_preview(), names="value")
        self._update_preview()

        model_box = W.VBox([W.HTML("<b>Model</b>"), self.model_dropdown, self.width_slider, self.dropout_slider,
                            self.batchnorm_checkbox])
        optim_box = W.VBox([W.HTML("<b>Optimisation</b>"), self.lr_slider, self.batch_dropdown, self.epochs_slider,
                            self.weight_decay_slider, W.HBox([self.early_stopping_checkbox, self.patience_slider])])
        data_box = W.VBox([W.HTML("<b>Data</b>"), self.dataset_dropdown, self.data_fraction_slider,
                           self.augment_select, self.data_html])
        super().__init__([
            W.HBox([data_box, model_box, optim_box], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.start_button, self.stop_button, self.status_html]),
            W.HBox([self.progress_bar, self.progress_label]),
            self.figure, self.diagnosis_html, self.runs_html,
            W.HTML("<b>What the model sees</b>: one training image and random augmentations of it "
                   "(pick augmentations above)."),
            self.preview_figure,
        ])

    # --- settings and data ------------------------------------------------------------
    def settings(self) -> TrainingSettings:
        """The current control values, validated."""
        return TrainingSettings(
            dataset=self.dataset_dropdown.value, model=self.model_dropdown.value, width=self.width_slider.value,
            lr=float(self.lr_slider.value), batch_size=self.batch_dropdown.value, epochs=int(self.epochs_slider.value),
            augment=tuple(self.augment_select.value), dropout=round(float(self.dropout_slider.value), 4),
            weight_decay=float(self.weight_decay_slider.value), batchnorm=bool(self.batchnorm_checkbox.value),
            data_fraction=float(self.data_fraction_slider.value),
            early_stopping=bool(self.early_stopping_checkbox.value), patience=int(self.patience_slider.value),
        ).validated()

    def data(self, dataset: str) -> LabData:
        """The dataset's tensors (loaded once per lab)."""
        if dataset not in self._data:
            self._data[dataset] = load_lab_data(dataset, fast=self.fast, seed=self.seed)
        return self._data[dataset]

    # --- training ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, settings: TrainingSettings | None = None, **changes: Any) -> RunRecord:
        """Train once with the current controls (or ``settings``, with ``changes``); returns the run's record."""
        settings = replace(settings or self.settings(), **changes).validated()
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("a training run is already going; press Stop or wait for it to finish")
        try:
            return self._train(settings)
        finally:
            self._lock.release()

    def start(self) -> None:
        """What the Start button does: train in a background thread so Stop stays responsive."""
        if self.running:
            self.status_html.value = "<b>Already training.</b> Press Stop first."
            return
        try:
            settings = self.settings()
        except ValueError as err:
            self.status_html.value = f'<span style="color:#cf222e">{html.escape(str(err))}</span>'
            return
        self._thread = threading.Thread(target=self._train_in_thread, args=(settings,), daemon=True,
                                        name="radlab-training")
        self._thread.start()

    def stop(self) -> None:
        """What the Stop button does: end after the current batch, keeping the best weights."""
        self._stop_event.set()
        if self.running:
            self.status_html.value = "Stopping after this batch…"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run to finish; True when none is running any more."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _train_in_thread(self, settings: TrainingSettings) -> None:
        time_limit = stop_after_time_limit(self.stop)   # radlab serve's --cell-timeout; none in JupyterLab
        try:
            self.run(settings)
        except Exception as err:  # noqa: BLE001  (shown to the student instead of dying silently)
            self.status_html.value = f'<span style="color:#cf222e">Training failed: {html.escape(str(err))}</span>'
            self._set_buttons(running=False)
        finally:
            if time_limit is not None:
                time_limit.cancel()

    def _set_buttons(self, *, running: bool) -> None:
        self.start_button.disabled = running
        self.stop_button.disabled = not running

    def _train(self, settings: TrainingSettings) -> RunRecord:
        data = self.data(settings.dataset)
        keep = stratified_subset(data.y_train, fraction=settings.data_fraction, seed=self.seed, min_per_class=2)
        self.data_html.value = f"<small>{html.escape(data.note)}; training on {len(keep)} images</small>"
        torch.manual_seed(self.seed)
        model = build_model(settings, data.image_size)
        patience = settings.patience if settings.early_stopping else MAX_EPOCHS + 1
        tailored = {**asdict(settings), "augment": list(settings.augment)}
        self.monitor = OverfittingMonitor(patience=patience, restore_best=True, settings=tailored)
        self.monitor.subscribe(self._on_epoch)
        self.live_history = None
        self._stop_event.clear()
        self._set_buttons(running=True)
        self.status_html.value = f"Training: {html.escape(settings.label())}…"
        self.progress_bar.value, self.progress_bar.bar_style = 0.0, ""
        self.progress_label.value = "starting…"
        progress = TrainingProgress(self._on_progress, interval_s=PROGRESS_INTERVAL_S)
        started = time.perf_counter()
        try:
            result = fit(model, (data.x_train[keep], data.y_train[keep]), (data.x_val, data.y_val),
                         epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                         weight_decay=settings.weight_decay, augment=settings.augment,
                         schedule=CLASSIFIER_RECIPE["schedule"], class_weight=CLASSIFIER_RECIPE["class_weight"],
                         seed=self.seed, monitor=self.monitor, stop_event=self._stop_event, save=self.save_runs,
                         name=f"lab3-{settings.model}", progress=False, callbacks=[progress])
        except BaseException:
            self.progress_label.value = f"training failed after {time.perf_counter() - started:.1f} s"
            raise
        finally:
            self._set_buttons(running=False)
        self._end_progress(progress, result, time.perf_counter() - started)
        self.result = result
        record = RunRecord(len(self.runs) + 1, settings, result.history, result.best_epoch, result.stop_reason,
                           time.perf_counter() - started, self.monitor.diagnosis(), result)
        self.runs.append(record)
        self._show_runs()
        self.status_html.value = (f"Run {record.number} {record.stop_reason} after {len(result.history)} epochs "
                                  f"in {record.seconds:.1f} s; best epoch {record.best_epoch} (weights kept).")
        return record

    def _on_progress(self, state: ProgressState) -> None:
        """Progress hook (throttled by TrainingProgress): the bar and 'epoch 2/4 · batch 37/92 · 4.1 s left'."""
        self.progress_bar.value = state.fraction
        self.progress_label.value = state.text()

    def _end_progress(self, progress: TrainingProgress, result: FitResult, seconds: float) -> None:
        """After the run: where it ended and how long it took (no estimate left to show)."""
        state = progress.state
        where = f"{state.where()} · " if state else ""
        ended = "stopped after" if result.interrupted else "finished in"
        self.progress_label.value = f"{where}{ended} {seconds:.1f} s"
        self.progress_bar.bar_style = "warning" if result.interrupted else "success"

    def _on_epoch(self, monitor: OverfittingMonitor) -> None:
        """Monitor hook: redraw the curves and the diagnosis after every epoch (also from the thread)."""
        history = monitor.history
        self.live_history = history
        previous = self.runs[-1].history if self.runs else None
        update_history_figure(self.figure, history, previous)
        self.diagnosis_html.value = f"<pre style='white-space:pre-wrap'>{html.escape(monitor.diagnosis())}</pre>"
        self.status_html.value = (f"epoch {history.epoch[-1]}: validation loss {history.val_loss[-1]:.4f}, "
                                  f"validation {history.metric_name} {history.val_metric[-1]:.3f}")

    def _show_runs(self) -> None:
        rows = []
        for r in reversed(self.runs[-8:]):
            i = r.best_epoch - 1
            best = (f"{r.history.val_loss[i]:.4f}", f"{r.history.val_metric[i]:.3f}") if r.best_epoch else ("–", "–")
            rows.append(f"<tr><td>{r.number}</td><td>{html.escape(r.settings.label())}</td>"
                        f"<td>{len(r.history)}</td><td>{r.best_epoch}</td><td>{best[0]}</td><td>{best[1]}</td>"
                        f"<td>{r.stop_reason}</td><td>{r.seconds:.1f}</td></tr>")
        metric = self.runs[-1].history.metric_name if self.runs else "metric"
        self.runs_html.value = (
            "<b>Runs</b> (the figure shows the last two: the older one dotted)"
            "<table><tr><th>#</th><th>settings</th><th>epochs</th><th>best epoch</th><th>val loss</th>"
            f"<th>val {metric}</th><th>end</th><th>seconds</th></tr>{''.join(rows)}</table>")

    # --- augmentation preview ----------------------------------------------------------
    def _preview_images(self) -> list[np.ndarray]:
        """One training image, then five random augmentations of it (seeded: same picture each time)."""
        data = self.data(self.dataset_dropdown.value)
        positives = np.flatnonzero(data.y_train == 1)
        x = data.x_train[positives[0] if positives.size else 0][None].repeat(5, 1, 1, 1)
        aug = augmentation(tuple(self.augment_select.value))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            shown = aug(x) if aug is not None else x
        return [x[0, 0].numpy()] + [img[0].numpy() for img in shown]

    def _preview_figure(self) -> go.Figure:
        images = self._preview_images()
        return augmentation_preview_figure(images[0], images[1:])

    def _update_preview(self) -> None:
        images = self._preview_images()
        with self.preview_figure.batch_update():   # pictures in the same boxes: swapped in place
            for trace, img in zip(self.preview_figure.data, images):
                trace.update(preview_picture(img))
        names = ", ".join(self.augment_select.value) or "none"
        self.data_html.value = (f"<small>{html.escape(self.data(self.dataset_dropdown.value).note)}; "
                                f"augmentation: {html.escape(names)}</small>")
