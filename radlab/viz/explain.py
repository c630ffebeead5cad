"""Figures for explanations and attacks (plotly only): heatmap overlays, perturbations, robustness curves.

Every builder returns a ``go.Figure`` with a fixed list of traces (documented per function),
so a widget can build a FigureWidget once and later copy a freshly built figure's traces
into ``fig.data[i]``. Images are windowed by :mod:`radlab.viz.images` (level/width in the
image's own units), the same way every other lab shows them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.explain import METHODS, RightReasonReport
from radlab.viz.images import (box_shape, colour_bar_trace, display_pixels, image_trace, mask_outline, picture_values,
                               plotly_array, rgba_source, square_axes)
from radlab.viz.style import padded_range

#: Transparent where the map is cold, then blue → yellow → red: the image stays readable underneath.
HEAT_COLORSCALE = [[0.0, "rgba(0,0,255,0)"], [0.2, "rgba(0,0,255,0)"], [0.4, "rgba(0,160,255,0.45)"],
                   [0.6, "rgba(0,255,120,0.55)"], [0.8, "rgba(255,220,0,0.65)"], [1.0, "rgba(255,0,0,0.75)"]]
ATTACK_COLORS = {"fgsm": "#1f77b4", "pgd": "#d62728"}
OVERLAY_TRACES = ("image", "heatmap", "colour bar", "peak")


def _heat_palette() -> np.ndarray:
    """:data:`HEAT_COLORSCALE` as 256 RGBA colours (uint8), each channel interpolated linearly between
    the stops, as plotly.js colours a heatmap."""
    stops = np.array([s for s, _ in HEAT_COLORSCALE])
    rgba = np.array([[float(v) for v in c[c.index("(") + 1:-1].split(",")] for _, c in HEAT_COLORSCALE])
    rgba[:, 3] *= 255
    levels = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(levels, stops, rgba[:, k]) for k in range(4)], axis=1).round().astype(np.uint8)


def heatmap_picture(heatmap: np.ndarray) -> dict:
    """A [0, 1] map as a see-through picture over the image (PNG, :data:`HEAT_COLORSCALE`: transparent
    below 0.2), pixel (row, col) at (col, row); hover values (the map) packed. A live overlay swaps it
    in the browser where a heatmap's new z redraws the figure."""
    values = np.asarray(heatmap, dtype=np.float32)
    levels = np.round(np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    return dict(source=rgba_source(_heat_palette()[levels]), customdata=plotly_array(values),
                x0=0.0, dx=1.0, y0=0.0, dy=1.0)


def heatmap_trace(heatmap: np.ndarray, *, name: str = "heatmap") -> go.Image:
    """A [0, 1] heatmap drawn over the image (:func:`heatmap_picture`), transparent where it is below 0.2."""
    return go.Image(**heatmap_picture(heatmap), name=name,
                    hovertemplate="x %{x}, y %{y}: map %{customdata:.2f}<extra></extra>")


def _peak(heatmap: np.ndarray) -> tuple[int, int]:
    """(column, row) of the heatmap's hottest pixel."""
    row, col = np.unravel_index(int(np.argmax(heatmap)), np.shape(heatmap))
    return int(col), int(row)


def peak_trace(heatmap: np.ndarray) -> go.Scatter:
    """A cross at the heatmap's hottest pixel: the point the pointing game checks."""
    col, row = _peak(heatmap)
    return go.Scatter(x=[col], y=[row], mode="markers", name="peak",
                      marker=dict(symbol="x-thin", size=14, line=dict(width=3, color="white")),
                      hovertemplate="peak of the map at x %{x}, y %{y}<extra></extra>")


def overlay_figure(image: np.ndarray, heatmap: np.ndarray, *, level: float, width: float,
                   mask: np.ndarray | None = None, box: Sequence[float] | None = None,
                   title: str | None = None, units: str = "", height: int = 440) -> go.Figure:
    """A heatmap over the windowed image, with the lesion outline, its box and the map's peak.

    Traces, in order (:data:`OVERLAY_TRACES`): image, heatmap (a see-through picture), its colour bar,
    peak. Shapes: the box first (hidden when there is none), then the mask's outline (a path).
    """
    image = np.asarray(image, dtype=np.float32)
    fig = go.Figure(data=[image_trace(image, level=level, width=width, units=units), heatmap_trace(heatmap),
                          colour_bar_trace(HEAT_COLORSCALE, 0.0, 1.0, title="map", len=0.8, thickness=12),
                          peak_trace(heatmap)])
    for trace, role in zip(fig.data, OVERLAY_TRACES):
        trace.meta = role
    fig.add_shape(**box_shape(box))
    fig.add_shape(**mask_outline(mask, name="mask outline"))
    square_axes(fig, image.shape)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50 if title else 10, b=10),
                      plot_bgcolor="black", showlegend=False)
    return fig


