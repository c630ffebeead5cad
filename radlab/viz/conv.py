"""Convolution and pooling, computed by hand and drawn step by step (plotly only).

The arithmetic here is the lesson, so it is written out in NumPy instead of calling
``torch.nn.functional``; the tests check every function against torch. The pictures
follow the CNN reviews (Yamashita et al., Insights into Imaging 2018, Figs. 3-6):
a kernel slides over the (zero-padded) image, at each position the patch and the kernel
are multiplied element-wise and summed into one entry of the feature map; pooling then
shrinks the map; an activation bends it.

Like PyTorch (and every CNN library) "convolution" means cross-correlation: the kernel
is not flipped.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.errors import DataError

# ----------------------------------------------------------------------------- kernels

#: Classic 3x3 kernels a student can try before a network learns its own.
KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32),
    "edge: Sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32),
    "edge: Sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float32),
    "edge: Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32),
    "blur: box": np.full((3, 3), 1 / 9, dtype=np.float32),
    "blur: Gaussian": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 16,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float32),
}


def kernel(name: str) -> np.ndarray:
    """A copy of the preset kernel ``name`` (see :data:`KERNELS`)."""
    if name not in KERNELS:
        raise DataError(f"unknown kernel {name!r}", fix=f"use one of {sorted(KERNELS)}")
    return KERNELS[name].copy()


# ------------------------------------------------------------------ sizes and padding

def output_size(n: int, k: int, padding: int = 0, stride: int = 1) -> int:
    """Side of the feature map: floor((n + 2p − k) / s) + 1, the formula every CNN uses."""
    if n < 1 or k < 1 or padding < 0 or stride < 1:
        raise DataError(f"invalid sizes n={n}, k={k}, p={padding}, s={stride}",
                        fix="use n, k, s >= 1 and p >= 0")
    if n + 2 * padding < k:
        raise DataError(f"a {k}x{k} kernel does not fit in a {n}-pixel image with padding {padding}",
                        fix="use a smaller kernel or more padding")
    return (n + 2 * padding - k) // stride + 1


def output_size_formula(n: int, k: int, padding: int = 0, stride: int = 1) -> str:
    """The output-size formula with the numbers filled in, e.g. '(64 + 2·1 − 3)/2 + 1 = 32'."""
    out = output_size(n, k, padding, stride)
    exact = (n + 2 * padding - k) / stride + 1
    rounded = "" if exact == out else f" → {out} (rounded down)"
    return f"(n + 2p − k)/s + 1 = ({n} + 2·{padding} − {k})/{stride} + 1 = {exact:g}{rounded}"


def zero_pad(image: np.ndarray, padding: int) -> np.ndarray:
    """Surround a 2-D image with ``padding`` rows/columns of zeros on every side."""
    if padding == 0:
        return np.asarray(image, dtype=np.float32)
    return np.pad(np.asarray(image, dtype=np.float32), padding, mode="constant", constant_values=0.0)


def _check_2d(image: np.ndarray, kernel_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image, kernel_ = np.asarray(image, dtype=np.float32), np.asarray(kernel_, dtype=np.float32)
    if image.ndim != 2 or kernel_.ndim != 2:
        raise DataError(f"expected a 2-D image and a 2-D kernel, got shapes {image.shape} and {kernel_.shape}",
                        fix="pass one channel (H, W) and one kernel (k, k)")
    return image, kernel_


# --------------------------------------------------------------------- convolution

@dataclass
class ConvStep:
    """One position of the sliding kernel: the patch it covers, the products and their sum."""

    position: int            # which step (0 .. n_positions-1), row by row
    n_positions: int         # out_h * out_w
    row: int                 # output (feature-map) row of this step
    col: int                 # output column
    top: int                 # top row of the patch in the *padded* image
    left: int                # left column of the patch in the padded image
    patch: np.ndarray        # (kh, kw) pixels under the kernel
    kernel: np.ndarray       # (kh, kw)
    products: np.ndarray     # patch * kernel, element-wise
    value: float             # products.sum() + bias: the feature-map entry
    bias: float
    padded: np.ndarray       # the zero-padded image the kernel slides over
    out_shape: tuple[int, int]


def conv_step(image: np.ndarray, kernel_: np.ndarray, position: int, *, stride: int = 1,
              padding: int = 0, bias: float = 0.0) -> ConvStep:
    """The convolution at one kernel position, written exactly as the definition says.

    Step ``position`` counts output pixels row by row. The kernel's top-left corner sits
    at (row·s, col·s) of the padded image; the feature-map entry is Σ patch ⊙ kernel + b.
    """
    image, kernel_ = _check_2d(image, kernel_)
    kh, kw = kernel_.shape
    out_h = output_size(image.shape[0], kh, padding, stride)
    out_w = output_size(image.shape[1], kw, padding, stride)
    n_positions = out_h * out_w
    if not 0 <= position < n_positions:
        raise DataError(f"position {position} is outside 0..{n_positions - 1}",
                        fix="choose a step within the feature map")
    row, col = divmod(position, out_w)
    padded = zero_pad(image, padding)
    top, left = row * stride, col * stride
    patch = padded[top:top + kh, left:left + kw]
    products = patch * kernel_ + 0.0      # + 0.0 turns -0.0 into 0.0 for display
    value = float(products.sum()) + float(bias)
    return ConvStep(position, n_positions, row, col, top, left, patch.copy(), kernel_.copy(),
                    products, value, float(bias), padded, (out_h, out_w))


def conv2d(image: np.ndarray, kernel_: np.ndarray, *, stride: int = 1, padding: int = 0,
           bias: float = 0.0) -> np.ndarray:
    """Convolve one channel with one kernel: the whole feature map at once.

    ``conv_step`` computes one entry as Σ_ij patch[i, j]·kernel[i, j]. Summing the same
    products in the other order gives the whole map in k·k vectorised steps: for each
    kernel weight, take the image shifted by (i, j), sampled every ``stride`` pixels,
    times that weight. Same numbers, just fast enough to redraw as a student types.
    """
    image, kernel_ = _check_2d(image, kernel_)
    kh, kw = kernel_.shape
    out_h = output_size(image.shape[0], kh, padding, stride)
    out_w = output_size(image.shape[1], kw, padding, stride)
    padded = zero_pad(image, padding)
    out = np.full((out_h, out_w), bias, dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            shifted = padded[i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride]
            out += kernel_[i, j] * shifted
    return out


def conv2d_layer(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
                 stride: int = 1, padding: int = 0) -> np.ndarray:
    """A convolutional layer: ``x`` (C_in, H, W), ``weight`` (C_out, C_in, k, k) -> (C_out, H', W').

    Each output channel (one per kernel) sums the single-channel convolutions over the
    input channels and adds its bias: the number of kernels sets the number of feature maps.
    """
    x, weight = np.asarray(x, dtype=np.float32), np.asarray(weight, dtype=np.float32)
    if x.ndim != 3 or weight.ndim != 4 or weight.shape[1] != x.shape[0]:
        raise DataError(f"shapes do not fit: x {x.shape}, weight {weight.shape}",
                        fix="x is (C_in, H, W) and weight (C_out, C_in, k, k)")
    maps = []
    for o in range(weight.shape[0]):
        b = 0.0 if bias is None else float(bias[o])
        maps.append(sum(conv2d(x[c], weight[o, c], stride=stride, padding=padding) for c in range(x.shape[0])) + b)
    return np.stack(maps).astype(np.float32)


# ------------------------------------------------------------------------- pooling

def max_pool2d(fmap: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Max pooling: keep the largest value of each ``size``×``size`` window (stride = size by default)."""
    fmap = np.asarray(fmap, dtype=np.float32)
    stride = size if stride is None else stride
    out_h, out_w = output_size(fmap.shape[0], size, 0, stride), output_size(fmap.shape[1], size, 0, stride)
    out = np.full((out_h, out_w), -np.inf, dtype=np.float32)
    for i in range(size):          # the same shift trick as conv2d, with max instead of a weighted sum
        for j in range(size):
            shifted = fmap[i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride]
            out = np.maximum(out, shifted)
    return out


def global_average_pool(fmaps: np.ndarray) -> np.ndarray:
    """Global average pooling: one number per feature map (C, H, W) -> (C,), the mean of the map."""
    fmaps = np.asarray(fmaps, dtype=np.float32)
    if fmaps.ndim != 3:
        raise DataError(f"expected feature maps (C, H, W), got shape {fmaps.shape}", fix="pass a stack of maps")
    return fmaps.mean(axis=(1, 2))


# --------------------------------------------------------------------- activations

def relu(x: np.ndarray) -> np.ndarray:
    """ReLU: max(0, x), the default activation of hidden layers."""
    return np.maximum(x, 0.0)


def leaky_relu(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """Leaky ReLU: x for x > 0, slope·x otherwise (keeps a small gradient for negative inputs)."""
    return np.where(x > 0, x, slope * x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Sigmoid: 1 / (1 + e^−x), squashes to (0, 1); per-output probabilities."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))        # = 1/(1+e^-x) without overflow


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent: squashes to (−1, 1)."""
    return np.tanh(x)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis: exponentiate and normalise so the classes sum to 1."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)         # subtracting the max changes nothing but avoids overflow
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


#: Activations by the name the labs show.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ReLU": relu, "sigmoid": sigmoid, "tanh": tanh, "leaky ReLU": leaky_relu,
}


# -------------------------------------------------------------------- the pipeline

@dataclass
class ConvPipeline:
    """Image -> convolution -> activation -> max pooling, with what each stage did."""

    image: np.ndarray
    kernel: np.ndarray
    stride: int
    padding: int
    pool_size: int            # the pooling actually applied (1 = none)
    activation: str | None
    feature_map: np.ndarray   # after convolution (and activation, if any)
    pooled: np.ndarray        # after max pooling
    formula: str              # output size with the numbers filled in


def run_pipeline(image: np.ndarray, kernel_: np.ndarray, *, stride: int = 1, padding: int = 0,
                 pool_size: int = 2, activation: str | None = None) -> ConvPipeline:
    """One CNN block by hand: convolve, apply ``activation`` (a key of ACTIVATIONS or None), max-pool."""
    fmap = conv2d(image, kernel_, stride=stride, padding=padding)
    if activation:
        if activation not in ACTIVATIONS:
            raise DataError(f"unknown activation {activation!r}", fix=f"use one of {list(ACTIVATIONS)} or None")
        fmap = ACTIVATIONS[activation](fmap).astype(np.float32)
    if pool_size > 1 and min(fmap.shape) >= pool_size:
        pooled = max_pool2d(fmap, pool_size)
    else:                           # pooling 1x1, or a map smaller than the window: nothing to pool
        pool_size, pooled = 1, fmap
    formula = output_size_formula(np.asarray(image).shape[0], np.asarray(kernel_).shape[0], padding, stride)
    return ConvPipeline(np.asarray(image, dtype=np.float32), np.asarray(kernel_, dtype=np.float32), stride,
                        padding, pool_size, activation, fmap, pooled, formula)


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


def plotly_array(a: np.ndarray) -> dict:
    """A 2-D array in plotly.js's binary form: ``{"dtype", "bdata" (base64), "shape"}``.

    A ``FigureWidget`` otherwise sends 2-D arrays as nested lists: slow to serialise
    (about 150 ms for a few 64×64 mosaics) and NaN (a gap) is not valid JSON.
    """
    a = np.ascontiguousarray(a, dtype=np.int32 if np.issubdtype(np.asarray(a).dtype, np.integer) else np.float32)
    dtype = "i4" if a.dtype == np.int32 else "f4"
    return {"dtype": dtype, "bdata": base64.b64encode(a.tobytes()).decode("ascii"),
            "shape": ", ".join(str(n) for n in a.shape)}


def from_plotly_array(v: dict | np.ndarray | list) -> np.ndarray:
    """Back from :func:`plotly_array` (or an ordinary array) to a NumPy array."""
    if isinstance(v, dict) and "bdata" in v:
        shape = tuple(int(n) for n in str(v["shape"]).split(","))
        dtype = {"i4": np.int32, "f4": np.float32}[v["dtype"]]
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=dtype).reshape(shape)
    return np.asarray(v)


def packed(data: dict) -> dict:
    """Trace data with its 2-D numeric arrays (z, customdata) turned into :func:`plotly_array` form."""
    return {k: plotly_array(v) if k in ("z", "customdata") and isinstance(v, np.ndarray) and v.ndim == 2 else v
            for k, v in data.items()}


def packed_figure(fig: go.Figure) -> go.Figure:
    """The same figure with every trace's 2-D arrays packed, ready for a ``go.FigureWidget``."""
    for trace in fig.data:
        arrays = {k: np.asarray(trace[k]) for k in ("z", "customdata") if k in trace and trace[k] is not None}
        trace.update(packed(arrays))
    return fig


def _heatmap(data: dict, *, colorscale: str = "gray", zmid: float | None = None, name: str | None = None) -> go.Heatmap:
    return go.Heatmap(colorscale=colorscale, zmid=zmid, showscale=False, textfont=dict(size=11), name=name,
                      hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>", **data)


def image_axes(fig: go.Figure, n: int) -> None:
    """Set the first ``n`` subplots up for images: rows go down, pixels are square, no tick clutter.

    The background is white, so NaN cells (gaps between tiles, steps not yet taken) read as blank.
    """
    fig.update_layout(plot_bgcolor="white")
    for i in range(1, n + 1):
        suffix = "" if i == 1 else str(i)
        fig.layout[f"yaxis{suffix}"].update(autorange="reversed", scaleanchor=f"x{suffix}",
                                            showticklabels=False, showgrid=False, zeroline=False)
        fig.layout[f"xaxis{suffix}"].update(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")


def _small(z: np.ndarray) -> bool:
    return max(np.shape(z)) <= 12


def pipeline_trace_data(p: ConvPipeline) -> list[dict]:
    """What each trace of :func:`pipeline_figure` shows, in order: image, feature map, pooled map.

    A widget updates its live figure with exactly these values, so the first drawing and
    every redraw come from the same code.
    """
    return [dict(z=z, **_values(z, _small(z))) for z in (p.image, p.feature_map, p.pooled)]


def pipeline_figure(p: ConvPipeline) -> go.Figure:
    """Three panels: the image, the feature map, the pooled map (titles give the sizes)."""
    image, fmap, pooled = pipeline_trace_data(p)
    fig = make_subplots(rows=1, cols=3, subplot_titles=pipeline_titles(p), horizontal_spacing=0.05)
    fig.add_trace(_heatmap(image, name="image"), row=1, col=1)
    fig.add_trace(_heatmap(fmap, colorscale="RdBu_r", zmid=0, name="feature map"), row=1, col=2)
    fig.add_trace(_heatmap(pooled, colorscale="RdBu_r", zmid=0, name="pooled map"), row=1, col=3)
    image_axes(fig, 3)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=40),
                      title=dict(text=p.formula, font=dict(size=13), y=0.02, yanchor="bottom"))
    return fig


# ---------------------------------------------------------------- step by step

def feature_map_so_far(feature_map: np.ndarray, position: int) -> np.ndarray:
    """The feature map with the entries after ``position`` blanked (NaN): the kernel has not got there yet."""
    flat = np.asarray(feature_map, dtype=np.float32).ravel().copy()
    flat[position + 1:] = np.nan
    return flat.reshape(np.shape(feature_map))


def _box(top: float, left: float, h: int, w: int) -> dict:
    """x/y of a rectangle around pixels [top, top+h) × [left, left+w), for a line trace."""
    y0, y1, x0, x1 = top - 0.5, top + h - 0.5, left - 0.5, left + w - 0.5
    return dict(x=[x0, x1, x1, x0, x0], y=[y0, y0, y1, y1, y0])


def step_titles(step: ConvStep) -> list[str]:
    """Panel titles of :func:`conv_step_figure`."""
    return [f"padded image, kernel at step {step.position + 1}/{step.n_positions}",
            "patch", "kernel", "patch ⊙ kernel",
            f"feature map [{step.row}, {step.col}] = Σ = {step.value:.3f}"]


def step_trace_data(step: ConvStep, feature_map: np.ndarray | None = None) -> list[dict]:
    """What each trace of :func:`conv_step_figure` shows, in order: padded image, kernel window,
    patch, kernel, products, feature map, outline of the entry being written.

    ``feature_map`` (e.g. from :func:`feature_map_so_far`) defaults to only this step's entry.
    """
    if feature_map is None:
        feature_map = np.full(step.out_shape, np.nan, dtype=np.float32)
        feature_map[step.row, step.col] = step.value
    kh, kw = step.kernel.shape
    return [dict(z=step.padded, **_values(step.padded, _small(step.padded))),
            _box(step.top, step.left, kh, kw),
            dict(z=step.patch, **_values(step.patch, True)),
            dict(z=step.kernel, **_values(step.kernel, True)),
            dict(z=step.products, **_values(step.products, True)),
            dict(z=feature_map, **_values(feature_map, _small(feature_map))),
            _box(step.row, step.col, 1, 1)]


def conv_step_figure(step: ConvStep, feature_map: np.ndarray | None = None) -> go.Figure:
    """The picture of one convolution step: where the kernel is, what it multiplies, what it writes."""
    padded, window, patch, kern, products, fmap, cell = step_trace_data(step, feature_map)
    outline = dict(mode="lines", line=dict(color="#ff7f0e", width=3), hoverinfo="skip", showlegend=False)
    fig = make_subplots(rows=1, cols=5, subplot_titles=step_titles(step), column_widths=[0.3, 0.13, 0.13, 0.14, 0.3],
                        horizontal_spacing=0.03)
    fig.add_trace(_heatmap(padded, name="padded image"), row=1, col=1)
    fig.add_trace(go.Scatter(**window, **outline, name="kernel window"), row=1, col=1)
    fig.add_trace(_heatmap(patch, name="patch"), row=1, col=2)
    fig.add_trace(_heatmap(kern, colorscale="RdBu_r", zmid=0, name="kernel"), row=1, col=3)
    fig.add_trace(_heatmap(products, colorscale="RdBu_r", zmid=0, name="products"), row=1, col=4)
    fig.add_trace(_heatmap(fmap, colorscale="RdBu_r", zmid=0, name="feature map"), row=1, col=5)
    fig.add_trace(go.Scatter(**cell, **outline, name="entry written"), row=1, col=5)
    image_axes(fig, 5)
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
