"""How a network learns, in pictures: loss functions, gradient descent on a loss landscape, runs side by side.

The course's learning chapter (Yamashita et al. 2018, "Training a network") in figures:

- :func:`loss_functions_figure`: binary cross-entropy against the predicted probability,
  next to the squared error: a confident mistake costs far more than a hesitant one.
- A *loss landscape* is the loss as a function of the weights. :class:`Bowl` is the
  simplest one (a parabola, or an elongated bowl over two weights); :class:`LogisticLandscape`
  is the real binary cross-entropy of a one-feature classifier ``p = σ(w·x + b)`` over a
  small data set, so it can be walked with mini-batches too.
- :func:`gradient_descent` repeats the update rule ``w ← w − lr · ∇L(w)`` and records the
  path; :func:`descent_figure` draws the paths of several learning rates on the landscape.
- :func:`runs_figure` overlays the learning curves of several :func:`radlab.train.fit` runs
  (e.g. three learning rates); :func:`sweep_figure` plots one number against a setting
  (test AUC against the fraction of wrong labels); :func:`parameter_counts_figure` compares
  trainable and frozen parameters (transfer learning); :func:`segmentation_figure` puts the
  predicted lesion outline and box next to the true ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.errors import DataError
from radlab.viz.images import box_shape, image_trace, mask_trace
from radlab.viz.style import plotly_white

#: One colour per path / run, in order (plotly's default qualitative palette).
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
TRUE_COLOR, PRED_COLOR = "#2ca02c", "#ff7f0e"

#: How a gradient-descent path ended (see :func:`descent_outcome`).
OUTCOMES = ("converged", "too slow", "zig-zagging", "diverged")


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


# ------------------------------------------------------------------------- loss functions

def binary_cross_entropy(p: Any, y: Any, eps: float = 1e-7) -> np.ndarray:
    """BCE = −[y·ln p + (1 − y)·ln(1 − p)] per image: the classification loss, written out."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    y = np.asarray(y, dtype=np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def loss_functions_figure() -> go.Figure:
    """BCE of a lesion and a normal image against the predicted probability, with the squared error beside it.

    The cross-entropy grows without bound as a confident answer becomes wrong (p → 0 for a
    lesion), while the squared error never exceeds 1: that is why classifiers use BCE.
    """
    p = np.linspace(0.005, 0.995, 199)
    curves = [("BCE, image with a lesion (y = 1): −ln p", binary_cross_entropy(p, 1), "solid"),
              ("BCE, normal image (y = 0): −ln(1 − p)", binary_cross_entropy(p, 0), "solid"),
              ("squared error, lesion (y = 1): (1 − p)²", (1 - p) ** 2, "dot"),
              ("squared error, normal (y = 0): p²", p ** 2, "dot")]
    fig = go.Figure([go.Scatter(x=p, y=y, mode="lines", name=name, line=dict(color=_color(i % 2), dash=dash),
                                hovertemplate="p = %{x:.2f}: loss %{y:.3f}<extra></extra>")
                     for i, (name, y, dash) in enumerate(curves)])
    plotly_white(fig)
    fig.update_layout(title="Loss of one image against the predicted probability of a lesion",
                      xaxis_title="predicted probability p (model output after the sigmoid)",
                      yaxis_title="loss", yaxis_range=[0, 5], height=360,
                      margin=dict(l=50, r=20, t=50, b=40), legend=dict(x=0.28, y=0.98))
    return fig


# ------------------------------------------------------------------------- landscapes

