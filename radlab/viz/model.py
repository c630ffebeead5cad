"""Inside a trained CNN: its learned kernels and the feature maps it makes (plotly only).

Feature maps come from forward hooks: the model runs once per image, every hooked layer
stores its output, and choosing another channel or layer only re-slices what is stored.
That keeps a redraw well under 100 ms on two CPU cores. Grids of kernels or maps are
drawn as one heatmap (a mosaic with blank gaps) so a figure has the same traces whatever
the layer, which is what a live ``FigureWidget`` needs. The figures Lab 6 updates live
(:func:`layer_figure`, :func:`early_vs_deep_figure`) draw every map as a picture coloured as its
heatmap would be (:func:`radlab.viz.images.value_picture`), so a new image, channel or layer swaps
pictures in the browser instead of redrawing the figure.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from radlab.errors import DataError
from radlab.device import cpu_threads, evaluating
from radlab.explain import conv_layer_names, find_layer
from radlab.viz.conv import image_axes
from radlab.viz.images import map_picture   # (lives with the pictures; Lab 5 draws with it too)


# ----------------------------------------------------------------------- layers

@dataclass
class ConvLayer:
    """A convolutional layer of a model, with a name a student can read."""

    index: int            # 1 = the first conv layer the input meets
    name: str             # module path inside the model, e.g. "features.0.conv"
    label: str            # e.g. "conv 1 · features.0.conv · 1→16 maps · 3×3"
    module: nn.Conv2d

    @property
    def n_kernels(self) -> int:
        """How many kernels (= output feature maps) the layer has."""
        return self.module.out_channels


def conv_layers(model: nn.Module) -> list[ConvLayer]:
    """The model's Conv2d layers in the order the input meets them, each with a readable label."""
    modules = dict(model.named_modules())
    found = []
    for i, name in enumerate(conv_layer_names(model), start=1):
        module = modules[name]
        kh, kw = module.kernel_size
        stride = "" if module.stride == (1, 1) else f" · stride {module.stride[0]}"
        label = f"conv {i} · {name} · {module.in_channels}→{module.out_channels} maps · {kh}×{kw}{stride}"
        found.append(ConvLayer(i, name, label, module))
    if not found:
        raise DataError(f"{type(model).__name__} has no Conv2d layer",
                        fix="pass a convolutional network, e.g. radlab.models.GapCNN()")
    return found


# ----------------------------------------------------------------- feature maps

@dataclass
class FeatureMaps:
    """What one forward pass left behind: each hooked layer's output for one image."""

    image: np.ndarray                 # (H, W) the input, as the model saw it
    maps: dict[str, np.ndarray]       # layer name -> (C, h, w) float32
    logits: np.ndarray                # the model's output for this image, (num_classes,)

    def channel(self, layer: str, channel: int) -> np.ndarray:
        """One feature map (h, w) of ``layer``."""
        stack = self.layer(layer)
        if not 0 <= channel < stack.shape[0]:
            raise DataError(f"layer {layer!r} has channels 0..{stack.shape[0] - 1}, not {channel}",
                            fix="choose a channel within the layer")
        return stack[channel]

    def layer(self, layer: str) -> np.ndarray:
        """All feature maps (C, h, w) of ``layer``."""
        if layer not in self.maps:
            raise DataError(f"no feature maps stored for layer {layer!r}", fix=f"use one of {list(self.maps)}")
        return self.maps[layer]


