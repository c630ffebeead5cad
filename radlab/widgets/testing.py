"""Lab 4 — Testing: choose the threshold on validation, then look at the test set once.

The lab shows a trained model's validation scores: an ROC curve, a threshold slider that
moves the operating point and updates sensitivity, specificity, PPV, NPV and the
confusion matrix live, and a rule menu (Youden, accuracy, a sensitivity target) that puts
the slider where the rule says. The test scores are computed only when the student
presses **Evaluate on the test set (once)**: the look is recorded by a
:class:`~radlab.metrics.TestSetGuard` (a second look, even after a restart, warns), the
threshold is locked as the reported one, and the test ROC appears with its bootstrap 95 %
confidence interval. Afterwards the slider still shows the trade-off on both sets, but the
reported numbers stay those at the locked threshold.
"""
from __future__ import annotations

import html
import warnings
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from radlab.course.lab04_testing import exercises as lab_exercises
from radlab.metrics import (AUCResult, TestSetGuard, TestSetWarning, choose_threshold,
                            ppv_npv_at_prevalence, roc_auc_ci, threshold_metrics, threshold_sweep)
from radlab.viz.evaluation import (confusion_matrix_figure, confusion_view, prevalence_figure,
                                   prevalence_trace_data, roc_figure, roc_trace_data, threshold_sweep_figure,
                                   threshold_sweep_trace_data)
from radlab.widgets.guard import guard_click
from radlab.widgets.figure import Figure

RULE_LABELS = {"youden": "Youden's J (max sensitivity + specificity)", "accuracy": "maximum accuracy",
               "sensitivity": "sensitivity ≥ 0.90 (screening)", "0.5": "0.5 (no tuning)"}
SENSITIVITY_TARGET = 0.90
THRESHOLD_STEP = 0.005  # the threshold slider's step


# ------------------------------------------------------------------ the report

@dataclass
class TestReport:
    """The one reported test result: AUC with CI and the metrics at the threshold chosen on validation."""

    __test__ = False
    threshold: float
    rule: str
    auc: AUCResult
    metrics: dict[str, float]        # test metrics at the locked threshold
    val_metrics: dict[str, float]    # validation metrics at the same threshold
    look: int                        # which look at this test set this was (1 = the first)

    def __str__(self) -> str:
        m, v = self.metrics, self.val_metrics
        lines = [f"Test set, look #{self.look}. Threshold {self.threshold:.3f} chosen on validation "
                 f"({RULE_LABELS.get(self.rule, self.rule)}).", str(self.auc),
                 f"{'':18s}{'validation':>12s}{'test':>10s}"]
        for key in ("sensitivity", "specificity", "ppv", "npv", "accuracy", "balanced_accuracy", "prevalence"):
            lines.append(f"{key:18s}{v[key]:12.3f}{m[key]:10.3f}")
        return "\n".join(lines)


# ------------------------------------------------------------------ the widget