class Landscape:
    """A loss over a few weights with its gradient: the hill gradient descent walks down.

    Subclasses define :meth:`loss` (weights ``(..., d)`` → losses ``(...)``), :meth:`gradient`
    (weights ``(d,)`` → ``(d,)``) and :attr:`minimum`. When the loss is a mean over
    ``n_samples`` images, ``batch`` (indices) restricts it to a mini-batch.
    """

    name: str = "loss"
    weight_names: tuple[str, ...] = ("w",)
    bounds: tuple[tuple[float, float], ...] = ((-1.0, 1.0),)
    n_samples: int = 0            # 0: not a mean over images, so no mini-batches

    @property
    def dims(self) -> int:
        """How many weights: 1 (a curve) or 2 (a contour map)."""
        return len(self.weight_names)

    @property
    def minimum(self) -> np.ndarray:
        raise NotImplementedError

    def loss(self, w: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def gradient(self, w: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    @property
    def minimum_loss(self) -> float:
        """The lowest loss there is (at :attr:`minimum`)."""
        return float(self.loss(self.minimum))


@dataclass(frozen=True)
class Bowl(Landscape):
    """L(w) = ½ Σᵢ cᵢ (wᵢ − mᵢ)²: a parabola (one weight) or an elongated bowl (two).

    The gradient is cᵢ (wᵢ − mᵢ), so one step multiplies the distance to the minimum by
    (1 − lr·cᵢ): plain gradient descent converges only when lr < 2 / max cᵢ, zig-zags
    across the minimum when lr > 1 / cᵢ, and crawls when lr·cᵢ is tiny.
    """

    curvature: tuple[float, ...] = (1.0,)
    center: tuple[float, ...] = (0.0,)
    half_width: float = 4.0      # plotting range: center ± half_width

    def __post_init__(self) -> None:
        if len(self.curvature) != len(self.center) or len(self.curvature) not in (1, 2):
            raise DataError(f"curvature {self.curvature} and center {self.center} must both have 1 or 2 entries",
                            fix="e.g. Bowl(curvature=(1.0,), center=(2.0,)) or Bowl((1.0, 10.0), (0.0, 0.0))")
        if min(self.curvature) <= 0:
            raise DataError(f"curvatures must be positive, got {self.curvature}", fix="e.g. curvature=(1.0, 10.0)")

    @property
    def name(self) -> str:  # type: ignore[override]
        terms = " + ".join(f"{c:g}·({w} − {m:g})²" for c, m, w in zip(self.curvature, self.center, self.weight_names))
        return f"L = ½[{terms}]"

    @property
    def weight_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("w",) if len(self.curvature) == 1 else ("w1", "w2")

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:  # type: ignore[override]
        return tuple((m - self.half_width, m + self.half_width) for m in self.center)

    @property
    def minimum(self) -> np.ndarray:
        return np.asarray(self.center, dtype=np.float64)

    def loss(self, w: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        d = np.asarray(w, dtype=np.float64) - self.minimum
        return 0.5 * np.sum(np.asarray(self.curvature) * d ** 2, axis=-1)

    def gradient(self, w: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.curvature) * (np.asarray(w, dtype=np.float64) - self.minimum)


@dataclass(frozen=True, eq=False)
class LogisticLandscape(Landscape):
    """Mean binary cross-entropy of ``p = σ(w·x + b)`` over images with one feature ``x`` and label ``y``.

    Two weights (w, b), a real loss over real examples: the whole-data gradient is the mean
    of the per-image gradients ``(p − y)·x`` and ``(p − y)``, and a mini-batch uses the mean
    over a few images only, which is cheaper and noisier. ``bounds`` (the plotting range)
    defaults to the minimum ± 4 in both weights.
    """

    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    name: str = "mean BCE of p = σ(w·x + b)"
    weight_names: tuple[str, ...] = ("w", "b")
    bounds: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x, dtype=np.float64).ravel(), np.asarray(self.y, dtype=np.float64).ravel()
        if len(x) == 0 or len(x) != len(y) or not set(np.unique(y)) <= {0.0, 1.0} or len(np.unique(y)) < 2:
            raise DataError(f"need one feature per image and 0/1 labels of both classes (got {len(x)} features, "
                            f"{len(y)} labels)", fix="pass x (N,) and y (N,) with both 0 and 1 in y")
        object.__setattr__(self, "x", x)          # frozen dataclass: store the cleaned arrays once
        object.__setattr__(self, "y", y)
        if self.bounds is None:
            object.__setattr__(self, "bounds", tuple((float(m) - 4.0, float(m) + 4.0) for m in self.minimum))

    @property
    def n_samples(self) -> int:  # type: ignore[override]
        return len(self.x)

    @cached_property
    def minimum(self) -> np.ndarray:  # type: ignore[override]
        """The (w, b) of lowest loss, found once by Newton's method."""
        return _newton_logistic(self.x, self.y)

    def _select(self, batch: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        return (self.x, self.y) if batch is None else (self.x[batch], self.y[batch])

    def loss(self, w: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        x, y = self._select(batch)
        w = np.asarray(w, dtype=np.float64)
        z = w[..., :1] * x + w[..., 1:2]                          # (..., n) logits
        # BCE from logits without overflow: ln(1 + e^z) − y·z
        return np.mean(np.logaddexp(0.0, z) - y * z, axis=-1)

    def gradient(self, w: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        x, y = self._select(batch)
        w = np.asarray(w, dtype=np.float64)
        error = 1.0 / (1.0 + np.exp(-(w[0] * x + w[1]))) - y      # p − y, per image
        return np.array([np.mean(error * x), np.mean(error)])


def _newton_logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> np.ndarray:
    """The (w, b) of lowest mean BCE, by Newton's method (a tiny ridge keeps separable data finite)."""
    w = np.zeros(2)
    features = np.stack([x, np.ones_like(x)], axis=1)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(features @ w)))
        grad = features.T @ (p - y) / len(x) + 1e-8 * w
        hess = (features * (p * (1 - p))[:, None]).T @ features / len(x) + 1e-8 * np.eye(2)
        w = w - np.linalg.solve(hess, grad)
    return w


# ------------------------------------------------------------------------- gradient descent

@dataclass
class DescentPath:
    """Where gradient descent went: the weights after every step and the (whole-data) loss there."""

    lr: float
    weights: np.ndarray          # (steps + 1, d); the first row is the start
    losses: np.ndarray           # (steps + 1,)
    batch_size: int | None       # None: the gradient of the whole data set (or no data at all)
    outcome: str                 # one of OUTCOMES

    @property
    def label(self) -> str:
        """A legend label such as 'lr = 0.1, batch 8: zig-zagging'."""
        batch = f", batch {self.batch_size}" if self.batch_size else ""
        return f"lr = {self.lr:g}{batch}: {self.outcome}"

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def descent_outcome(weights: np.ndarray, losses: np.ndarray, minimum_loss: float, *,
                    tolerance: float = 0.05, noisy: bool = False) -> str:
    """Name how a path ended: 'diverged' (the loss rose or blew up), 'zig-zagging' (most steps
    reverse direction: it overshoots the minimum every time), 'converged' (within ``tolerance``
    of the way down) or 'too slow'. ``noisy`` paths (mini-batches) are never called zig-zagging:
    their steps reverse by chance."""
    losses = np.asarray(losses, dtype=np.float64)
    start, end = losses[0], losses[-1]
    if not np.isfinite(end) or end > start:
        return "diverged"
    steps = np.diff(np.asarray(weights, dtype=np.float64), axis=0)
    reversals = np.sum(np.sum(steps[1:] * steps[:-1], axis=1) < 0)
    if not noisy and len(steps) > 2 and reversals > (len(steps) - 1) / 2:
        return "zig-zagging"
    if start - minimum_loss <= 1e-12 or (end - minimum_loss) <= tolerance * (start - minimum_loss):
        return "converged"
    return "too slow"


def gradient_descent(landscape: Landscape, start: Sequence[float] | float, lr: float, steps: int = 20, *,
                     batch_size: int | None = None, seed: int = 0, blowup: float = 1e6) -> DescentPath:
    """Repeat ``w ← w − lr · ∇L(w)`` ``steps`` times from ``start`` and record the path.

    With ``batch_size`` the gradient of each step is that of a random mini-batch of
    ``batch_size`` images (reshuffled every pass, seeded by ``seed``): stochastic gradient
    descent. A path whose loss exceeds ``blowup`` stops there (it has diverged).
    """
    if not (np.isfinite(lr) and lr > 0) or steps < 1:
        raise DataError(f"need a positive learning rate and steps >= 1, got lr={lr}, steps={steps}",
                        fix="e.g. gradient_descent(landscape, start=-1.0, lr=0.1, steps=20)")
    if batch_size is not None and not 1 <= batch_size <= max(landscape.n_samples, 0):
        raise DataError(f"batch_size={batch_size} but the landscape has {landscape.n_samples} images",
                        fix="use mini-batches only with a LogisticLandscape, 1 <= batch_size <= its size")
    w = np.atleast_1d(np.asarray(start, dtype=np.float64)).copy()
    if w.shape != (landscape.dims,):
        raise DataError(f"start {tuple(w)} has {w.size} weights, the landscape {landscape.dims}",
                        fix=f"give one start value per weight {landscape.weight_names}")
    rng = np.random.default_rng(seed)
    order: list[int] = []
    weights, losses = [w.copy()], [float(landscape.loss(w))]
    for _ in range(steps):
        batch = None
        if batch_size is not None:
            if len(order) < batch_size:                    # a new pass (epoch): reshuffle
                order = list(rng.permutation(landscape.n_samples))
            batch, order = np.asarray(order[:batch_size]), order[batch_size:]
        w = w - lr * landscape.gradient(w, batch)          # the update rule
        weights.append(w.copy())
        losses.append(float(landscape.loss(w)))
        if not np.isfinite(losses[-1]) or losses[-1] > blowup:
            break
    weights_arr, losses_arr = np.array(weights), np.array(losses)
    return DescentPath(lr=float(lr), weights=weights_arr, losses=losses_arr, batch_size=batch_size,
                       outcome=descent_outcome(weights_arr, losses_arr, landscape.minimum_loss,
                                               noisy=batch_size is not None))


# ------------------------------------------------------------------------- descent figure

def _inside(points: np.ndarray, bounds: Sequence[tuple[float, float]]) -> np.ndarray:
    """Which points lie within the plotting range (a diverging path leaves it)."""
    ok = np.ones(len(points), dtype=bool)
    for k, (lo, hi) in enumerate(bounds):
        ok &= (points[:, k] >= lo) & (points[:, k] <= hi)
    return ok


def _first_outside(points: np.ndarray, bounds: Sequence[tuple[float, float]]) -> int:
    """Index of the first point outside the range (len(points) when all are inside)."""
    outside = np.flatnonzero(~_inside(points, bounds))
    return int(outside[0]) if outside.size else len(points)


def _path_trace(path: DescentPath, landscape: Landscape, color: str) -> go.Scatter:
    """The path on the landscape, numbered by step, cut where it leaves the plotting range."""
    shown = path.weights[:_first_outside(path.weights, landscape.bounds)]
    steps = np.arange(len(shown))
    if landscape.dims == 1:
        x, y = shown[:, 0], path.losses[:len(shown)]
    else:
        x, y = shown[:, 0], shown[:, 1]
    return go.Scatter(x=x, y=y, mode="lines+markers", line=dict(color=color, width=2),
                      marker=dict(size=7, color=color, line=dict(width=1, color="white")), customdata=steps,
                      name=path.label, showlegend=False,
                      hovertemplate="step %{customdata}: (%{x:.3f}, %{y:.3f})<extra></extra>")


def descent_figure(landscape: Landscape, paths: Sequence[DescentPath], *, title: str | None = None,
                   height: int = 340) -> go.Figure:
    """One panel per path on the landscape (the loss curve for one weight, contours for two),
    then the loss after every step of all paths (log scale) in the last panel."""
    if not paths:
        raise DataError("no gradient-descent paths to draw", fix="pass the results of gradient_descent(...)")
    titles = [p.label for p in paths] + ["loss per step"]
    fig = make_subplots(rows=1, cols=len(paths) + 1, subplot_titles=titles, horizontal_spacing=0.05)
    (x_lo, x_hi) = landscape.bounds[0]
    if landscape.dims == 1:
        grid = np.linspace(x_lo, x_hi, 200)
        curve = landscape.loss(grid[:, None])
    else:
        (y_lo, y_hi) = landscape.bounds[1]
        gx, gy = np.linspace(x_lo, x_hi, 80), np.linspace(y_lo, y_hi, 80)
        surface = landscape.loss(np.stack(np.meshgrid(gx, gy), axis=-1))      # (80, 80): rows = y
    for i, path in enumerate(paths, start=1):
        if landscape.dims == 1:
            fig.add_trace(go.Scatter(x=grid, y=curve, mode="lines", line=dict(color="#bbbbbb"), showlegend=False,
                                     hovertemplate="w = %{x:.2f}: loss %{y:.3f}<extra></extra>"), row=1, col=i)
        else:
            fig.add_trace(go.Contour(x=gx, y=gy, z=np.log10(surface - landscape.minimum_loss + 1e-3),
                                     colorscale="Blues_r", showscale=False, ncontours=18,
                                     contours=dict(coloring="lines"), line=dict(width=1),
                                     hoverinfo="skip"), row=1, col=i)
            fig.add_trace(go.Scatter(x=[landscape.minimum[0]], y=[landscape.minimum[1]], mode="markers",
                                     marker=dict(symbol="star", size=13, color="black"), showlegend=False,
                                     hovertemplate="minimum<extra></extra>"), row=1, col=i)
        fig.add_trace(_path_trace(path, landscape, _color(i - 1)), row=1, col=i)
        fig.update_xaxes(title_text=landscape.weight_names[0], range=[x_lo, x_hi], row=1, col=i)
        if landscape.dims == 2:
            fig.update_yaxes(title_text=landscape.weight_names[1] if i == 1 else None,
                             range=list(landscape.bounds[1]), row=1, col=i)
        else:
            fig.update_yaxes(title_text="loss" if i == 1 else None,
                             range=[0, float(curve.max()) * 1.05], row=1, col=i)
    last = len(paths) + 1
    for i, path in enumerate(paths):
        excess = np.maximum(path.losses - landscape.minimum_loss, 1e-12)   # distance to the lowest loss
        fig.add_trace(go.Scatter(x=np.arange(len(excess)), y=excess, mode="lines+markers", name=path.label,
                                 line=dict(color=_color(i)), marker=dict(size=4),
                                 hovertemplate="step %{x}: loss − minimum = %{y:.3g}<extra></extra>"),
                      row=1, col=last)
    fig.update_xaxes(title_text="step", row=1, col=last)
    fig.update_yaxes(type="log", exponentformat="power", title_text="loss − lowest loss", row=1, col=last)
    fig.update_annotations(font_size=12)
    plotly_white(fig)
    fig.update_layout(title=title or landscape.name, height=height,
                      margin=dict(l=50, r=20, t=70, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


# ------------------------------------------------------------------------- training runs

def runs_figure(histories: Mapping[str, Any], *, title: str | None = None, log_loss: bool | None = None,
                height: int = 380) -> go.Figure:
    """Several :class:`radlab.train.History` runs on one figure, one colour each.

    Left: validation loss (solid) and training loss (dotted) per epoch; right: the validation
    metric. ``log_loss`` (default: when the losses span more than 20×, e.g. a run that blew
    up) puts the loss on a log scale so the other runs stay readable.
    """
    if not histories:
        raise DataError("no training runs to draw", fix="pass {'name': fit(...).history, ...}")
    metric = next(iter(histories.values())).metric_name
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("loss (solid: validation, dotted: training)",
                                        f"validation {metric} (higher is better)"))
    all_losses = []
    for i, (name, h) in enumerate(histories.items()):
        color = _color(i)
        fig.add_trace(go.Scatter(x=h.epoch, y=h.val_loss, mode="lines+markers", name=name, legendgroup=name,
                                 meta=f"{name}: validation loss", line=dict(color=color), hovertemplate="epoch %{x}: val loss %{y:.4g}<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=h.epoch, y=h.train_loss, mode="lines", name=name, legendgroup=name,
                                 meta=f"{name}: training loss", showlegend=False, line=dict(color=color, dash="dot"),
                                 hovertemplate="epoch %{x}: train loss %{y:.4g}<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(x=h.epoch, y=h.val_metric, mode="lines+markers", name=name, legendgroup=name,
                                 meta=f"{name}: validation {metric}", showlegend=False, line=dict(color=color),
                                 hovertemplate=f"epoch %{{x}}: {metric} %{{y:.3f}}<extra></extra>"), row=1, col=2)
        all_losses += [v for v in (*h.train_loss, *h.val_loss) if np.isfinite(v) and v > 0]
    if log_loss is None:
        log_loss = bool(all_losses) and max(all_losses) / min(all_losses) > 20
    if log_loss:
        fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="epoch")
    plotly_white(fig)
    fig.update_layout(title=title, height=height,
                      margin=dict(l=50, r=20, t=70 if title else 50, b=40), legend=dict(orientation="h", y=-0.22))
    return fig


def sweep_figure(x: Sequence[float], series: Mapping[str, Sequence[float]], *, x_title: str, y_title: str,
                 title: str | None = None, x_percent: bool = False, height: int = 340) -> go.Figure:
    """One number (or several, one line each) against a setting: e.g. test AUC against label noise."""
    x = list(x)
    for name, ys in series.items():
        if len(ys) != len(x):
            raise DataError(f"series {name!r} has {len(ys)} values for {len(x)} settings",
                            fix="give one value per setting")
    fig = go.Figure([go.Scatter(x=x, y=list(ys), mode="lines+markers", name=name, line=dict(color=_color(i)),
                                hovertemplate="%{x}: %{y:.3f}<extra></extra>")
                     for i, (name, ys) in enumerate(series.items())])
    plotly_white(fig)
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=height,
                      margin=dict(l=50, r=20, t=50 if title else 20, b=40),
                      xaxis_tickformat=".0%" if x_percent else None, showlegend=len(series) > 1)
    return fig


def parameter_counts_figure(counts: Mapping[str, tuple[int, int]], *, title: str | None = None,
                            height: int = 300) -> go.Figure:
    """Trainable and frozen parameters of each model, as stacked horizontal bars.

    ``counts`` maps a name to ``(trainable, total)``, what
    :func:`radlab.models.count_parameters` returns.
    """
    names = list(counts)
    trainable = [int(counts[n][0]) for n in names]
    frozen = [int(counts[n][1]) - int(counts[n][0]) for n in names]
    if any(f < 0 for f in frozen):
        raise DataError("a model has more trainable than total parameters", fix="pass (trainable, total) pairs")
    fig = go.Figure([
        go.Bar(y=names, x=trainable, name="trainable (learns from your images)", orientation="h",
               marker_color=_color(1), text=[f"{t:,}" for t in trainable], textposition="auto"),
        go.Bar(y=names, x=frozen, name="frozen (kept from pretraining)", orientation="h",
               marker_color="#c7c7c7", text=[f"{f:,}" if f else "" for f in frozen], textposition="auto"),
    ])
    plotly_white(fig)
    fig.update_layout(barmode="stack", title=title, height=height,
                      xaxis_title="parameters", margin=dict(l=10, r=20, t=50 if title else 20, b=40),
                      legend=dict(orientation="h", y=-0.3))
    return fig


# ------------------------------------------------------------------------- segmentation / detection

def segmentation_figure(images: Sequence[np.ndarray] | np.ndarray, true_masks: Sequence[np.ndarray] | np.ndarray,
                        pred_masks: Sequence[np.ndarray] | np.ndarray, *, titles: Sequence[str] | None = None,
                        true_boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
                        pred_boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
                        level: float | None = None, width: float | None = None, ncols: int = 4,
                        tile_px: int = 220) -> go.Figure:
    """Images with the true lesion outline (green) and the predicted one (orange); boxes dotted, same colours."""
    images = [np.asarray(im, dtype=np.float32) for im in images]
    if not images or len(true_masks) != len(images) or len(pred_masks) != len(images):
        raise DataError(f"{len(images)} images, {len(true_masks)} true and {len(pred_masks)} predicted masks",
                        fix="pass one true and one predicted mask per image")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=list(titles) if titles else None,
                        horizontal_spacing=0.01, vertical_spacing=0.08 if titles else 0.01)
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        fig.add_trace(image_trace(image, level=level, width=width), row=row + 1, col=col + 1)
        fig.add_trace(mask_trace(true_masks[i], color=TRUE_COLOR), row=row + 1, col=col + 1)
        fig.add_trace(mask_trace(pred_masks[i], color=PRED_COLOR), row=row + 1, col=col + 1)
        axis = "" if i == 0 else str(i + 1)
        h, w = image.shape
        fig.update_layout({f"xaxis{axis}": dict(visible=False, range=[-0.5, w - 0.5], constrain="domain"),
                           f"yaxis{axis}": dict(visible=False, range=[h - 0.5, -0.5], scaleanchor=f"x{axis}",
                                                scaleratio=1, constrain="domain")})
        for boxes, color in ((true_boxes, TRUE_COLOR), (pred_boxes, PRED_COLOR)):
            if boxes is not None:
                fig.add_shape(**{**box_shape(boxes[i], color=color), "xref": f"x{axis}", "yref": f"y{axis}"})
    fig.update_annotations(font_size=11)
    fig.update_layout(height=tile_px * nrows + 60, width=tile_px * ncols + 20, showlegend=False,
                      margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="black",
                      title=dict(text=f"<span style='color:{TRUE_COLOR}'>true lesion</span> vs "
                                      f"<span style='color:{PRED_COLOR}'>prediction</span> (boxes dotted)",
                                 font=dict(size=13)))
    return fig


__all__ = ["Bowl", "COLORS", "DescentPath", "Landscape", "LogisticLandscape", "OUTCOMES", "binary_cross_entropy",
           "descent_figure", "descent_outcome", "gradient_descent", "loss_functions_figure",
           "parameter_counts_figure", "runs_figure", "segmentation_figure", "sweep_figure"]
