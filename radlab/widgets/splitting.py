"""Lab 2 — Splitting: image-level vs patient-level splits of phantom patients, side by side.

Every patient has several images. The left panel splits the *images* (the naive, leaky way):
one patient's images land in train and in test. The middle panel splits the *patients*:
each row has one colour. The method toggle picks which split the counts and the leakage
report describe; the seed slider reshuffles both. A second figure shows k-fold
cross-validation by patient; a third, the test AUC the leak makes up (``leak_experiment``).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.course.lab02_splitting import exercises as lab_exercises
from radlab.data.splits import (
    LeakageReport, Split, check_leakage, kfold_by_patient, patient_labels, split_by_image, split_by_patient,
)

SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
METHODS = {"image": "by image (leaky)", "patient": "by patient"}
LABEL_NAMES = {0: "no lesion", 1: "lesion"}


def make_split(method: str, labels: np.ndarray, patient_ids: np.ndarray, seed: int) -> Split:
    """The split the lab shows for ``method`` ("image" or "patient"); 15 % val, 15 % test."""
    if method == "image":
        return split_by_image(labels, seed=seed)
    if method == "patient":
        return split_by_patient(labels, patient_ids, seed=seed)
    raise ValueError(f"unknown split method {method!r}; choose one of {sorted(METHODS)}")


class SplittingLab(W.VBox):
    """The Lab 2 widget: two split grids and counts (``figure``), a report, k-fold, the leak measured.

    Controls (attributes, so tests can set them): ``method`` (ToggleButtons: "image" or
    "patient"), ``seed_slider``, ``k_slider``, ``run_button`` (same as ``run_experiment()``).
    ``phantoms`` is a :class:`radlab.data.phantoms.PhantomSet` (anything with ``images``,
    ``labels`` and ``patient_ids`` works); ``experiment_data`` (default: ``phantoms``) is what
    :func:`leak_experiment` trains on, ideally with more images per patient.
    """

    def __init__(self, phantoms: Any, *, seed: int = 0, k: int = 5, experiment_data: Any | None = None,
                 new_patients: Any | None = None, epochs: int = 12):
        self.experiment_data = phantoms if experiment_data is None else experiment_data
        self.new_patients = new_patients
        self.epochs = int(epochs)
        self.images = np.asarray(phantoms.images)
        self.labels = np.asarray(phantoms.labels)
        self.patient_ids = np.asarray(phantoms.patient_ids)
        self.patients = np.unique(self.patient_ids)
        # each image's number within its patient (1, 2, 3, ...): the grid's column
        self.image_number = np.zeros(len(self.labels), dtype=int)
        for pid in self.patients:
            where = np.flatnonzero(self.patient_ids == pid)
            self.image_number[where] = np.arange(1, where.size + 1)

        self.method = W.ToggleButtons(options=[(label, key) for key, label in METHODS.items()],
                                      value="image", description="Split")
        self.seed_slider = W.IntSlider(value=int(seed), min=0, max=99, description="seed",
                                       continuous_update=False)
        max_k = int(min(10, self._patient_label_counts().min()))
        self.k_slider = W.IntSlider(value=int(np.clip(k, 2, max(2, max_k))), min=2, max=max(2, max_k),
                                    description="k folds", continuous_update=False)
        self.report_html = W.HTML()
        self.splits: dict[str, Split] = {}
        self.reports: dict[str, LeakageReport] = {}
        self._compute_splits()
        self.figure = go.FigureWidget(self._split_figure())
        self.kfold_figure = go.FigureWidget(self._kfold_traces_figure())
        self.experiment: LeakExperiment | None = None
        self.exercises = lab_exercises(self)  # answers read this lab's split and experiment
        names = list(METHODS.values())
        self.experiment_figure = go.FigureWidget(data=[
            go.Bar(x=names, y=[0.0, 0.0], name="its own test set", marker_color="#8c6d31",
                   error_y=dict(type="data", symmetric=False, array=[0.0, 0.0], arrayminus=[0.0, 0.0]),
                   text=["not run", "not run"], textposition="outside"),
            go.Bar(x=names, y=[0.0, 0.0], name="new patients", marker_color="#1a7f37",
                   text=["", ""], textposition="outside"),
        ], layout=dict(title="Test AUC of the same CNN: press 'Train both' to measure", barmode="group",
                       yaxis=dict(range=[0, 1.15], title="ROC AUC"), height=380, template="plotly_white",
                       legend=dict(orientation="h", y=-0.15), margin=dict(l=60, r=20, t=50, b=60)))
        self.run_button = W.Button(description="Train both", icon="play", button_style="primary",
                                   tooltip="train the same CNN on each split and compare the test AUC")
        self.run_status = W.HTML()
        self.run_button.on_click(lambda _b: self.run_experiment())
        self._show_selected()

        self.method.observe(lambda _c: self._show_selected(), names="value")
        self.seed_slider.observe(lambda _c: self._on_seed(), names="value")
        self.k_slider.observe(lambda _c: self._on_k(), names="value")
        super().__init__([
            W.HBox([self.method, self.seed_slider]), self.figure, self.report_html,
            W.HTML("<b>k-fold cross-validation by patient</b>: each patient is held out once."),
            self.k_slider, self.kfold_figure,
            W.HTML("<b>What the leak does to the test score</b>: train the same CNN on each split."),
            W.HBox([self.run_button, self.run_status]), self.experiment_figure,
        ])

    # --- what the lab computes ------------------------------------------------------
    def _patient_label_counts(self) -> np.ndarray:
        """Number of patients per label (the most k-fold can use when stratifying)."""
        _, plabel, _ = patient_labels(self.labels, self.patient_ids)
        return np.unique(plabel, return_counts=True)[1]

    def _compute_splits(self) -> None:
        seed = int(self.seed_slider.value)
        for method in METHODS:
            split = make_split(method, self.labels, self.patient_ids, seed)
            self.splits[method] = split
            self.reports[method] = check_leakage(split, patient_ids=self.patient_ids, images=self.images)

    @property
    def report(self) -> LeakageReport:
        """The leakage report of the split the method toggle selects."""
        return self.reports[self.method.value]

    # --- figures ----------------------------------------------------------------------
    def _grid_points(self, split: Split) -> list[dict[str, Any]]:
        """Per split name the (x, y) of its images in the patients × images grid."""
        names = split.assignment()
        return [{"x": self.image_number[names == s], "y": self.patient_ids[names == s]}
                for s in SPLIT_COLORS]

    def _leak_points(self, method: str) -> dict[str, Any]:
        leaking = self.reports[method].leaking_patients
        return {"x": np.zeros(len(leaking)), "y": np.asarray(leaking, dtype=self.patient_ids.dtype)}

    def _count_bars(self, method: str) -> list[dict[str, Any]]:
        """Images per split and label, and distinct patients per split."""
        rows = self.splits[method].counts(self.labels, self.patient_ids)
        x = [r["split"] for r in rows]
        bars = [{"x": x, "y": [r.get(f"label {c}", 0) for r in rows]} for c in LABEL_NAMES]
        bars.append({"x": x, "y": [r["patients"] for r in rows]})
        return bars

    def _split_figure(self) -> go.Figure:
        """Grid by image | grid by patient | counts of the selected split (all traces built now)."""
        fig = make_subplots(rows=1, cols=3, column_widths=[0.3, 0.3, 0.4], horizontal_spacing=0.07,
                            subplot_titles=("by image", "by patient", "counts"))  # set in _show_selected
        for col, method in ((1, "image"), (2, "patient")):
            for (name, color), pts in zip(SPLIT_COLORS.items(), self._grid_points(self.splits[method])):
                fig.add_trace(go.Scatter(**pts, mode="markers", name=name, legendgroup=name,
                                         showlegend=col == 1, marker=dict(symbol="square", size=9, color=color),
                                         hovertemplate="patient %{y}, image %{x}<extra>" + name + "</extra>"),
                              row=1, col=col)
            fig.add_trace(go.Scatter(**self._leak_points(method), mode="markers", name="patient in 2+ splits",
                                     legendgroup="leak", showlegend=col == 1,
                                     marker=dict(symbol="x", size=9, color="#d62728"),
                                     hovertemplate="patient %{y} leaks<extra></extra>"), row=1, col=col)
        bar_style = [("images: " + LABEL_NAMES[0], "#bcbddc"), ("images: " + LABEL_NAMES[1], "#6a51a3"),
                     ("patients", "#636363")]
        for (name, color), bars in zip(bar_style, self._count_bars("image")):
            fig.add_trace(go.Bar(**bars, name=name, marker_color=color, text=bars["y"], textposition="outside"),
                          row=1, col=3)

        n_images = int(self.image_number.max())
        order = list(self.patients[::-1])  # first patient at the top
        for col in (1, 2):
            fig.update_xaxes(tickvals=list(range(n_images + 1)),
                             ticktext=["leak"] + [f"img {i}" for i in range(1, n_images + 1)],
                             range=[-0.6, n_images + 0.6], row=1, col=col)
            fig.update_yaxes(type="category", categoryorder="array", categoryarray=order,
                             showticklabels=col == 1, tickfont=dict(size=8), row=1, col=col)
        fig.update_yaxes(matches="y", row=1, col=2)
        fig.update_yaxes(title_text="count", row=1, col=3)
        fig.update_layout(height=max(420, 11 * len(self.patients) + 140), barmode="group",
                          margin=dict(l=60, r=20, t=90, b=40),
                          legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0), template="plotly_white")
        return fig

    def _kfold_traces_figure(self) -> go.Figure:
        z, x = self._kfold_grid()
        heat = go.Heatmap(z=z, x=x, y=list(self.patients), zmin=0, zmax=1, showscale=False,
                          colorscale=[[0, SPLIT_COLORS["train"]], [1, SPLIT_COLORS["val"]]],
                          xgap=2, ygap=1, hovertemplate="patient %{y}, %{x}<extra></extra>")
        fig = go.Figure(data=[heat])
        fig.update_yaxes(autorange="reversed", tickfont=dict(size=8))
        fig.update_layout(height=max(320, 9 * len(self.patients) + 100), template="plotly_white",
                          title="k-fold by patient: orange = held out (val) in that fold, blue = train",
                          margin=dict(l=60, r=20, t=50, b=40))
        return fig

    def _kfold_grid(self) -> tuple[np.ndarray, list[str]]:
        """Patients × folds: 1 where the patient is in that fold's val."""
        k, seed = int(self.k_slider.value), int(self.seed_slider.value)
        folds = kfold_by_patient(self.labels, self.patient_ids, k=k, seed=seed)
        z = np.array([[float(pid in set(self.patient_ids[f.val])) for f in folds] for pid in self.patients])
        return z, [f"fold {f.fold + 1}" for f in folds]

    def run_experiment(self, epochs: int | None = None) -> LeakExperiment:
        """Train the CNN on both splits (seed from the slider) and show the AUCs side by side."""
        self.run_button.disabled = True
        self.run_status.value = "training on both splits..."
        try:
            self.experiment = leak_experiment(self.experiment_data, self.new_patients,
                                              seed=int(self.seed_slider.value), epochs=int(epochs or self.epochs))
        except Exception as err:  # a button callback's error would otherwise vanish into the log
            self.run_status.value = f"<span style='color:#cf222e'>failed: {html.escape(str(err))}</span>"
            raise
        finally:
            self.run_button.disabled = False
        e = self.experiment
        with self.experiment_figure.batch_update():
            test, new = self.experiment_figure.data
            test.y, new.y = [e.auc[m] for m in METHODS], [e.auc_new[m] for m in METHODS]
            test.text = [f"{e.auc[m]:.2f}" for m in METHODS]
            new.text = [f"{e.auc_new[m]:.2f}" for m in METHODS]
            test.error_y.array = [e.auc_ci[m][1] - e.auc[m] for m in METHODS]
            test.error_y.arrayminus = [e.auc[m] - e.auc_ci[m][0] for m in METHODS]
            self.experiment_figure.layout.title.text = (
                f"Seed {e.seed}: the leaky test set overstates the AUC on new patients by {e.inflation:+.2f}")
        self.run_status.value = f"done in {e.seconds:.0f} s"
        return e

    # --- reacting to the controls -------------------------------------------------------
    def _on_seed(self) -> None:
        self._compute_splits()
        with self.figure.batch_update():
            for i, method in enumerate(("image", "patient")):
                base = 4 * i  # each grid panel has 3 split traces + the leak trace
                for j, pts in enumerate(self._grid_points(self.splits[method])):
                    self.figure.data[base + j].update(x=pts["x"], y=pts["y"])
                self.figure.data[base + 3].update(**self._leak_points(method))
        self._show_selected()
        self._on_k()

    def _on_k(self) -> None:
        z, x = self._kfold_grid()
        with self.kfold_figure.batch_update():
            self.kfold_figure.data[0].update(z=z, x=x)

    def _show_selected(self) -> None:
        """Counts panel, panel titles and the report follow the method toggle."""
        method = self.method.value
        n_leak = {m: len(self.reports[m].leaking_patients) for m in METHODS}
        with self.figure.batch_update():
            for trace, bars in zip(self.figure.data[8:], self._count_bars(method)):
                trace.update(y=bars["y"], text=bars["y"])
            seen = sum(r["patients"] for r in self.splits[method].counts(self.labels, self.patient_ids))
            titles = [f"{METHODS[m]}: {n_leak[m]} of {len(self.patients)} patients leak"
                      for m in ("image", "patient")]
            titles.append(f"counts, {METHODS[method]} (patients add up to {seen} of {len(self.patients)})")
            for ann, text, m in zip(self.figure.layout.annotations, titles, ("image", "patient", None)):
                ann.text = ("▶ " if m == method else "") + text
        self.report_html.value = report_html(self.reports[method], METHODS[method])


