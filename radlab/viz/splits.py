"""Figures of Lab 2 (splitting): which patient's images land in which split, k-fold, and the leak measured.

The split grid has one row per patient and one column per image: a split by image colours a
row in several colours (the patient leaks), a split by patient colours each row once. The
``*_points`` / ``count_bars`` helpers give the data of each trace, so a widget can update a
displayed figure in place (the FigureWidget rule) with the same numbers the figure was built from.
"""
from __future__ import annotations

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


def grid_points(split: Split, image_number: np.ndarray, patient_ids: np.ndarray) -> list[dict[str, Any]]:
    """Per split name (train, val, test) the (x, y) of its images in the patients × images grid."""
    names = split.assignment()
    return [{"x": image_number[names == s], "y": patient_ids[names == s]} for s in SPLIT_COLORS]


def leak_points(report: LeakageReport, patient_ids: np.ndarray) -> dict[str, Any]:
    """The leaking patients, drawn in the grid's "leak" column (x = 0)."""
    leaking = report.leaking_patients
    return {"x": np.zeros(len(leaking)), "y": np.asarray(leaking, dtype=np.asarray(patient_ids).dtype)}


def count_bars(split: Split, labels: np.ndarray, patient_ids: np.ndarray) -> list[dict[str, Any]]:
    """Images per split and label, and distinct patients per split (one dict per bar trace)."""
    rows = split.counts(labels, patient_ids)
    x = [r["split"] for r in rows]
    bars = [{"x": x, "y": [r.get(f"label {c}", 0) for r in rows]} for c in LABEL_NAMES]
    bars.append({"x": x, "y": [r["patients"] for r in rows]})
    return bars


def split_grid_figure(splits: Mapping[str, Split], reports: Mapping[str, LeakageReport], labels: np.ndarray,
                      patient_ids: np.ndarray, *, counts_of: str = "image") -> go.Figure:
    """Grid by image | grid by patient | counts of one split (every trace built now, named).

    ``splits`` and ``reports`` are keyed "image" and "patient". Traces, in order: for each
    grid, ``<grid>: train``, ``<grid>: val``, ``<grid>: test``, ``<grid>: leak``; then the
    three count bars. Panel titles are set by the caller.
    """
    labels, patient_ids = np.asarray(labels), np.asarray(patient_ids)
    number = image_numbers(patient_ids)
    patients = np.unique(patient_ids)
    fig = make_subplots(rows=1, cols=3, column_widths=[0.3, 0.3, 0.4], horizontal_spacing=0.07,
                        subplot_titles=("by image", "by patient", "counts"))
    for col, method in ((1, "image"), (2, "patient")):
        for (name, color), pts in zip(SPLIT_COLORS.items(), grid_points(splits[method], number, patient_ids)):
            fig.add_trace(go.Scatter(**pts, mode="markers", name=name, legendgroup=name, showlegend=col == 1,
                                     meta=f"{method}: {name}", marker=dict(symbol="square", size=9, color=color),
                                     hovertemplate="patient %{y}, image %{x}<extra>" + name + "</extra>"),
                          row=1, col=col)
        fig.add_trace(go.Scatter(**leak_points(reports[method], patient_ids), mode="markers",
                                 name="patient in 2+ splits", legendgroup="leak", showlegend=col == 1,
                                 meta=f"{method}: leak", marker=dict(symbol="x", size=9, color="#d62728"),
                                 hovertemplate="patient %{y} leaks<extra></extra>"), row=1, col=col)
    for (name, color), bars in zip(COUNT_BARS, count_bars(splits[counts_of], labels, patient_ids)):
        fig.add_trace(go.Bar(**bars, name=name, marker_color=color, text=bars["y"], textposition="outside"),
                      row=1, col=3)

    n_images = int(number.max())
    order = list(patients[::-1])  # first patient at the top
    for col in (1, 2):
        fig.update_xaxes(tickvals=list(range(n_images + 1)),
                         ticktext=["leak"] + [f"img {i}" for i in range(1, n_images + 1)],
                         range=[-0.6, n_images + 0.6], row=1, col=col)
        fig.update_yaxes(type="category", categoryorder="array", categoryarray=order,
                         showticklabels=col == 1, tickfont=dict(size=8), row=1, col=col)
    fig.update_yaxes(matches="y", row=1, col=2)
    fig.update_yaxes(title_text="count", row=1, col=3)
    plotly_white(fig)
    fig.update_layout(height=max(420, 11 * len(patients) + 140), barmode="group",
                      margin=dict(l=60, r=20, t=90, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0))
    return fig


def kfold_grid(folds: Sequence[Split], patient_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Patients × folds: 1 where the patient is in that fold's validation part; and the fold names."""
    patient_ids = np.asarray(patient_ids)
    z = np.array([[float(pid in set(patient_ids[f.val])) for f in folds] for pid in np.unique(patient_ids)])
    return z, [f"fold {f.fold + 1}" for f in folds]


def kfold_figure(folds: Sequence[Split], patient_ids: np.ndarray) -> go.Figure:
    """k-fold by patient: a heatmap of patients × folds, orange where the patient is held out."""
    z, x = kfold_grid(folds, patient_ids)
    patients = np.unique(np.asarray(patient_ids))
    heat = go.Heatmap(z=z, x=x, y=list(patients), zmin=0, zmax=1, showscale=False, name="held out",
                      colorscale=[[0, SPLIT_COLORS["train"]], [1, SPLIT_COLORS["val"]]],
                      xgap=2, ygap=1, hovertemplate="patient %{y}, %{x}<extra></extra>")
    fig = go.Figure(data=[heat])
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=8))
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


__all__ = ["LABEL_NAMES", "SPLIT_COLORS", "count_bars", "grid_points", "image_numbers", "kfold_figure", "kfold_grid",
           "leak_experiment_figure", "leak_points", "patient_images_figure", "split_grid_figure"]
