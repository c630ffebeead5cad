"""Evaluation figures: ROC with its confidence band, confusion matrices, threshold sweep, calibration, prevalence.

Each figure has a fixed list of traces, built by a ``*_trace_data`` function, so a live
``FigureWidget`` is built once and then only has ``fig.data[i]`` updated (the
FigureWidget rule). Inputs are the results of :mod:`radlab.metrics`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.metrics import AUCResult, CalibrationResult, ppv_npv_at_prevalence
from radlab.viz.images import grey_levels, image_source, palette

MAIN_COLOR, COMPARE_COLOR, CHANCE_COLOR = "#2ca02c", "#ff7f0e", "#9a9a9a"
METRIC_COLORS = {"sensitivity": "#d62728", "specificity": "#1f77b4", "ppv": "#9467bd", "npv": "#17becf",
                 "accuracy": "#7f7f7f"}
METRIC_LABELS = {"sensitivity": "sensitivity", "specificity": "specificity", "ppv": "PPV", "npv": "NPV",
                 "accuracy": "accuracy"}

#: The traces of :func:`roc_figure`, in order.
ROC_TRACES = ("chance", "band low", "band high", "compare curve", "curve", "compare point", "point")


def _auc_label(label: str, result: AUCResult | None, with_ci: bool) -> str:
    if result is None:
        return f"{label} (not shown yet)"
    if with_ci:
        return f"{label}: AUC {result.auc:.3f} ({100 * result.level:.0f}% CI {result.low:.3f}–{result.high:.3f})"
    return f"{label}: AUC {result.auc:.3f}"


def _point(metrics: Mapping[str, float] | None, label: str) -> dict[str, Any]:
    """An operating point; its name (the legend's) stays while the threshold moves, which its hover
    text gives, so a new threshold only moves the point (no legend redrawn)."""
    if metrics is None:
        return {"x": [], "y": [], "text": [], "name": f"{label} operating point"}
    text = (f"threshold {metrics['threshold']:.2f}<br>sensitivity {metrics['sensitivity']:.3f}"
            f"<br>specificity {metrics['specificity']:.3f}")
    return {"x": [1 - metrics["specificity"]], "y": [metrics["sensitivity"]], "text": [text],
            "name": f"{label} operating point"}


def roc_trace_data(result: AUCResult | None, *, label: str = "test", point: Mapping[str, float] | None = None,
                   compare: AUCResult | None = None, compare_label: str = "validation",
                   compare_point: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """x/y/name of every trace in :data:`ROC_TRACES` order (empty where there is nothing to show)."""
    band = ({"x": list(result.fpr_grid), "y": list(result.tpr_low)},
            {"x": list(result.fpr_grid), "y": list(result.tpr_high),
             "name": f"{100 * result.level:.0f}% bootstrap band"}) if result is not None else \
           ({"x": [], "y": []}, {"x": [], "y": [], "name": "bootstrap band"})
    curve = {"x": list(result.fpr), "y": list(result.tpr)} if result is not None else {"x": [], "y": []}
    other = {"x": list(compare.fpr), "y": list(compare.tpr)} if compare is not None else {"x": [], "y": []}
    return [
        {"x": [0, 1], "y": [0, 1]},
        band[0], band[1],
        {**other, "name": _auc_label(compare_label, compare, with_ci=False)},
        {**curve, "name": _auc_label(label, result, with_ci=True)},
        _point(compare_point, compare_label),
        _point(point, label),
    ]


def roc_figure(result: AUCResult | None, *, label: str = "test", point: Mapping[str, float] | None = None,
               compare: AUCResult | None = None, compare_label: str = "validation",
               compare_point: Mapping[str, float] | None = None, title: str | None = None,
               height: int = 420) -> go.Figure:
    """ROC curve with its bootstrap band and AUC (95 % CI) in the legend, a second curve to compare, operating points."""
    data = roc_trace_data(result, label=label, point=point, compare=compare, compare_label=compare_label,
                          compare_point=compare_point)
    traces = [
        go.Scatter(**data[0], mode="lines", name="chance (AUC 0.5)", line=dict(color=CHANCE_COLOR, dash="dot")),
        go.Scatter(**data[1], mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip"),
        go.Scatter(**data[2], mode="lines", line=dict(width=0), fill="tonexty",
                   fillcolor="rgba(44,160,44,0.18)", hoverinfo="skip"),
        go.Scatter(**data[3], mode="lines", line=dict(color=COMPARE_COLOR, dash="dash", shape="hv")),
        go.Scatter(**data[4], mode="lines", line=dict(color=MAIN_COLOR, width=2.5, shape="hv")),
        go.Scatter(**data[5], mode="markers", hovertemplate="%{text}<extra></extra>",
                   marker=dict(color=COMPARE_COLOR, size=11, symbol="diamond", line=dict(color="black", width=1))),
        go.Scatter(**data[6], mode="markers", hovertemplate="%{text}<extra></extra>",
                   marker=dict(color=MAIN_COLOR, size=13, symbol="star", line=dict(color="black", width=1))),
    ]
    layout = go.Layout(title=title or "ROC curve", height=height, margin=dict(l=50, r=10, t=50, b=40),
                       xaxis=dict(title="1 − specificity (false positive rate)", range=[-0.01, 1.01],
                                  constrain="domain"),
                       yaxis=dict(title="sensitivity (true positive rate)", range=[-0.01, 1.01],
                                  scaleanchor="x", scaleratio=1, constrain="domain"),
                       legend=dict(x=0.35, y=0.05, bgcolor="rgba(255,255,255,0.8)"))
    for trace, key in zip(traces, ROC_TRACES):   # names change with the AUC; ``meta`` keeps the role
        trace.meta = key
    return go.Figure(data=traces, layout=layout)


# ------------------------------------------------------------------ confusion matrices


def confusion_trace_data(metrics: Mapping[str, float] | None) -> dict[str, Any]:
    """z (counts), text (count and row percentage) of a 2×2 confusion matrix; '?' when not available.

    Rows are the truth (negative, positive), columns the prediction, as in scikit-learn.
    """
    if metrics is None:                 # zmax 1 over zeros: a blank (white) matrix of question marks
        return {"z": [[0, 0], [0, 0]], "text": [["?", "?"], ["?", "?"]], "zmin": 0, "zmax": 1}
    cells = [[("TN", metrics["tn"]), ("FP", metrics["fp"])], [("FN", metrics["fn"]), ("TP", metrics["tp"])]]
    z, text = [], []
    for row in cells:
        total = sum(n for _, n in row) or 1
        z.append([n for _, n in row])
        text.append([f"{name} {n}<br>({100 * n / total:.0f}% of row)" for name, n in row])
    return {"z": z, "text": text, "zmin": 0, "zmax": max(1, max(max(r) for r in z))}


#: The confusion matrices' colours: plotly's "Blues" over 0 … the largest count, as its heatmap drew them.
CONFUSION_SCALE = "Blues"


def confusion_view(metrics: Mapping[str, float] | None, *,
                   class_names: Sequence[str] = ("negative", "positive")) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One confusion matrix as a picture (:func:`confusion_trace_data`'s counts coloured over 0 … zmax,
    hover from ``customdata``) and its four cell texts (text and font colour: white on the dark cells,
    as plotly's heatmap text), row by row: what :func:`confusion_matrix_figure` draws and a widget updates."""
    data = confusion_trace_data(metrics)
    z = np.asarray(data["z"], dtype=float)
    levels = grey_levels(z, data["zmax"] / 2, data["zmax"])
    hover = [[f"truly {class_names[r]}, predicted {class_names[c]}: {int(z[r, c])}" for c in range(2)] for r in range(2)]
    colours = palette(CONFUSION_SCALE)[levels]
    # plotly's contrast rule (tinycolor's isLight: perceived brightness < 128 is dark)
    dark = colours.astype(float) @ np.array([0.299, 0.587, 0.114]) < 128
    cells = [{"text": data["text"][r][c], "font": {"color": "white" if dark[r, c] else "black"}}
             for r in range(2) for c in range(2)]
    return {"source": image_source(levels, CONFUSION_SCALE), "customdata": hover}, cells


def confusion_matrix_figure(panels: Sequence[tuple[str, Mapping[str, float] | None]], *,
                            class_names: Sequence[str] = ("negative", "positive"), height: int = 330) -> go.Figure:
    """One 2×2 confusion matrix per panel ``(title, threshold_metrics result or None)``, side by side.

    Each matrix is a picture (one trace per panel, named by the title's first word: "validation",
    "test") with its cell texts as annotations after the panel titles, so a new threshold swaps the
    picture and rewrites the texts in the browser.
    """
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, _ in panels],
                        horizontal_spacing=0.12)
    pred = [f"predicted {c}" for c in class_names]
    true = [f"truly {c}" for c in class_names]
    for i, (title, metrics) in enumerate(panels, 1):
        picture, cells = confusion_view(metrics, class_names=class_names)
        fig.add_trace(go.Image(**picture, x0=0, dx=1, y0=0, dy=1, name=title, meta=title.split(":")[0].strip(),
                               hovertemplate="%{customdata}<extra></extra>"), row=1, col=i)
        axis = "" if i == 1 else str(i)
        fig.update_xaxes(range=[-0.5, 1.5], tickvals=[0, 1], ticktext=pred, showgrid=False, zeroline=False,
                         row=1, col=i)
        fig.update_yaxes(range=[1.5, -0.5], tickvals=[0, 1], ticktext=true, showgrid=False, zeroline=False,
                         row=1, col=i)
        for k, cell in enumerate(cells):
            fig.add_annotation(x=k % 2, y=k // 2, xref=f"x{axis}", yref=f"y{axis}", showarrow=False,
                               xanchor="center", yanchor="middle", align="center", **cell)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50, b=30))
    return fig


