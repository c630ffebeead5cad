"""Lab 2 — Splitting: image-level vs patient-level splits of phantom patients, side by side.

Every patient has several images. The left panel splits the *images* (the naive, leaky way):
one patient's images land in train and in test. The middle panel splits the *patients*:
each row has one colour. The method toggle picks which split the counts and the leakage
report describe; the seed slider reshuffles both. A second figure shows k-fold
cross-validation by patient; a third, the test AUC the leak makes up (``leak_experiment``).
"""
from __future__ import annotations

import html
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from radlab.course.lab02_splitting import exercises as lab_exercises
from radlab.data.duplicates import RegistrationCache
from radlab.data.splits import LeakageReport, Split, check_leakage, kfold_by_patient, patient_labels
from radlab.experiments import SPLIT_METHODS as METHODS
from radlab.experiments import LeakExperiment, leak_experiment, make_split
from radlab.viz.splits import (LABEL_NAMES, SPLIT_COLORS, count_table_html,  # noqa: F401  (re-exported)
                               grid_trace_data, image_numbers, kfold_figure, kfold_grid, kfold_layout,
                               kfold_trace_data, leak_experiment_figure, patient_images_figure, split_grid_figure)
from radlab.widgets.guard import guard_click
from radlab.widgets.figure import Figure


#: Seeds whose splits and leakage reports a lab keeps (a student moving the slider back and forth).
SEEDS_KEPT = 32


def _kept(cache: OrderedDict, key: Any, make: Callable[[], Any]) -> Any:
    """``cache[key]``, made by ``make()`` the first time; the last SEEDS_KEPT keys used are kept."""
    if key not in cache:
        cache[key] = make()
        while len(cache) > SEEDS_KEPT:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


class SplittingLab(W.VBox):
    """The Lab 2 widget: two split grids (``figure``), counts (``counts_html``), a report, k-fold, the leak measured.

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
        self._seen: OrderedDict[int, tuple[dict, dict]] = OrderedDict()   # seed -> splits, reports
        self._seen_folds: OrderedDict[tuple[int, int], list[Split]] = OrderedDict()   # (seed, k) -> folds
        self._compute_splits()
        grids = split_grid_figure(self.splits, self.reports, self.patient_ids)
        for annotation, title in zip(grids.layout.annotations, self._grid_titles().values()):
            annotation.text = title   # in the figure the page first draws (later changes are messages)
        self.figure = Figure(grids)
        self.counts_html = W.HTML()
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
            W.HBox([self.method, self.seed_slider]), self.figure, self.counts_html, self.report_html,
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
        """Both splits of the slider's seed and their leakage reports (kept for the last SEEDS_KEPT seeds)."""
        seed = int(self.seed_slider.value)

        def compute() -> tuple[dict, dict]:
            splits = {method: make_split(method, self.labels, self.patient_ids, seed) for method in METHODS}
            return splits, {method: check_leakage(split, patient_ids=self.patient_ids, images=self.images,
                                                  registrations=self.registrations) for method, split in splits.items()}

        splits, reports = _kept(self._seen, seed, compute)
        self.splits.update(splits)
        self.reports.update(reports)

    @property
    def report(self) -> LeakageReport:
        """The leakage report of the split the method toggle selects."""
        return self.reports[self.method.value]

    # --- figures (built in radlab.viz.splits) ------------------------------------------
    def _grid_data(self) -> list[dict[str, Any]]:
        """What the grids' live traces show (both grids, in the figure's order)."""
        return [data for method in ("image", "patient")
                for data in grid_trace_data(self.splits[method], self.reports[method], self.patient_ids)]

    def _folds(self) -> list[Split]:
        seed, k = int(self.seed_slider.value), int(self.k_slider.value)
        return _kept(self._seen_folds, (seed, k), lambda: kfold_by_patient(self.labels, self.patient_ids, k=k, seed=seed))

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
        self._show_selected(grids=True)   # one message per figure, so each is drawn once
        self._on_k()

    def _on_k(self) -> None:
        folds = self._folds()   # a new seed recolours the squares; a new k changes their number and the fold axis
        self.kfold_figure.send_changes([kfold_trace_data(folds, self.patient_ids)], kfold_layout(folds))

    def _grid_titles(self) -> dict[str, str]:
        """The grid panels' titles (relayout keys): how many patients leak, ▶ on the split the toggle selects."""
        return {f"annotations[{i}].text": ("▶ " if m == self.method.value else "")
                + f"{METHODS[m]}: {len(self.reports[m].leaking_patients)} of {len(self.patients)} patients leak"
                for i, m in enumerate(("image", "patient"))}

    def _show_selected(self, *, grids: bool = False) -> None:
        """Grid titles, the counts and the report follow the method toggle (and, with ``grids``, the grids a new seed)."""
        method = self.method.value
        self.figure.send_changes(self._grid_data() if grids else [], self._grid_titles())
        seen = sum(r["patients"] for r in self.splits[method].counts(self.labels, self.patient_ids))
        self.counts_html.value = count_table_html(
            self.splits[method], self.labels, self.patient_ids,
            title=f"counts, {METHODS[method]} (patients add up to {seen} of {len(self.patients)})")
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