def overlay_view(image: np.ndarray, heatmap: np.ndarray, *, level: float, width: float,
                 mask: np.ndarray | None = None, units: str = "") -> tuple[list[dict], str]:
    """The values of :func:`overlay_figure`'s traces that follow the image, map, mask and window (the
    colour bar's: none), and the mask outline's path.

    A widget updates its live overlay with these (and the title and box) instead of copying a
    whole new figure into it: the same pictures and points, without building ~40 plotly properties
    per step. Images of one size keep the figure's axes, so the page swaps the pictures, moves the
    peak and redraws the outline without plotly.js.
    """
    image = np.asarray(image, dtype=np.float32)
    picture = image_trace(image, level=level, width=width, units=units)
    col, row = _peak(heatmap)
    return ([picture_values(picture), heatmap_picture(heatmap), {}, dict(x=[col], y=[row])],
            mask_outline(mask)["path"])


def _adversarial_panels(image: np.ndarray, adversarial: np.ndarray, *, level: float, width: float,
                        eps_units: float, prediction: str, adversarial_prediction: str, units: str
                        ) -> tuple[list[go.Image], list[str]]:
    """The three pictures of :func:`adversarial_figure` and their titles."""
    image, adversarial = np.asarray(image, np.float32), np.asarray(adversarial, np.float32)
    delta = adversarial - image
    bound = max(float(eps_units), float(np.abs(delta).max()), 1e-12)
    amplification = width / (2 * bound)          # the window spans `width`; the colour range only 2·eps
    flipped = prediction.split(" (")[0] != adversarial_prediction.split(" (")[0]
    titles = [f"original: {prediction}", f"perturbation ×{amplification:,.0f} (±{bound:.3g} {units})",
              f"adversarial: {adversarial_prediction}" + (" — FLIPPED" if flipped else "")]
    # a picture (not a heatmap) so that a new ε or attack only swaps pictures in the browser; the
    # hover values are the change itself, unrounded (compact_values would round a change of < 0.001)
    shown = display_pixels(delta)
    panels = [image_trace(image, level=level, width=width, units=units).update(meta="original"),
              image_trace(delta, level=0.0, width=2 * bound, colorscale="RdBu_r", units=units, shown=shown)
              .update(meta="perturbation", customdata=shown,
                      hovertemplate=f"x %{{x:.0f}}, y %{{y:.0f}}: change %{{customdata:.3g}} {units}<extra></extra>"),
              image_trace(adversarial, level=level, width=width, units=units).update(meta="adversarial")]
    return panels, titles


def adversarial_figure(image: np.ndarray, adversarial: np.ndarray, *, level: float, width: float,
                       eps_units: float, prediction: str, adversarial_prediction: str, units: str = "",
                       height: int = 360) -> go.Figure:
    """Original | perturbation (amplified to fill the colour range ±eps) | adversarial, with both predictions.

    Traces, in order: original image, perturbation, adversarial image. All three panels
    use the same window, so what looks identical *is* identical on this screen.
    """
    panels, titles = _adversarial_panels(image, adversarial, level=level, width=width, eps_units=eps_units,
                                         prediction=prediction, adversarial_prediction=adversarial_prediction,
                                         units=units)
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.03)
    for col, panel in enumerate(panels, start=1):
        fig.add_trace(panel, row=1, col=col)
    h, w = np.shape(image)
    fig.update_xaxes(visible=False, range=[-0.5, w - 0.5], constrain="domain")
    for i in (1, 2, 3):
        fig.update_yaxes(visible=False, range=[h - 0.5, -0.5], scaleanchor=f"x{'' if i == 1 else i}",
                         constrain="domain", row=1, col=i)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50, b=10), plot_bgcolor="black", showlegend=False)
    return fig


def adversarial_view(image: np.ndarray, adversarial: np.ndarray, *, level: float, width: float,
                     eps_units: float, prediction: str, adversarial_prediction: str, units: str = ""
                     ) -> tuple[list[dict], list[str]]:
    """The pictures' values and the panel titles of :func:`adversarial_figure`, for a widget to update its
    live figure with (images of one size keep the figure's axes)."""
    panels, titles = _adversarial_panels(image, adversarial, level=level, width=width, eps_units=eps_units,
                                         prediction=prediction, adversarial_prediction=adversarial_prediction,
                                         units=units)
    return [picture_values(p) for p in panels], titles