# ------------------------------------------------------------------ threshold sweep

#: The traces of :func:`threshold_sweep_figure`, in order.
SWEEP_TRACES = ("sensitivity", "specificity", "ppv", "npv", "threshold")


def threshold_sweep_trace_data(sweep: Mapping[str, np.ndarray], threshold: float | None = None) -> list[dict]:
    """x/y of the four metric curves and the vertical threshold line."""
    t = list(sweep["threshold"])
    data = [{"x": t, "y": [None if np.isnan(v) else float(v) for v in sweep[key]]} for key in SWEEP_TRACES[:4]]
    data.append({"x": [threshold, threshold], "y": [0, 1]} if threshold is not None else {"x": [], "y": []})
    return data


def threshold_sweep_figure(sweep: Mapping[str, np.ndarray], threshold: float | None = None, *,
                           title: str | None = None, height: int = 330) -> go.Figure:
    """Sensitivity, specificity, PPV and NPV against the threshold (from :func:`radlab.metrics.threshold_sweep`)."""
    data = threshold_sweep_trace_data(sweep, threshold)
    traces = [go.Scatter(**d, mode="lines", name=METRIC_LABELS[key], line=dict(color=METRIC_COLORS[key]))
              for key, d in zip(SWEEP_TRACES[:4], data)]
    traces.append(go.Scatter(**data[4], mode="lines", name="threshold", line=dict(color="black", dash="dash")))
    return go.Figure(data=traces, layout=go.Layout(
        title=title or "What each threshold gives", height=height, margin=dict(l=50, r=10, t=50, b=40),
        xaxis=dict(title="threshold (score ≥ threshold → positive)", range=[0, 1]),
        yaxis=dict(range=[-0.02, 1.02]), hovermode="x unified"))