def _as_input(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(H, W), (1, H, W) or (1, 1, H, W) -> a float tensor (1, 1, H, W)."""
    x = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image).float()
    while x.ndim < 4:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[0] != 1:
        raise DataError(f"expected one image (H, W) or (C, H, W), got shape {tuple(x.shape)}",
                        fix="pass a single image, e.g. images[i]")
    return x


class FeatureMapExtractor:
    """Runs a model with forward hooks and caches the feature maps per image.

    ``extract(image)`` does one forward pass the first time it sees an image (keyed by
    its bytes) and returns the stored :class:`FeatureMaps` afterwards, so switching
    channel or layer costs nothing but a slice.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] | None = None, *, cache_size: int = 16):
        self.model = model
        self.layers = list(layers) if layers is not None else [layer.name for layer in conv_layers(model)]
        for name in self.layers:
            find_layer(model, name)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, FeatureMaps] = OrderedDict()
        self.forward_passes = 0      # how many times the model actually ran (for tests and curiosity)

    @staticmethod
    def _key(x: torch.Tensor) -> str:
        return hashlib.sha1(x.numpy().tobytes() + str(tuple(x.shape)).encode()).hexdigest()

    def extract(self, image: np.ndarray | torch.Tensor) -> FeatureMaps:
        """Feature maps of every hooked layer for ``image`` (one forward pass, then cached)."""
        x = _as_input(image).detach().cpu()
        key = self._key(x)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        result = self._forward(x)
        self._cache[key] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def _forward(self, x: torch.Tensor) -> FeatureMaps:
        stored: dict[str, np.ndarray] = {}

        def keep(name: str):
            def hook(_module: nn.Module, _inputs, output: torch.Tensor) -> None:
                # a copy: a later in-place ReLU (as in GapCNN) would otherwise overwrite what we keep
                stored[name] = output.detach()[0].float().cpu().numpy().copy()
            return hook

        handles = [find_layer(self.model, name).register_forward_hook(keep(name)) for name in self.layers]
        device = next(self.model.parameters()).device
        try:
            # one image: one thread (radlab.device.cpu_threads says why)
            with cpu_threads(1), evaluating(self.model), torch.no_grad():   # batch norm's running statistics
                logits = self.model(x.to(device))
        finally:
            for handle in handles:     # never leave hooks behind on the student's model
                handle.remove()
        self.forward_passes += 1
        return FeatureMaps(x[0, 0].numpy(), stored, logits.detach()[0].float().cpu().numpy().reshape(-1))


def feature_maps(model: nn.Module, image: np.ndarray | torch.Tensor,
                 layers: Sequence[str] | None = None) -> FeatureMaps:
    """One-off feature maps of ``layers`` (default: every conv layer) for one image."""
    return FeatureMapExtractor(model, layers, cache_size=1).extract(image)


# ------------------------------------------------------------------------ mosaics

@dataclass
class Mosaic:
    """Tiles laid out on a grid as one 2-D array (NaN in the gaps) and which tile each pixel is."""

    z: np.ndarray             # (rows*(h+gap)-gap, cols*(w+gap)-gap)
    tile: np.ndarray          # same shape, tile index (−1 in the gaps), for hover text
    n_tiles: int
    n_total: int              # tiles available before ``max_tiles`` cut the list


