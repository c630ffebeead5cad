"""Figures of Lab 2 (splitting): which patient's images land in which split, k-fold, and the leak measured.

The split grid has one row per patient and one column per image: a split by image colours a
row in several colours (the patient leaks), a split by patient colours each row once. The
``grid_trace_data`` / ``kfold_trace_data`` helpers give the data of each live trace, so a widget can
update a displayed figure in place (the FigureWidget rule) with the same values the figure was built
from; ``count_table_html`` writes the counts.
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.data.splits import LeakageReport, Split
from radlab.viz.style import plotly_white

SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
LABEL_NAMES = {0: "no lesion", 1: "lesion"}
COUNT_BARS = (("images: " + LABEL_NAMES[0], "#bcbddc"), ("images: " + LABEL_NAMES[1], "#6a51a3"),
              ("patients", "#636363"))


def image_numbers(patient_ids: np.ndarray) -> np.ndarray:
    """Each image's number within its patient (1, 2, 3, ...): the grid's column."""
    patient_ids = np.asarray(patient_ids)
    numbers = np.zeros(len(patient_ids), dtype=int)
    for pid in np.unique(patient_ids):
        where = np.flatnonzero(patient_ids == pid)
        numbers[where] = np.arange(1, where.size + 1)
    return numbers


#: A leak mark where the patient does not leak: drawn, but see-through, so the marks keep their count.
NO_MARK = "rgba(0,0,0,0)"
LEAK_COLOR = "#d62728"
NO_SPLIT_COLOR = "#d0d7de"   # an image in no split (a split that leaves some out)
LEAK_NOTE = " (this patient is in 2+ splits)"


def grid_trace_data(split: Split, report: LeakageReport, patient_ids: np.ndarray) -> list[dict[str, Any]]:
    """What the two live traces of one grid panel of :func:`split_grid_figure` show, in order: every image
    (its split's colour; hover: the split, and whether the patient leaks) and one leak mark per patient
    (red where the patient's images are in 2+ splits, see-through otherwise).

    The points themselves (one per image, one per patient) stay whatever the seed: a widget sends only
    these colours and words, and the page recolours the figure in place
    (:data:`radlab.widgets.figure.IMAGE_SWAP_JS`) instead of redrawing it.
    """
    names = split.assignment()
    pids = np.asarray(patient_ids)
    leaking = set(np.asarray(report.leaking_patients, dtype=pids.dtype).tolist())
    text = [(name or "no split") + (LEAK_NOTE if pid in leaking else "") for name, pid in zip(names, pids.tolist())]
    return [{"marker": {"color": [SPLIT_COLORS.get(name, NO_SPLIT_COLOR) for name in names]}, "text": text},
            {"marker": {"color": [LEAK_COLOR if pid in leaking else NO_MARK for pid in np.unique(pids).tolist()]}}]


def split_grid_figure(splits: Mapping[str, Split], reports: Mapping[str, LeakageReport],
                      patient_ids: np.ndarray) -> go.Figure:
    """Grid by image | grid by patient: one row per patient, one column per image, coloured by split.

    ``splits`` and ``reports`` are keyed "image" and "patient". Traces, in order: per grid, ``<grid>:
    images`` and ``<grid>: leak`` (:func:`grid_trace_data`); then legend entries only (train, val, test,
    the leak mark). Panel titles are set by the caller. Rows and columns sit on fixed linear axes (the
    patients as tick labels), so the page recolours a new seed's split without a redraw.
    """
    patient_ids = np.asarray(patient_ids)
    number = image_numbers(patient_ids)
    patients = np.unique(patient_ids)
    row = np.searchsorted(patients, patient_ids)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.05, subplot_titles=("by image", "by patient"))
    for col, method in ((1, "image"), (2, "patient")):
        images, leak = grid_trace_data(splits[method], reports[method], patient_ids)
        fig.add_trace(go.Scatter(x=number, y=row, customdata=patient_ids, mode="markers", name=f"{method}: images",
                                 marker=dict(symbol="square", size=9, **images["marker"]), text=images["text"],
                                 showlegend=False, hovertemplate="patient %{customdata}, image %{x}<extra>%{text}</extra>"),
                      row=1, col=col)
        fig.add_trace(go.Scatter(x=np.zeros(len(patients)), y=np.arange(len(patients)), mode="markers",
                                 name=f"{method}: leak", showlegend=False, hoverinfo="skip",
                                 marker=dict(symbol="x", size=9, **leak["marker"])), row=1, col=col)
    for name, color in SPLIT_COLORS.items():   # the legend: entries without points
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                                 marker=dict(symbol="square", size=9, color=color)), row=1, col=1)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="patient in 2+ splits", hoverinfo="skip",
                             marker=dict(symbol="x", size=9, color=LEAK_COLOR)), row=1, col=1)

    n_images = int(number.max())
    for col in (1, 2):
        fig.update_xaxes(tickvals=list(range(n_images + 1)), autorange=False,
                         ticktext=["leak"] + [f"img {i}" for i in range(1, n_images + 1)],
                         range=[-0.6, n_images + 0.6], row=1, col=col)
        fig.update_yaxes(range=[len(patients) - 0.5, -0.5], autorange=False, tickvals=list(range(len(patients))),
                         ticktext=[str(p) for p in patients], showticklabels=col == 1, tickfont=dict(size=8),
                         showgrid=False, zeroline=False, row=1, col=col)
    fig.update_yaxes(matches="y", row=1, col=2)
    plotly_white(fig)
    fig.update_layout(height=max(420, 11 * len(patients) + 140), margin=dict(l=60, r=20, t=90, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0))
    return fig


def count_table_html(split: Split, labels: np.ndarray, patient_ids: np.ndarray, *, title: str = "counts") -> str:
    """Images per split and label, and patients per split, as a table with a bar in each cell (its length
    the count's share of all images, or of all patients): the numbers a student reads, redrawn by the browser
    in a millisecond where a bar chart was a plotly.js redraw per seed."""
    rows = split.counts(labels, patient_ids)
    n_images, n_patients = len(np.asarray(labels)), len(np.unique(np.asarray(patient_ids)))
    columns = [(name, color, f"label {c}" if c is not None else "patients", n_images if c is not None else n_patients)
               for (name, color), c in zip(COUNT_BARS, [*LABEL_NAMES, None])]

    def cell(value: int, total: int, color: str) -> str:
        width = 100.0 * value / max(total, 1)
        return (f"<td style='padding:2px 8px;min-width:9em'><div style='display:flex;align-items:center;gap:6px'>"
                f"<div style='background:{color};height:12px;width:{width:.1f}%;min-width:1px'></div>"
                f"<span>{value}</span></div></td>")

    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(name)}</th>" for name, *_ in columns)
    body = "".join(
        f"<tr><th style='text-align:left;padding:2px 8px;color:{SPLIT_COLORS.get(r['split'], '#57606a')}'>"
        f"{html.escape(str(r['split']))}</th>"
        + "".join(cell(int(r.get(key, 0)), total, color) for _, color, key, total in columns) + "</tr>"
        for r in rows)
    return (f"<div class='radlab-counts'><b>{html.escape(title)}</b>"
            f"<table style='border-collapse:collapse;margin-top:4px'><tr><th></th>{head}</tr>{body}</table></div>")


def kfold_grid(folds: Sequence[Split], patient_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Patients × folds: 1 where the patient is in that fold's validation part; and the fold names."""
    patient_ids = np.asarray(patient_ids)
    z = np.array([[float(pid in set(patient_ids[f.val])) for f in folds] for pid in np.unique(patient_ids)])
    return z, [f"fold {f.fold + 1}" for f in folds]


HELD_OUT_COLOR, TRAIN_COLOR = SPLIT_COLORS["val"], SPLIT_COLORS["train"]


def kfold_trace_data(folds: Sequence[Split], patient_ids: np.ndarray) -> dict[str, Any]:
    """What :func:`kfold_figure`'s squares show, patient by patient, fold by fold: x the fold, y the patient's
    row (as :func:`kfold_grid` orders them), orange where the patient is held out in that fold, blue where it
    trains; hover names the patient, the fold and the role. A new seed changes only the colours and words
    (the page recolours them in place); another k gives another number of squares."""
    z, names = kfold_grid(folds, patient_ids)
    patients = np.unique(np.asarray(patient_ids))
    rows, cols = np.indices(z.shape)
    held = z.ravel() > 0
    k = len(names)
    return {"x": cols.ravel().tolist(), "y": rows.ravel().tolist(), "customdata": np.repeat(patients, k).tolist(),
            "text": [f"{names[j % k]}: {'held out (val)' if h else 'train'}" for j, h in enumerate(held)],
            "marker": {"color": [HELD_OUT_COLOR if h else TRAIN_COLOR for h in held]}}


def kfold_layout(folds: Sequence[Split]) -> dict[str, Any]:
    """The fold axis of :func:`kfold_figure` for these folds, as relayout keys (sent for a new k)."""
    names = [f"fold {f.fold + 1}" for f in folds]
    return {"xaxis.tickvals": list(range(len(names))), "xaxis.ticktext": names, "xaxis.range": [-0.6, len(names) - 0.4]}


def kfold_figure(folds: Sequence[Split], patient_ids: np.ndarray) -> go.Figure:
    """k-fold by patient: one square per patient and fold, orange where the patient is held out (the trace
    ``held out``, :func:`kfold_trace_data`)."""
    patients = np.unique(np.asarray(patient_ids))
    data = kfold_trace_data(folds, patient_ids)
    squares = go.Scatter(mode="markers", name="held out", hovertemplate="patient %{customdata}, %{text}<extra></extra>",
                         **{**data, "marker": dict(symbol="square", size=8, **data["marker"])})
    fig = go.Figure(data=[squares])
    fig.update_xaxes(autorange=False, showgrid=False, zeroline=False)
    fig.update_yaxes(tickvals=list(range(len(patients))), ticktext=[str(p) for p in patients], tickfont=dict(size=8),
                     range=[len(patients) - 0.5, -0.5], autorange=False, showgrid=False, zeroline=False)
    fig.update_layout(kfold_layout(folds))
    plotly_white(fig)
    fig.update_layout(height=max(320, 9 * len(patients) + 100),
                      title="k-fold by patient: orange = held out (val) in that fold, blue = train",
                      margin=dict(l=60, r=20, t=50, b=40))
    return fig


def leak_experiment_figure(method_names: Sequence[str]) -> go.Figure:
    """Two bar traces, ``its own test set`` and ``new patients``, empty until the experiment runs."""
    n = len(method_names)
    return plotly_white(go.Figure(data=[
        go.Bar(x=list(method_names), y=[0.0] * n, name="its own test set", marker_color="#8c6d31",
               error_y=dict(type="data", symmetric=False, array=[0.0] * n, arrayminus=[0.0] * n),
               text=["not run"] * n, textposition="outside"),
        go.Bar(x=list(method_names), y=[0.0] * n, name="new patients", marker_color="#1a7f37",
               text=[""] * n, textposition="outside"),
    ], layout=dict(title="Test AUC of the same CNN: press 'Train both' to measure", barmode="group",
                   yaxis=dict(range=[0, 1.15], title="ROC AUC"), height=380,
                   legend=dict(orientation="h", y=-0.15), margin=dict(l=60, r=20, t=50, b=60))))


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
            fig.add_trace(go.Heatmap(z=np.asarray(phantoms.images[i])[::-1], colorscale="gray", name=f"{p} image {c}",
                                     showscale=False, hovertemplate="value %{z:.2f}<extra></extra>"),
                          row=r, col=c)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=230 * len(patients), width=230 * per_row + 40, margin=dict(l=10, r=10, t=40, b=10),
                      title="Images of the same patient look alike")
    return fig


__all__ = ["LABEL_NAMES", "SPLIT_COLORS", "count_table_html", "grid_trace_data", "image_numbers",
           "kfold_figure", "kfold_grid", "kfold_layout", "kfold_trace_data", "leak_experiment_figure", "patient_images_figure",
           "split_grid_figure"]