# ------------------------------------------------------------------ prevalence

#: The traces of :func:`prevalence_figure`, in order.
PREVALENCE_TRACES = ("PPV", "NPV", "marks PPV", "marks NPV")


def prevalence_trace_data(sensitivity: float, specificity: float,
                          marks: Mapping[str, float]) -> list[dict[str, Any]]:
    """PPV/NPV curves over prevalence 0.01–0.99 and markers at the named prevalences."""
    p = np.linspace(0.01, 0.99, 99)
    ppv, npv = ppv_npv_at_prevalence(sensitivity, specificity, p)
    names, where = list(marks), np.array(list(marks.values()), dtype=float)
    mppv, mnpv = ppv_npv_at_prevalence(sensitivity, specificity, where) if len(where) else ([], [])
    clean = lambda a: [None if not np.isfinite(v) else float(v) for v in a]  # noqa: E731
    return [{"x": list(p), "y": clean(ppv)}, {"x": list(p), "y": clean(npv)},
            {"x": list(where), "y": clean(mppv), "text": [f"{n}: PPV" for n in names]},
            {"x": list(where), "y": clean(mnpv), "text": [f"{n}: NPV" for n in names]}]


def prevalence_figure(sensitivity: float, specificity: float, marks: Mapping[str, float], *,
                      title: str | None = None, height: int = 330) -> go.Figure:
    """How PPV and NPV change with prevalence for fixed sensitivity and specificity (Bayes' rule)."""
    data = prevalence_trace_data(sensitivity, specificity, marks)
    traces = [go.Scatter(**data[0], mode="lines", name="PPV", line=dict(color=METRIC_COLORS["ppv"])),
              go.Scatter(**data[1], mode="lines", name="NPV", line=dict(color=METRIC_COLORS["npv"])),
              go.Scatter(**data[2], mode="markers+text", textposition="top left", showlegend=False,
                         name=PREVALENCE_TRACES[2], marker=dict(color=METRIC_COLORS["ppv"], size=10)),
              go.Scatter(**data[3], mode="markers+text", textposition="bottom right", showlegend=False,
                         name=PREVALENCE_TRACES[3], marker=dict(color=METRIC_COLORS["npv"], size=10))]
    return go.Figure(data=traces, layout=go.Layout(
        title=title or "Same sensitivity and specificity, different prevalence", height=height,
        margin=dict(l=50, r=10, t=50, b=40), xaxis=dict(title="prevalence of the positive class", range=[0, 1]),
        yaxis=dict(range=[-0.02, 1.02])))