@dataclass
class LeakExperiment:
    """One small CNN trained on the split by image and on the split by patient, then scored twice.

    ``auc``: on the split's own test set (what a paper would report). ``auc_new``: on patients
    that appear nowhere in the data (what happens in the clinic). The gap between the two, for
    the leaky split, is the score the leak made up.
    """

    auc: dict[str, float]                    # method -> AUC on its own test set
    auc_ci: dict[str, tuple[float, float]]   # method -> 95 % bootstrap interval of ``auc``
    auc_new: dict[str, float]                # method -> AUC on new patients
    n_test: dict[str, int]                   # method -> test images
    seen_test_images: dict[str, int]         # method -> test images whose patient is also in train
    n_new: int                               # images of new patients
    epochs: int
    seed: int
    seconds: float

    @property
    def inflation(self) -> float:
        """How far the leaky split's test AUC overstates the AUC on new patients."""
        return self.auc["image"] - self.auc_new["image"]

    def __str__(self) -> str:
        lines = [f"Same CNN, same seed ({self.seed}), {self.epochs} epochs; both trained in {self.seconds:.0f} s."]
        for method, label in METHODS.items():
            low, high = self.auc_ci[method]
            lines.append(f"  {label:<17} test AUC {self.auc[method]:.3f} (95% CI {low:.2f}-{high:.2f}), "
                         f"new patients {self.auc_new[method]:.3f}; {self.seen_test_images[method]} of "
                         f"{self.n_test[method]} test images are of patients seen in training")
        lines.append(f"  the leaky test set overstates the AUC on {self.n_new} new patients by {self.inflation:+.3f}")
        return "\n".join(lines)


def leak_experiment(phantoms: Any, new_patients: Any | None = None, *, seed: int = 0, epochs: int = 12,
                    width: int = 8, batch_size: int = 32, lr: float = 3e-3) -> LeakExperiment:
    """Train the same small CNN on the split by image and by patient; compare the test AUCs.

    Everything but the split is the same: architecture, seed, epochs, optimiser. The
    by-image test set holds images of patients the model trained on, so its AUC measures
    partly memory. Both models are also scored on ``new_patients`` (by default 100 fresh
    phantom patients, one image each): the yardstick neither split can leak into. The leak
    shows most with several images per patient (a follow-up series), as in real archives.
    """
    import time

    from radlab.data.phantoms import make_phantoms
    from radlab.data.transforms import to_model_input
    from radlab.metrics import roc_auc, roc_auc_ci
    from radlab.models.cnn import TeachingCNN
    from radlab.train import fit, predict

    started = time.perf_counter()
    if new_patients is None:  # another seed draws other patients
        kind = "ct" if getattr(phantoms, "units", "detector") == "HU" else "chest"
        new_patients = make_phantoms(kind, n_patients=100, images_per_patient=1,
                                     size=int(phantoms.images.shape[-1]), seed=seed + 10_007)
    units = "HU" if getattr(phantoms, "units", "detector") == "HU" else "unit"  # CT phantoms are in HU
    x = to_model_input(phantoms.images, units=units)
    x_new = to_model_input(new_patients.images, units=units)
    labels, pids = np.asarray(phantoms.labels), np.asarray(phantoms.patient_ids)
    y = labels.astype(np.float32)
    auc, auc_ci, auc_new, n_test, seen = {}, {}, {}, {}, {}
    for method in METHODS:
        split = make_split(method, labels, pids, seed)
        model = TeachingCNN(width=width, n_blocks=3, image_size=x.shape[-1])
        result = fit(model, (x[split.train], y[split.train]), (x[split.val], y[split.val]), epochs=epochs,
                     batch_size=batch_size, lr=lr, seed=seed, save=False, progress=False)
        ci = roc_auc_ci(labels[split.test], predict(result.model, x[split.test]), seed=seed)
        auc[method], auc_ci[method] = float(ci.auc), (float(ci.low), float(ci.high))
        auc_new[method] = float(roc_auc(new_patients.labels, predict(result.model, x_new)))
        n_test[method] = int(split.test.size)
        seen[method] = int(np.isin(pids[split.test], pids[split.train]).sum())
    return LeakExperiment(auc, auc_ci, auc_new, n_test, seen, len(new_patients.labels), epochs, seed,
                          time.perf_counter() - started)


