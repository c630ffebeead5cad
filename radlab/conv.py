"""Convolution and pooling computed by hand in NumPy: kernels, output sizes, padding, one step, a block.

The arithmetic is the lesson (Chapter 1, Lab 5), so it is written out instead of calling
``torch.nn.functional``; ``tests/test_viz_conv.py`` checks every function against torch.
Like PyTorch (and every CNN library) "convolution" means cross-correlation: the kernel is
not flipped. The pictures of all this are in :mod:`radlab.viz.conv`, which re-exports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

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


def pooled_column(column: int, size: int = 2, width: int = 8) -> int:
    """Which pooled column a single response in ``column`` lands in after ``size``×``size`` max pooling.

    Taught in Chapter 1: a one-pixel shift inside a pooling block keeps the pooled answer, a shift
    across a block boundary moves it.
    """
    fmap = np.zeros((size * 2, width))
    fmap[1, column] = 1.0
    return int(np.argmax(max_pool2d(fmap, size).max(axis=0)))


def shift_survival(fmap: np.ndarray, shift: int, size: int = 2) -> float:
    """Share of pooled values unchanged (up to the pooled shift ``shift // size``) when ``fmap`` moves right.

    Taught in Chapter 1: how much of a real feature map's pooled output survives a shift of the input.
    """
    pooled = max_pool2d(fmap, size)
    moved = max_pool2d(np.roll(fmap, shift, axis=1), size)
    return float(np.isclose(moved, np.roll(pooled, shift // size, axis=1)).mean())


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


__all__ = ["ACTIVATIONS", "ConvPipeline", "ConvStep", "KERNELS", "conv2d", "conv2d_layer", "conv_step", "global_average_pool", "kernel", "leaky_relu", "max_pool2d", "output_size", "output_size_formula", "pooled_column", "relu", "run_pipeline", "shift_survival", "sigmoid", "softmax", "tanh", "zero_pad"]