def mosaic(tiles: np.ndarray, *, max_tiles: int = 16, ncols: int | None = None, gap: int = 1,
           normalize: bool = True) -> Mosaic:
    """Arrange (N, h, w) tiles in a grid; with ``normalize`` each tile is scaled to [0, 1] on its own.

    Scaling each map to its own range shows its pattern whatever its magnitude (deep maps
    are often much larger or smaller than early ones).
    """
    tiles = np.asarray(tiles, dtype=np.float32)
    if tiles.ndim != 3 or tiles.shape[0] == 0:
        raise DataError(f"expected tiles (N, h, w), got shape {tiles.shape}", fix="pass a stack of maps")
    n_total = tiles.shape[0]
    tiles = tiles[:max_tiles]
    n, h, w = tiles.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    z = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan, dtype=np.float32)
    which = np.full(z.shape, -1, dtype=np.int32)
    for i, t in enumerate(tiles):
        if normalize:
            lo, hi = float(t.min()), float(t.max())
            t = (t - lo) / (hi - lo) if hi > lo else np.zeros_like(t)
        r, c = divmod(i, ncols)
        z[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = t
        which[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = i
    return Mosaic(z, which, n, n_total)


def kernel_mosaic(layer: ConvLayer | nn.Conv2d, *, in_channel: int | None = None, max_kernels: int = 64) -> Mosaic:
    """The layer's kernels as a grid of raw weights: one tile per output map.

    A kernel of a deeper layer has one slice per input channel: ``in_channel`` picks
    one, ``None`` averages over them.
    """
    conv = layer.module if isinstance(layer, ConvLayer) else layer
    w = conv.weight.detach().float().cpu().numpy()            # (C_out, C_in, kh, kw)
    if in_channel is None:
        tiles = w.mean(axis=1)
    elif 0 <= in_channel < w.shape[1]:
        tiles = w[:, in_channel]
    else:
        raise DataError(f"the layer has input channels 0..{w.shape[1] - 1}, not {in_channel}",
                        fix="choose an input channel within the layer, or None for their mean")
    return mosaic(tiles, max_tiles=max_kernels, normalize=False)


def _conv_by_name(layers: Sequence[ConvLayer], name: str) -> ConvLayer:
    for layer in layers:
        if layer.name == name:
            return layer
    raise DataError(f"no conv layer named {name!r}", fix=f"use one of {[layer.name for layer in layers]}")


def _shown(mos: Mosaic) -> str:
    return f"{mos.n_tiles} of {mos.n_total}" if mos.n_tiles < mos.n_total else f"all {mos.n_total}"


def _mosaic_data(mos: Mosaic) -> dict:
    return dict(z=mos.z, customdata=mos.tile)


def _heatmap(data: dict, *, colorscale: str, zmid: float | None = None, what: str | None = None,
             name: str | None = None) -> go.Heatmap:
    hover = (what + " %{customdata}<br>" if what else "row %{y}, col %{x}<br>") + "value %{z:.3f}<extra></extra>"
    return go.Heatmap(colorscale=colorscale, zmid=zmid, showscale=zmid is not None, hovertemplate=hover, name=name,
                      **data)


# ---------------------------------------------------------------------- kernels

def kernels_view(layer: ConvLayer, *, in_channel: int | None = None, max_kernels: int = 64) -> tuple[dict, str]:
    """Trace data and title of :func:`kernels_figure` (a widget updates its live figure with them)."""
    mos = kernel_mosaic(layer, in_channel=in_channel, max_kernels=max_kernels)
    kh, kw = layer.module.kernel_size
    which = ("mean over its input channels" if in_channel is None and layer.module.in_channels > 1
             else f"input channel {in_channel or 0}")
    return _mosaic_data(mos), f"{layer.label}<br>{_shown(mos)} learned {kh}×{kw} kernels ({which})"


def kernels_figure(model: nn.Module, layer: str | None = None, *, in_channel: int | None = None,
                   max_kernels: int = 64) -> go.Figure:
    """The learned kernels of one conv layer (default: the first) as a grid; weights in blue (−) / red (+)."""
    layers = conv_layers(model)
    chosen = layers[0] if layer is None else _conv_by_name(layers, layer)
    data, title = kernels_view(chosen, in_channel=in_channel, max_kernels=max_kernels)
    fig = go.Figure([_heatmap(data, colorscale="RdBu_r", zmid=0.0, what="kernel", name="kernels")])
    image_axes(fig, 1)
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=360, margin=dict(l=10, r=10, t=60, b=10))
    return fig


# ----------------------------------------------------------------- feature maps

def feature_maps_view(fm: FeatureMaps, layer: str, *, max_maps: int = 16) -> tuple[dict, str]:
    """Trace data and title of :func:`feature_maps_figure`."""
    stack = fm.layer(layer)
    mos = mosaic(stack, max_tiles=max_maps)
    title = f"{layer}: {_shown(mos)} feature maps, {stack.shape[1]}×{stack.shape[2]} (each scaled to its own range)"
    return _mosaic_data(mos), title


def feature_maps_figure(fm: FeatureMaps, layer: str, *, max_maps: int = 16) -> go.Figure:
    """All feature maps of one layer for one image, as a grid."""
    data, title = feature_maps_view(fm, layer, max_maps=max_maps)
    fig = go.Figure([_heatmap(data, colorscale="Viridis", what="channel", name="feature maps")])
    image_axes(fig, 1)
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=380, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def _mosaic_picture(mos: Mosaic, *, colorscale: str, zmid: float | None = None,
                    extent: float | None = None) -> dict:
    return map_picture(mos.z, colorscale=colorscale, zmid=zmid, tile=mos.tile, extent=extent)


def _image(picture: dict, *, what: str | None = None, name: str | None = None, indexed: bool = False) -> go.Image:
    """A :func:`map_picture` as a trace; hover gives the pixel and its value (or which ``what`` and its value).

    ``indexed``: the picture was made with an ``extent`` (its hover values are (row, col, value))."""
    if what:
        hover = f"{what} %{{customdata[0]}}<br>value %{{customdata[1]:.3f}}"
    elif indexed:
        hover = "row %{customdata[0]}, col %{customdata[1]}<br>value %{customdata[2]:.3f}"
    else:
        hover = "row %{y}, col %{x}<br>value %{customdata:.3f}"
    return go.Image(hovertemplate=hover + "<extra></extra>", name=name, **picture)


def layer_view(fm: FeatureMaps, layer: ConvLayer, channel: int = 0, *,
               max_maps: int = 16) -> tuple[list[dict], list[str]]:
    """Pictures and panel titles of :func:`layer_figure`: input, one map, all maps, the kernels.

    Every panel spans the input's size in axis units (``extent``), so a new layer, whose maps, mosaic and
    kernels have other pixel counts, swaps pictures in the same boxes."""
    fmap = fm.channel(layer.name, channel)
    stack = fm.layer(layer.name)
    maps = mosaic(stack, max_tiles=max_maps)
    kernels = kernel_mosaic(layer, max_kernels=max_maps)
    kh, kw = layer.module.kernel_size
    h, w = fm.image.shape
    extent = max(h, w)
    return ([map_picture(fm.image, colorscale="gray"), map_picture(fmap, colorscale="Viridis", extent=extent),
             _mosaic_picture(maps, colorscale="Viridis", extent=extent),
             _mosaic_picture(kernels, colorscale="RdBu_r", zmid=0.0, extent=extent)],
            [f"input {h}×{w}", f"channel {channel}: {fmap.shape[0]}×{fmap.shape[1]}",
             f"{_shown(maps)} maps (each to its own range)",
             f"{_shown(kernels)} {kh}×{kw} kernels" + (" (mean over inputs)" if layer.module.in_channels > 1 else "")])


def layer_figure(fm: FeatureMaps, layer: ConvLayer, channel: int = 0, *, max_maps: int = 16) -> go.Figure:
    """One layer at a glance for one image: the input, one chosen map, all its maps, its kernels
    (grey, Viridis, Viridis, blue − / red + about 0)."""
    (image, fmap, maps, kernels), titles = layer_view(fm, layer, channel, max_maps=max_maps)
    fig = make_subplots(rows=1, cols=4, subplot_titles=titles, horizontal_spacing=0.03)
    fig.add_trace(_image(image, name="input"), row=1, col=1)
    fig.add_trace(_image(fmap, name="feature map", indexed=True), row=1, col=2)
    fig.add_trace(_image(maps, what="channel", name="feature maps"), row=1, col=3)
    fig.add_trace(_image(kernels, what="kernel", name="kernels"), row=1, col=4)
    image_axes(fig, 4)
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=70, b=10),
                      title=dict(text=layer.label, font=dict(size=13)))
    return fig