def patient_images_figure(phantoms: Any, n_patients: int = 3) -> go.Figure:
    """The images of the first few patients, one row per patient: a patient's images look alike."""
    pids = np.asarray(phantoms.patient_ids)
    patients = list(dict.fromkeys(pids.tolist()))[:n_patients]
    per_row = max(int(np.sum(pids == p)) for p in patients)
    labels = np.asarray(phantoms.labels)
    titles = []
    for p in patients:
        where = np.flatnonzero(pids == p)
        titles += [f"{p} image {j + 1}: {LABEL_NAMES.get(int(labels[i]), labels[i])}" for j, i in enumerate(where)]
        titles += [""] * (per_row - where.size)
    fig = make_subplots(rows=len(patients), cols=per_row, subplot_titles=titles,
                        horizontal_spacing=0.02, vertical_spacing=0.08)
    for r, p in enumerate(patients, start=1):
        for c, i in enumerate(np.flatnonzero(pids == p), start=1):
            fig.add_trace(go.Heatmap(z=np.asarray(phantoms.images[i])[::-1], colorscale="gray",
                                     showscale=False, hovertemplate="value %{z:.2f}<extra></extra>"),
                          row=r, col=c)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=230 * len(patients), width=230 * per_row + 40, margin=dict(l=10, r=10, t=40, b=10),
                      title="Images of the same patient look alike")
    return fig


def report_html(report: LeakageReport, title: str) -> str:
    """The leakage report as a small HTML table (red counts where something leaks)."""
    head = "no leakage found" if report.ok else f"LEAKAGE: {len(report.leaking_patients)} patients in 2+ splits"
    color = "#1a7f37" if report.ok else "#cf222e"
    rows = "".join(
        f"<tr><td>{html.escape(r['check'])}</td><td>{html.escape(r['splits'])}</td>"
        f"<td style='text-align:right;color:{'#cf222e' if r['count'] else '#1a7f37'}'>"
        f"<b>{r['count']}</b> {r['unit']}</td><td>{html.escape(r['examples'])}</td></tr>"
        for r in report.to_rows())
    return (f"<b>Leakage check, {html.escape(title)}: <span style='color:{color}'>{head}</span></b>"
            "<table style='border-collapse:collapse;font-size:90%'>"
            "<tr><th>check</th><th>splits</th><th>count</th><th>examples</th></tr>"
            f"{rows}</table>")