def accuracy_vs_epsilon_figure(curves: Mapping[str, Sequence[tuple[float, float]]], *, units: str,
                               one_grey_level: float | None = None, current: float | None = None,
                               height: int = 340) -> go.Figure:
    """Accuracy against the budget epsilon (x in image units), one line per attack.

    Traces, in order: one line per entry of ``curves``, the shaded 'invisible at this window'
    band (epsilon below one display grey level), the chosen epsilon (a vertical line).
    """
    data: list[go.Scatter] = []
    for name, curve in curves.items():
        eps, acc = (np.array([c[i] for c in curve], dtype=float) for i in (0, 1))
        data.append(go.Scatter(x=eps, y=acc, mode="lines+markers", name=name.upper(),
                               line=dict(color=ATTACK_COLORS.get(name)),
                               hovertemplate=f"ε %{{x:.3g}} {units}: accuracy %{{y:.2f}}<extra>{name}</extra>"))
    data.append(invisible_band(one_grey_level))
    data.append(current_epsilon_line(current))
    fig = go.Figure(data=data)
    # a fixed ε range (the curves' own), so a new ε moves the dashed line alone in the browser
    eps_range = padded_range([0.0, *(c[0] for curve in curves.values() for c in curve)], pad=0.03)
    fig.update_layout(height=height, xaxis_title=f"ε (L∞ budget, {units})", yaxis_title="accuracy",
                      xaxis_range=eps_range, yaxis_range=[-0.02, 1.02], margin=dict(l=60, r=10, t=30, b=50),
                      legend=dict(orientation="h", y=1.12))
    return fig


def invisible_band(one_grey_level: float | None) -> go.Scatter:
    """The band 0 <= ε < one display grey level: changes there cannot be seen on the screen."""
    x = [] if one_grey_level is None else [0, one_grey_level, one_grey_level, 0, 0]
    y = [] if one_grey_level is None else [0, 0, 1, 1, 0]
    return go.Scatter(x=x, y=y, fill="toself", mode="lines", line=dict(width=0), fillcolor="rgba(120,120,120,0.25)",
                      name="invisible at this window (< 1 grey level)", hoverinfo="name")


def current_epsilon_line(eps: float | None) -> go.Scatter:
    """A dashed vertical line at the chosen epsilon."""
    x = [] if eps is None else [eps, eps]
    return go.Scatter(x=x, y=[] if eps is None else [0, 1], mode="lines", name="chosen ε",
                      line=dict(color="black", dash="dash"), hoverinfo="name")


def epsilon_marks(one_grey_level: float | None, current: float | None) -> list[dict]:
    """x and y of :func:`accuracy_vs_epsilon_figure`'s last two traces: the invisible band, the chosen ε."""
    return [{"x": t.x, "y": t.y} for t in (invisible_band(one_grey_level), current_epsilon_line(current))]


def right_reason_view(reports: Sequence[RightReasonReport]) -> list[dict]:
    """x, y (and bar texts) of :func:`right_reason_figure`'s three traces: hit rate, IoU, chance."""
    names = [METHODS.get(r.method, r.method).split(" (")[0] for r in reports]
    return [dict(x=names, y=[r.hit_rate for r in reports], text=[f"{r.hit_rate:.0%}" for r in reports]),
            dict(x=names, y=[r.mean_iou for r in reports], text=[f"{r.mean_iou:.2f}" for r in reports]),
            dict(x=names, y=[r.chance_hit_rate for r in reports])]


def right_reason_figure(reports: Sequence[RightReasonReport], *, height: int = 300) -> go.Figure:
    """Pointing-game hit rate and mean mask IoU per method, with the chance hit rate for reference.

    Traces, in order: hit rate bars, IoU bars, chance markers.
    """
    hits, ious, chance = right_reason_view(reports)
    fig = go.Figure(data=[
        go.Bar(**hits, name="pointing game (hit rate)", textposition="outside"),
        go.Bar(**ious, name="mean IoU with the mask", textposition="outside"),
        go.Scatter(**chance, mode="markers", name="chance hit rate",
                   marker=dict(symbol="line-ew-open", size=40, line=dict(width=3, color="black"))),
    ])
    n = reports[0].n_images if reports else 0
    fig.update_layout(barmode="group", height=height, yaxis_range=[0, 1.15], yaxis_title="score",
                      title=f"Right for the right reason? ({n} lesion-positive test images)",
                      margin=dict(l=60, r=10, t=50, b=40), legend=dict(orientation="h", y=-0.2))
    return fig