class TestingLab(W.VBox):
    """The Lab 4 widget. Controls (attributes): ``rule_dropdown``, ``threshold_slider``, ``reveal_button``.

    Figures: ``roc_fig``, ``confusion_fig`` (validation | test), ``sweep_fig`` (validation
    metrics against the threshold), ``prevalence_fig`` (PPV/NPV against prevalence at the
    current sensitivity and specificity). ``test_scores`` may be an array or a function
    that computes them, called only when the test set is evaluated.
    """

    __test__ = False

    def __init__(self, y_val: Any, val_scores: Any, y_test: Any,
                 test_scores: np.ndarray | Callable[[], Any], *, guard: TestSetGuard,
                 class_names: tuple[str, str] = ("negative", "positive"), rule: str = "youden",
                 n_boot: int = 1000, seed: int = 0):
        if rule not in RULE_LABELS:
            raise ValueError(f"unknown rule {rule!r}; choose one of {list(RULE_LABELS)}")
        self.y_val = np.asarray(y_val).reshape(-1).astype(np.int64)
        self.val_scores = np.asarray(val_scores, dtype=np.float64).reshape(-1)
        self.y_test = np.asarray(y_test).reshape(-1).astype(np.int64)
        self._test_scores_source = test_scores
        self.test_scores: np.ndarray | None = None
        self.guard, self.class_names, self.n_boot, self.seed = guard, tuple(class_names), int(n_boot), int(seed)
        self.report: TestReport | None = None
        self.exercises = lab_exercises(self)  # "your test AUC" reads self.report once it exists
        self.val_auc = roc_auc_ci(self.y_val, self.val_scores, n_boot=self.n_boot, seed=self.seed)
        self.val_sweep = threshold_sweep(self.y_val, self.val_scores)

        self.rule_dropdown = W.Dropdown(options=[(label, key) for key, label in RULE_LABELS.items()], value=rule,
                                        description="rule", layout=W.Layout(width="420px"))
        start = self._rule_threshold(rule)
        self.threshold_slider = W.FloatSlider(value=start, min=0.0, max=1.0, step=THRESHOLD_STEP, readout_format=".3f",
                                              description="threshold", continuous_update=True,
                                              layout=W.Layout(width="420px"))
        self.reveal_button = W.Button(description="Evaluate on the test set (once)", button_style="danger",
                                      icon="lock", layout=W.Layout(width="300px"))
        self.metrics_html = W.HTML()
        self.message_html = W.HTML(self._intro_message())

        val_m = self.val_metrics
        self.roc_fig = Figure(roc_figure(None, compare=self.val_auc, compare_point=val_m,
                                                  title="ROC: validation (dashed); test after the one look"))
        self.roc_fig.layout.width = 470
        self._roc_report: TestReport | None = None     # the report the ROC's curves show
        self.confusion_fig = Figure(confusion_matrix_figure(
            [("validation", val_m), ("test: not looked at yet", None)], class_names=self.class_names))
        self.sweep_fig = Figure(threshold_sweep_figure(
            self.val_sweep, self.threshold, title="Validation: what each threshold gives", height=420))
        self.sweep_fig.layout.width = 560
        self.prevalence_fig = Figure(prevalence_figure(
            val_m["sensitivity"], val_m["specificity"], self._prevalences()))

        self.rule_dropdown.observe(lambda _c: self._on_rule(), names="value")
        self.threshold_slider.observe(lambda _c: self.update(), names="value")
        self.reveal_guard = guard_click(self.reveal_button, self.evaluate_test, status=self.message_html)
        self.update()
        super().__init__([
            self.message_html,
            W.HBox([self.rule_dropdown, self.threshold_slider]),
            W.HBox([self.roc_fig, self.sweep_fig]),
            self.confusion_fig, self.metrics_html,
            self.reveal_button, self.prevalence_fig,
        ])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Copy every figure's current traces into its widget state, then show the lab.

        plotly sends changes to a FigureWidget as messages, which a page that is not open
        yet never receives (Voila runs the whole notebook before the page connects, and
        the test may already have been evaluated). A FigureWidget displayed on its own does
        this copy itself; inside a VBox it does not, so the lab does it for its figures.
        """
        for fig in self.figures:
            fig._widget_data = deepcopy(fig._data)
            fig._widget_layout = deepcopy(fig._layout_obj._props)
        return super()._repr_mimebundle_(**kwargs)

    @property
    def figures(self) -> list[go.FigureWidget]:
        """The lab's four live figures."""
        return [self.roc_fig, self.confusion_fig, self.sweep_fig, self.prevalence_fig]

    # --- what the lab computes -------------------------------------------------------

    @property
    def threshold(self) -> float:
        """The slider's threshold, clipped to [0, 1] (widget values are untrusted)."""
        value = float(self.threshold_slider.value)
        return float(np.clip(value, 0.0, 1.0)) if np.isfinite(value) else 0.5

    @property
    def val_metrics(self) -> dict[str, float]:
        return threshold_metrics(self.y_val, self.val_scores, self.threshold)

    @property
    def test_metrics(self) -> dict[str, float] | None:
        """Test metrics at the current threshold (None before the one look)."""
        if self.test_scores is None:
            return None
        return threshold_metrics(self.y_test, self.test_scores, self.threshold)

    def _rule_threshold(self, rule: str) -> float:
        """The rule's threshold, on the slider's grid: the largest slider position at or below it.

        The browser's slider snaps any value to its step and sends the snapped value back, which
        redrew all four figures a second time after every rule change. Rounding down keeps every
        validation image the rule calls positive positive, so "sensitivity ≥ 0.90" still holds.
        """
        t = float(np.clip(choose_threshold(self.y_val, self.val_scores, rule, target=SENSITIVITY_TARGET), 0.0, 1.0))
        return round(float(np.floor(t / THRESHOLD_STEP + 1e-9)) * THRESHOLD_STEP, 6)

    def _prevalences(self) -> dict[str, float]:
        return {"validation": float(self.y_val.mean()), "test": float(self.y_test.mean())}

    def evaluate_test(self) -> TestReport:
        """Look at the test set once: record the look, lock the threshold, compute AUC with CI.

        Calling it again returns the same report without another look.
        """
        if self.report is not None:
            return self.report
        rule, threshold = self.rule_dropdown.value, self.threshold
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TestSetWarning)
            look = self.guard.look(f"Lab 4: test set at threshold {threshold:.3f} chosen on validation ({rule})")
        source = self._test_scores_source
        scores = np.asarray(source() if callable(source) else source, dtype=np.float64).reshape(-1)
        if scores.shape != self.y_test.shape:
            raise ValueError(f"{scores.size} test scores for {self.y_test.size} test labels")
        self.test_scores = scores
        auc = roc_auc_ci(self.y_test, scores, n_boot=self.n_boot, seed=self.seed)
        self.report = TestReport(threshold=threshold, rule=rule, auc=auc,
                                 metrics=threshold_metrics(self.y_test, scores, threshold),
                                 val_metrics=threshold_metrics(self.y_val, self.val_scores, threshold), look=look)
        self.reveal_button.disabled = True
        self.reveal_button.description = f"Test set evaluated (look #{look})"
        notes = [str(w.message) for w in caught if issubclass(w.category, TestSetWarning)]
        for note in notes:                            # shown in the notebook, and in the page below
            warnings.warn(note, TestSetWarning, stacklevel=2)
        self.message_html.value = self._report_message(notes)
        self.update()
        return self.report

    # --- drawing ---------------------------------------------------------------------

    def _on_rule(self) -> None:
        rule = self.rule_dropdown.value
        if rule in RULE_LABELS:                       # widget values are untrusted input
            self.threshold_slider.value = self._rule_threshold(rule)

    def update(self) -> None:
        """Redraw everything for the current threshold (what moving the slider does)."""
        val_m, test_m = self.val_metrics, self.test_metrics
        roc = roc_trace_data(self.report.auc if self.report else None, point=test_m,
                             compare=self.val_auc, compare_point=val_m)
        # a new threshold moves the two operating points; the curves change only with the report
        # (plotly.py compares every long list it is given: ~10 ms a step for nothing)
        changed = range(len(roc)) if self._roc_report is not self.report else (len(roc) - 2, len(roc) - 1)
        with self.roc_fig.batch_update():
            for k in changed:
                self.roc_fig.data[k].update(roc[k])
        self._roc_report = self.report
        test_title = "test: not looked at yet" if test_m is None else f"test at {self.threshold:.3f}"
        with self.confusion_fig.batch_update():
            cells = self.confusion_fig.layout.annotations[2:]   # after the two panel titles, four per panel
            for k, metrics in enumerate((val_m, test_m)):
                picture, texts = confusion_view(metrics, class_names=self.class_names)
                self.confusion_fig.data[k].update(picture)
                for annotation, cell in zip(cells[4 * k:4 * k + 4], texts):
                    annotation.text = cell["text"]
                    if annotation.font.color != cell["font"]["color"]:   # (update() of a nested dict: ~1 ms)
                        annotation.font.color = cell["font"]["color"]
            self.confusion_fig.layout.annotations[0].text = f"validation at {self.threshold:.3f}"
            self.confusion_fig.layout.annotations[1].text = test_title
        with self.sweep_fig.batch_update():
            self.sweep_fig.data[-1].update(threshold_sweep_trace_data(self.val_sweep, self.threshold)[-1])
        with self.prevalence_fig.batch_update():
            for trace, data in zip(self.prevalence_fig.data,
                                   prevalence_trace_data(val_m["sensitivity"], val_m["specificity"],
                                                         self._prevalences())):
                trace.y = data["y"]           # the prevalences (x) and the marks' labels stay
            self.prevalence_fig.layout.title.text = (
                f"PPV/NPV vs prevalence at validation sensitivity {val_m['sensitivity']:.2f}, "
                f"specificity {val_m['specificity']:.2f}")
        self.metrics_html.value = self._metrics_table(val_m, test_m)

    def _metrics_table(self, val_m: dict[str, float], test_m: dict[str, float] | None) -> str:
        rows = [("sensitivity (recall)", "sensitivity"), ("specificity", "specificity"), ("PPV (precision)", "ppv"),
                ("NPV", "npv"), ("accuracy", "accuracy"), ("balanced accuracy", "balanced_accuracy"),
                (f"prevalence of {self.class_names[1]}", "prevalence")]
        reported = self.report.metrics if self.report else None
        expected_ppv, expected_npv = ppv_npv_at_prevalence(val_m["sensitivity"], val_m["specificity"],
                                                           self.y_test.mean())

        def cell(m: dict[str, float] | None, key: str) -> str:
            return "—" if m is None or not np.isfinite(m[key]) else f"{m[key]:.3f}"

        head = ("<tr><th></th><th>validation (now)</th><th>test (now)</th>"
                f"<th>test, reported (locked {self.report.threshold:.3f})</th></tr>" if self.report else
                "<tr><th></th><th>validation (now)</th><th>test</th><th>reported</th></tr>")
        body = "".join(f"<tr><td>{html.escape(label)}</td><td>{cell(val_m, key)}</td><td>{cell(test_m, key)}</td>"
                       f"<td><b>{cell(reported, key)}</b></td></tr>" for label, key in rows)
        auc = (f"<tr><td>AUC (95% CI)</td><td>{self.val_auc.auc:.3f} ({self.val_auc.low:.3f}–{self.val_auc.high:.3f})"
               f"</td><td>—</td><td><b>" + (f"{self.report.auc.auc:.3f} ({self.report.auc.low:.3f}–"
                                            f"{self.report.auc.high:.3f})" if self.report else "—") + "</b></td></tr>")
        note = (f"<p>Bayes' rule with the validation sensitivity and specificity predicts, at the test prevalence "
                f"({self.y_test.mean():.1%}): PPV {expected_ppv:.3f}, NPV {expected_npv:.3f}.</p>")
        return (f"<table style='border-collapse:collapse' cellpadding='4'>{head}{auc}{body}</table>{note}")

    def _intro_message(self) -> str:
        return ("<p><b>Choose the threshold on the validation set.</b> Pick a rule or move the slider. "
                "When you are satisfied, press <i>Evaluate on the test set (once)</i>: the threshold is locked "
                f"and the look is recorded in <code>{html.escape(str(self.guard.path))}</code>.</p>")

    def _report_message(self, notes: list[str]) -> str:
        assert self.report is not None
        text = (f"<p><b>Test set evaluated (look #{self.report.look}).</b> Reported: "
                f"{html.escape(str(self.report.auc))}, at the locked threshold {self.report.threshold:.3f}. "
                "Moving the slider now only shows the trade-off; choosing a new threshold from the test numbers "
                "would tune on the test set.</p>")
        for note in notes:
            text += f"<p style='color:#9a3412'><b>Warning:</b> {html.escape(note)}</p>"
        return text
