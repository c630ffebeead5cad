"""Convolution and pooling drawn step by step (plotly only); the arithmetic is in :mod:`radlab.conv`.

The pictures follow the CNN reviews (Yamashita et al., Insights into Imaging 2018, Figs. 3-6):
a kernel slides over the (zero-padded) image, at each position the patch and the kernel
are multiplied element-wise and summed into one entry of the feature map; pooling then
shrinks the map; an activation bends it.

Like PyTorch (and every CNN library) "convolution" means cross-correlation: the kernel
is not flipped.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.conv import (ACTIVATIONS, KERNELS, ConvPipeline, ConvStep, conv2d,  # noqa: F401  (re-exported:
                         conv2d_layer, conv_step, global_average_pool, kernel,   # the arithmetic lives in
                         leaky_relu, max_pool2d, output_size, output_size_formula,  # radlab.conv, drawn here)
                         relu, run_pipeline, sigmoid, softmax, tanh, zero_pad)
from radlab.errors import DataError
from radlab.viz.images import (cell_labels, from_plotly_array, map_picture,  # noqa: F401  (re-exported: they live with the pictures)
                               plotly_array)


def pipeline_titles(p: ConvPipeline) -> list[str]:
    """Panel titles of :func:`pipeline_figure`, shared with widgets that update it in place."""
    h, w = p.image.shape
    fh, fw = p.feature_map.shape
    ph, pw = p.pooled.shape
    act = f" → {p.activation}" if p.activation else ""
    pool = f"max pool {p.pool_size}×{p.pool_size}" if p.pool_size > 1 else "no pooling"
    return [f"image {h}×{w}", f"feature map{act} {fh}×{fw}", f"{pool}: {ph}×{pw}"]


def _short_number(v: float) -> str:
    """A cell label: 2 decimals at most, no trailing zeros ('1', '-2', '0.44'); blank for NaN."""
    return np.format_float_positional(round(float(v), 2) + 0.0, trim="-") if np.isfinite(v) else ""


def _values(z: np.ndarray, show: bool) -> dict:
    """Heatmap properties that write each value in its cell (only when ``show``: small arrays)."""
    if show:
        text = [[_short_number(v) for v in row] for row in np.atleast_2d(z)]
        return dict(text=text, texttemplate="%{text}")
    return dict(text=None, texttemplate=None)


def _heatmap(data: dict, *, colorscale: str = "gray", zmid: float | None = None, name: str | None = None) -> go.Heatmap:
    return go.Heatmap(colorscale=colorscale, zmid=zmid, showscale=False, textfont=dict(size=11), name=name,
                      hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>", **data)


def image_axes(fig: go.Figure, n: int, extent: float | None = None) -> None:
    """Set the first ``n`` subplots up for images: rows go down, pixels are square, no tick clutter.

    The background is white, so NaN cells (gaps between tiles, steps not yet taken) read as blank.
    With ``extent``, each subplot is a fixed box of ``extent`` axis units (-0.5 … extent - 0.5, the
    pictures placed by :func:`radlab.viz.images.box_placement`): fixed ranges, so labels and outlines
    move without plotly.js recomputing the axes.
    """
    fig.update_layout(plot_bgcolor="white")
    fixed = {} if extent is None else dict(autorange=False, range=[-0.5, extent - 0.5])
    for i in range(1, n + 1):
        suffix = "" if i == 1 else str(i)
        y_range = {"autorange": "reversed"} if extent is None else dict(fixed, range=fixed["range"][::-1])
        fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", showticklabels=False, showgrid=False,
                                            zeroline=False, **y_range)
        fig.layout[f"xaxis{suffix}"].update(showticklabels=False, showgrid=False, zeroline=False, constrain="domain",
                                            **fixed)


def _small(z: np.ndarray) -> bool:
    return max(np.shape(z)) <= SMALL


# ------------------------------------------------------------ live panels
#: Maps up to SMALL pixels a side have their numbers written in their cells.
SMALL = 12
#: Every panel of :func:`pipeline_figure` and :func:`conv_step_figure` spans this many axis units along
#: its longer side, whatever its pixel count (:func:`radlab.viz.images.box_placement`): another image,
#: stride or padding keeps each panel's box, and a live figure swaps the picture in place.
PANEL_EXTENT = 1.0
#: Labels a panel's numbers trace holds: room for a SMALL × SMALL map's cells.
LABEL_CAPACITY = SMALL * SMALL


def _panel(z: np.ndarray, *, colorscale: str = "gray", zmid: float | None = None, numbers: bool,
           capacity: int = LABEL_CAPACITY) -> list[dict]:
    """One panel as two traces' data: the map as a picture coloured as its heatmap would be
    (:func:`radlab.viz.images.map_picture`, NaN white; hover (row, col, value)) spanning
    :data:`PANEL_EXTENT`, and its cells' numbers (when ``numbers``) as text labels of fixed count
    (:func:`radlab.viz.images.cell_labels`). A new map of any size is then swapped in place: the
    picture's source and box and the labels' words, positions and colours, without a plotly.js redraw."""
    z = np.asarray(z, dtype=np.float32)
    texts = np.array([[_short_number(v) for v in row] for row in z], dtype=object) if numbers else None
    return [map_picture(z, colorscale=colorscale, zmid=zmid, extent=PANEL_EXTENT),
            cell_labels(z, texts, colorscale=colorscale, zmid=zmid, extent=PANEL_EXTENT, capacity=capacity)]


def _picture(data: dict, name: str) -> go.Image:
    return go.Image(name=name, hovertemplate="row %{customdata[0]}, col %{customdata[1]}: "
                                             "%{customdata[2]:.3f}<extra></extra>", **data)


def _labels(data: dict, name: str) -> go.Scatter:
    return go.Scatter(mode="text", name=f"{name} numbers", hoverinfo="skip", showlegend=False, **data).update(
        textfont_size=11)


def pipeline_trace_data(p: ConvPipeline) -> list[dict]:
    """What each trace of :func:`pipeline_figure` shows, in order: image, feature map, pooled map, each
    a picture and its numbers (written in the cells of maps up to :data:`SMALL` pixels a side).

    A widget updates its live figure with exactly these values, so the first drawing and
    every redraw come from the same code.
    """
    return [*_panel(p.image, numbers=_small(p.image)),
            *_panel(p.feature_map, colorscale="RdBu_r", zmid=0, numbers=_small(p.feature_map)),
            *_panel(p.pooled, colorscale="RdBu_r", zmid=0, numbers=_small(p.pooled))]


def pipeline_figure(p: ConvPipeline) -> go.Figure:
    """Three panels: the image, the feature map, the pooled map (titles give the sizes)."""
    data = pipeline_trace_data(p)
    fig = make_subplots(rows=1, cols=3, subplot_titles=pipeline_titles(p), horizontal_spacing=0.05)
    for col, name in enumerate(("image", "feature map", "pooled map"), start=1):
        picture, labels = data[2 * col - 2: 2 * col]
        fig.add_trace(_picture(picture, name), row=1, col=col)
        fig.add_trace(_labels(labels, name), row=1, col=col)
    image_axes(fig, 3, PANEL_EXTENT)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=40),
                      title=dict(text=p.formula, font=dict(size=13), y=0.02, yanchor="bottom"))
    return fig


# ---------------------------------------------------------------- step by step
def feature_map_so_far(feature_map: np.ndarray, position: int) -> np.ndarray:
    """The feature map with the entries after ``position`` blanked (NaN): the kernel has not got there yet."""
    flat = np.asarray(feature_map, dtype=np.float32).ravel().copy()
    flat[position + 1:] = np.nan
    return flat.reshape(np.shape(feature_map))


def pixel_to_panel(pixel: float, n: int) -> float:
    """Where a pixel coordinate (col or row, e.g. an edge at ``col - 0.5``) of a map ``n`` pixels along
    its longer side lies in a panel's axis units (:data:`PANEL_EXTENT`, :func:`box_placement`)."""
    return (float(pixel) + 0.5) * PANEL_EXTENT / n - 0.5


def _box(top: float, left: float, h: int, w: int, n: int) -> dict:
    """x/y of a rectangle around pixels [top, top+h) × [left, left+w) of a map ``n`` pixels along its
    longer side, in panel axis units, for a line trace."""
    y0, y1, x0, x1 = (pixel_to_panel(v, n) for v in (top - 0.5, top + h - 0.5, left - 0.5, left + w - 0.5))
    return dict(x=[x0, x1, x1, x0, x0], y=[y0, y0, y1, y1, y0])


def step_titles(step: ConvStep) -> list[str]:
    """Panel titles of :func:`conv_step_figure`."""
    return [f"padded image, kernel at step {step.position + 1}/{step.n_positions}",
            "patch", "kernel", "patch ⊙ kernel",
            f"feature map [{step.row}, {step.col}] = Σ = {step.value:.3f}"]


#: The panels of :func:`conv_step_figure`, in order.
STEP_PANELS = ("padded image", "patch", "kernel", "products", "feature map")


def step_trace_data(step: ConvStep, feature_map: np.ndarray | None = None) -> list[dict]:
    """What each trace of :func:`conv_step_figure` shows, in order: padded image (picture, numbers), kernel
    window, patch, kernel and products (picture, numbers each), feature map (picture, numbers), outline
    of the entry being written.

    ``feature_map`` (e.g. from :func:`feature_map_so_far`) defaults to only this step's entry.
    """
    if feature_map is None:
        feature_map = np.full(step.out_shape, np.nan, dtype=np.float32)
        feature_map[step.row, step.col] = step.value
    kh, kw = step.kernel.shape
    small = dict(numbers=True, capacity=kh * kw)
    return [*_panel(step.padded, numbers=_small(step.padded)),
            _box(step.top, step.left, kh, kw, max(np.shape(step.padded))),
            *_panel(step.patch, **small),
            *_panel(step.kernel, colorscale="RdBu_r", zmid=0, **small),
            *_panel(step.products, colorscale="RdBu_r", zmid=0, **small),
            *_panel(feature_map, colorscale="RdBu_r", zmid=0, numbers=_small(feature_map)),
            _box(step.row, step.col, 1, 1, max(np.shape(feature_map)))]


def conv_step_figure(step: ConvStep, feature_map: np.ndarray | None = None) -> go.Figure:
    """The picture of one convolution step: where the kernel is, what it multiplies, what it writes."""
    data = step_trace_data(step, feature_map)
    outline = dict(mode="lines", line=dict(color="#ff7f0e", width=3), hoverinfo="skip", showlegend=False)
    fig = make_subplots(rows=1, cols=5, subplot_titles=step_titles(step), column_widths=[0.3, 0.13, 0.13, 0.14, 0.3],
                        horizontal_spacing=0.03)
    panels = iter(data)
    for col, name in enumerate(STEP_PANELS, start=1):
        fig.add_trace(_picture(next(panels), name), row=1, col=col)
        fig.add_trace(_labels(next(panels), name), row=1, col=col)
        if col in (1, 5):
            fig.add_trace(go.Scatter(**next(panels), **outline, name="kernel window" if col == 1 else "entry written"),
                          row=1, col=col)
    image_axes(fig, 5, PANEL_EXTENT)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
    return fig


# ------------------------------------------------------- padding, stride, kernels

def kernel_bank_figure(image: np.ndarray, kernels: Mapping[str, np.ndarray], *, stride: int = 1,
                       padding: int = 0) -> go.Figure:
    """One feature map per kernel: a layer with K kernels makes K maps, each sized by the formula."""
    names = list(kernels)
    if not names:
        raise DataError("no kernels given", fix="pass at least one kernel, e.g. {'identity': kernel('identity')}")
    maps = [conv2d(image, kernels[name], stride=stride, padding=padding) for name in names]
    titles = [f"{name.split(' (')[0]}<br>{fmap.shape[0]}×{fmap.shape[1]}" for name, fmap in zip(names, maps)]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=titles, horizontal_spacing=0.02)
    for i, fmap in enumerate(maps, start=1):
        fig.add_trace(_heatmap(dict(z=fmap), colorscale="RdBu_r", zmid=0), row=1, col=i)
    image_axes(fig, len(names))
    n, k = np.shape(image)[0], np.shape(kernels[names[0]])[0]
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=60, b=40), font=dict(size=11),
                      title=dict(text=f"{len(names)} kernels → {len(names)} feature maps; "
                                      + output_size_formula(n, k, padding, stride),
                                 font=dict(size=12), y=0.02, yanchor="bottom"))
    return fig


def padding_stride_figure(image: np.ndarray, kernel_: np.ndarray,
                          settings: Sequence[tuple[int, int]] = ((0, 1), (1, 1), (1, 2), (0, 3))) -> go.Figure:
    """The same kernel with different (padding, stride): padding keeps the border, stride shrinks the map."""
    n, k = np.shape(image)[0], np.shape(kernel_)[0]
    titles = [f"p={p}, s={s}: {output_size(n, k, p, s)}×{output_size(n, k, p, s)}" for p, s in settings]
    fig = make_subplots(rows=1, cols=len(settings), subplot_titles=titles, horizontal_spacing=0.02)
    for i, (p, s) in enumerate(settings, start=1):
        fmap = conv2d(image, kernel_, stride=s, padding=p)
        fig.add_trace(_heatmap(dict(z=fmap), colorscale="RdBu_r", zmid=0), row=1, col=i)
    image_axes(fig, len(settings))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=40),
                      title=dict(text=f"n={n}, k={k}: size = (n + 2p − k)/s + 1, rounded down",
                                 font=dict(size=12), y=0.02, yanchor="bottom"))
    return fig


# ------------------------------------------------------------ pooling pictures

def pooling_figure(fmap: np.ndarray, size: int = 2) -> go.Figure:
    """A feature map, its max-pooled version, and its global average (one number per map)."""
    fmap = np.asarray(fmap, dtype=np.float32)
    pooled = max_pool2d(fmap, size)
    gap = np.array([[global_average_pool(fmap[None])[0]]])
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.05,
                        subplot_titles=[f"feature map {fmap.shape[0]}×{fmap.shape[1]}",
                                        f"max pool {size}×{size}: {pooled.shape[0]}×{pooled.shape[1]}",
                                        f"global average pool: 1×1 = {gap[0, 0]:.3f}"])
    same_scale = dict(zmin=float(fmap.min()), zmax=float(fmap.max()))
    for col, (z, name) in enumerate(zip((fmap, pooled, gap), ("feature map", "max pool", "global average pool")),
                                    start=1):
        fig.add_trace(_heatmap(dict(z=z, **same_scale, **_values(z, _small(z))), colorscale="Viridis", name=name),
                      row=1, col=col)
    image_axes(fig, 3)
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10))
    return fig


# ------------------------------------------------------------- activations

def activations_figure(x_range: tuple[float, float] = (-5.0, 5.0)) -> go.Figure:
    """The four activations the course uses, drawn over the same inputs."""
    x = np.linspace(*x_range, 201)
    fig = go.Figure([go.Scatter(x=x, y=f(x), mode="lines", name=name) for name, f in ACTIVATIONS.items()])
    fig.update_layout(height=320, margin=dict(l=40, r=10, t=40, b=40), title="Activation functions",
                      xaxis_title="input", yaxis_title="output", yaxis_range=[-1.5, 3])
    return fig


def softmax_vs_sigmoid_figure(logits: Sequence[float], class_names: Sequence[str]) -> go.Figure:
    """The same last-layer logits read two ways.

    Softmax: the classes compete and sum to 1 (exactly one answer, e.g. normal / bacterial /
    viral pneumonia). Sigmoid: each output is its own yes/no (several findings at once,
    e.g. effusion *and* nodule).
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1 or len(logits) != len(class_names):
        raise DataError(f"{len(class_names)} class names for logits of shape {logits.shape}",
                        fix="give one name per logit")
    p_soft, p_sig = softmax(logits), sigmoid(logits)
    names = list(class_names)
    fig = go.Figure([
        go.Bar(x=names, y=p_soft, name=f"softmax (sum = {p_soft.sum():.2f}): one class", text=np.round(p_soft, 2),
               meta="softmax"),
        go.Bar(x=names, y=p_sig, name=f"sigmoid (sum = {p_sig.sum():.2f}): each a yes/no", text=np.round(p_sig, 2),
               meta="sigmoid"),
    ])
    fig.update_layout(barmode="group", height=340, yaxis_range=[0, 1.05], yaxis_title="probability",
                      title="Last layer: softmax (exclusive classes) vs sigmoid (multi-label)",
                      margin=dict(l=40, r=10, t=50, b=40), legend=dict(orientation="h", y=-0.2))
    return fig