# ------------------------------------------------------------------ calibration


def calibration_figure(result: CalibrationResult, *, title: str | None = None, height: int = 380) -> go.Figure:
    """Reliability diagram (observed positive rate against mean prediction per bin) above a histogram of predictions."""
    centers = (result.bin_edges[:-1] + result.bin_edges[1:]) / 2
    filled = result.counts > 0
    fig = make_subplots(rows=2, cols=1, row_heights=[0.72, 0.28], shared_xaxes=True, vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line=dict(color=CHANCE_COLOR, dash="dot")), row=1, col=1)
    fig.add_trace(go.Scatter(x=result.mean_predicted[filled], y=result.fraction_positive[filled],
                             mode="lines+markers", name="model", line=dict(color=MAIN_COLOR),
                             customdata=result.counts[filled],
                             hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{customdata} images)<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=centers, y=result.counts, width=np.diff(result.bin_edges) * 0.9, name="images per bin",
                         marker_color="#bbbbbb"), row=2, col=1)
    fig.update_xaxes(range=[0, 1], row=1, col=1)
    fig.update_xaxes(title="predicted probability", range=[0, 1], row=2, col=1)
    fig.update_yaxes(title="observed fraction positive", range=[-0.02, 1.02], row=1, col=1)
    fig.update_yaxes(title="images", row=2, col=1)
    fig.update_layout(title=title or f"Calibration: ECE {result.ece:.3f} (0 = calibrated)", height=height,
                      margin=dict(l=60, r=10, t=50, b=40))
    return fig
