"""Lab 2 — Splitting: image-level vs patient-level splits of phantom patients, side by side.

Every patient has several images. The left panel splits the *images* (the naive, leaky way):
one patient's images land in train and in test. The middle panel splits the *patients*:
each row has one colour. The method toggle picks which split the counts and the leakage
report describe; the seed slider reshuffles both. A second figure shows k-fold
cross-validation by patient; a third, the test AUC the leak makes up (``leak_experiment``).
"""
from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np

from radlab.course.lab02_splitting import exercises as lab_exercises
from radlab.data.duplicates import RegistrationCache
from radlab.data.splits import LeakageReport, Split, check_leakage, kfold_by_patient, patient_labels
from radlab.experiments import SPLIT_METHODS as METHODS
from radlab.experiments import LeakExperiment, leak_experiment, make_split
from radlab.viz.splits import (LABEL_NAMES, SPLIT_COLORS, count_bars, grid_points, image_numbers,  # noqa: F401  (re-exported)
                               kfold_figure, kfold_grid, leak_experiment_figure, leak_points, patient_images_figure,
                               split_grid_figure)
from radlab.widgets.guard import guard_click
from radlab.widgets.figure import Figure


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
        self.image_number = image_numbers(self.patient_ids)  # each image's number within its patient

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
        self.registrations = RegistrationCache()  # a new seed aligns only image pairs not seen before
        self._compute_splits()
        self.figure = Figure(split_grid_figure(self.splits, self.reports, self.labels, self.patient_ids))
        self.kfold_figure = Figure(kfold_figure(self._folds(), self.patient_ids))
        self.experiment: LeakExperiment | None = None
        self.exercises = lab_exercises(self)  # answers read this lab's split and experiment
        self.experiment_figure = Figure(leak_experiment_figure(list(METHODS.values())))
        self.run_button = W.Button(description="Train both", icon="play", button_style="primary",
                                   tooltip="train the same CNN on each split and compare the test AUC")
        self.run_status = W.HTML()
        self.run_guard = guard_click(self.run_button, self.run_experiment, status=self.run_status)
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
            self.reports[method] = check_leakage(split, patient_ids=self.patient_ids, images=self.images,
                                                 registrations=self.registrations)

    @property
    def report(self) -> LeakageReport:
        """The leakage report of the split the method toggle selects."""
        return self.reports[self.method.value]

    # --- figures (built in radlab.viz.splits) ------------------------------------------
    def _grid_points(self, split: Split) -> list[dict[str, Any]]:
        return grid_points(split, self.image_number, self.patient_ids)

    def _leak_points(self, method: str) -> dict[str, Any]:
        return leak_points(self.reports[method], self.patient_ids)

    def _count_bars(self, method: str) -> list[dict[str, Any]]:
        return count_bars(self.splits[method], self.labels, self.patient_ids)

    def _folds(self) -> list[Split]:
        return kfold_by_patient(self.labels, self.patient_ids, k=int(self.k_slider.value),
                                seed=int(self.seed_slider.value))

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
        with self.figure.batch_update():  # one message, so the browser redraws the grids once, not twice
            for i, method in enumerate(("image", "patient")):
                base = 4 * i  # each grid panel has 3 split traces + the leak trace
                for j, pts in enumerate(self._grid_points(self.splits[method])):
                    self.figure.data[base + j].update(x=pts["x"], y=pts["y"])
                self.figure.data[base + 3].update(**self._leak_points(method))
            self._show_selected()
        self._on_k()

    def _on_k(self) -> None:
        z, x = kfold_grid(self._folds(), self.patient_ids)
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