def early_vs_deep_view(fm: FeatureMaps, early: str, deep: str, *, max_maps: int = 9) -> tuple[list[dict], list[str]]:
    """Pictures and panel titles of :func:`early_vs_deep_figure`."""
    e, d = fm.layer(early), fm.layer(deep)
    return ([map_picture(fm.image, colorscale="gray"),
             _mosaic_picture(mosaic(e, max_tiles=max_maps), colorscale="Viridis"),
             _mosaic_picture(mosaic(d, max_tiles=max_maps), colorscale="Viridis")],
            ["input", f"early: {early} ({e.shape[1]}×{e.shape[2]})", f"deep: {deep} ({d.shape[1]}×{d.shape[2]})"])


def early_vs_deep_figure(fm: FeatureMaps, early: str, deep: str, *, max_maps: int = 9) -> go.Figure:
    """Early maps (edges, textures, still image-like) beside deep ones (coarse, abstract: 'lesion here?')."""
    (image, e, d), titles = early_vs_deep_view(fm, early, deep, max_maps=max_maps)
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.04)
    fig.add_trace(_image(image, name="input"), row=1, col=1)
    fig.add_trace(_image(e, what="channel", name="early maps"), row=1, col=2)
    fig.add_trace(_image(d, what="channel", name="deep maps"), row=1, col=3)
    image_axes(fig, 3)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig
