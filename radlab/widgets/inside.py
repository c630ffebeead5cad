"""Lab 6 — Inside the CNN: the kernels a trained model learned and the feature maps it makes.

Pick an image, a conv layer and a channel: the lab shows that channel's map beside the
image, every map of the layer as a grid, the layer's kernels, and the first layer's
maps beside the last layer's (edges early, coarse 'is there a lesion here' maps deep).
The model runs once per image (forward hooks, cached); changing layer or channel only
re-slices the stored maps.
"""
from __future__ import annotations

import html
from typing import Mapping, Sequence

import ipywidgets as W
import numpy as np
import torch
from torch import nn

from radlab.course.lab06_inside_the_cnn import exercises as lab_exercises
from radlab.errors import DataError
from radlab.viz import model as V
from radlab.viz.conv import sigmoid, softmax
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.figure import Figure


def _as_images(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N, H, W) or (N, C, H, W) images as a float32 array (N, C, H, W)."""
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    x = x.astype(np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or len(x) == 0:
        raise DataError(f"expected images (N, H, W) or (N, C, H, W), got shape {x.shape}",
                        fix="pass a stack of images, e.g. the test split's x")
    return x


class InsideCNNLab(W.VBox):
    """Kernels and feature maps of a trained CNN, per layer and channel, for a chosen image."""

    def __init__(self, model: nn.Module, images: np.ndarray | torch.Tensor, *,
                 labels: Sequence[int] | np.ndarray | None = None,
                 class_names: Mapping[int, str] | Sequence[str] | None = None, max_maps: int = 16):
        self.model = model
        self.images = _as_images(images)
        self.labels = None if labels is None else np.asarray(labels).reshape(len(self.images), -1)[:, 0]
        self.class_names = (dict(enumerate(class_names)) if isinstance(class_names, Sequence)
                            else dict(class_names or {}))
        self.max_maps = max_maps
        self.layers = V.conv_layers(model)
        self.layer_names = [layer.name for layer in self.layers]
        self.extractor = V.FeatureMapExtractor(model, self.layer_names)
        self._busy = False

        style = {"description_width": "70px"}
        self.image_slider = W.IntSlider(value=0, min=0, max=max(len(self.images) - 1, 1), description="image",
                                        style=style, disabled=len(self.images) == 1)
        self.layer_dropdown = W.Dropdown(options=[(layer.label, layer.name) for layer in self.layers],
                                         value=self.layer_names[0], description="layer", style=style,
                                         layout=W.Layout(width="520px"))
        self.channel_slider = W.IntSlider(value=0, min=0, max=max(self.layers[0].n_kernels - 1, 1),
                                          description="channel", style=style)
        self.prediction = W.HTML()

        fm = self.feature_maps()
        # FigureWidget rule: every trace goes in at construction; later only fig.data[i] changes.
        # Every map is a picture: a new image or channel swaps pictures in the browser (same sizes).
        self.layer_fig = Figure(V.layer_figure(fm, self.layer, 0, max_maps=max_maps))
        self.depth_fig = Figure(V.early_vs_deep_figure(fm, self.layer_names[0], self.layer_names[-1]))
        self.prediction.value = self._prediction_html(fm)

        self.image_slider.observe(lambda _c: self.refresh_image(), names="value")
        self.layer_dropdown.observe(lambda _c: self.refresh_layer(), names="value")
        self.channel_slider.observe(lambda _c: None if self._busy else self.refresh_layer_figure(), names="value")

        self.exercises = lab_exercises(self)  # the lab's ExerciseSet (labs/NN_name)
        self.exercise_panel = exercise_panel(self.exercises)
        super().__init__([
            W.HBox([self.image_slider, self.prediction]),
            W.HBox([self.layer_dropdown, self.channel_slider]),
            self.layer_fig,
            W.HTML("<b>Early vs deep</b>: the first conv layer's maps beside the last one's, for the same image."),
            self.depth_fig,
            self.exercise_panel,
        ])

    # ----------------------------------------------------------------- state
    @property
    def index(self) -> int:
        """The chosen image's index, clamped to the images there are."""
        return int(np.clip(self.image_slider.value, 0, len(self.images) - 1))

    @property
    def layer(self) -> V.ConvLayer:
        """The chosen conv layer (a dropdown value is checked against the model's layers)."""
        name = self.layer_dropdown.value
        if name not in self.layer_names:
            raise DataError(f"unknown layer {name!r}", fix=f"choose one of {self.layer_names}")
        return self.layers[self.layer_names.index(name)]

    @property
    def channel(self) -> int:
        """The chosen channel, clamped to the layer's number of maps."""
        return int(np.clip(self.channel_slider.value, 0, self.layer.n_kernels - 1))

    def feature_maps(self) -> V.FeatureMaps:
        """Every conv layer's maps for the chosen image (one forward pass per image, then cached)."""
        return self.extractor.extract(self.images[self.index])

    def _prediction_html(self, fm: V.FeatureMaps) -> str:
        logits = fm.logits
        if logits.size == 1:
            p = float(sigmoid(logits[0]))
            cls, prob = (1, p) if p >= 0.5 else (0, 1 - p)
        else:
            probs = softmax(logits)
            cls, prob = int(np.argmax(probs)), float(np.max(probs))
        name = html.escape(str(self.class_names.get(cls, f"class {cls}")))
        text = f"model says <b>{name}</b> ({prob:.0%})"
        if self.labels is not None:
            true = int(self.labels[self.index])
            text += f"; label: <b>{html.escape(str(self.class_names.get(true, f'class {true}')))}</b>"
        return text

    # -------------------------------------------------------------- redraws
    def refresh_layer_figure(self) -> None:
        """Redraw the chosen layer's figure: a slice of the cached maps, as pictures (plotly sends only what changed)."""
        layer = self.layer
        traces, titles = V.layer_view(self.feature_maps(), layer, self.channel, max_maps=self.max_maps)
        with self.layer_fig.batch_update():
            for trace, data in zip(self.layer_fig.data, traces):
                trace.update(data)
            for annotation, title in zip(self.layer_fig.layout.annotations, titles):
                annotation.text = title
            self.layer_fig.layout.title.text = layer.label

    def refresh_layer(self) -> None:
        """A new layer: its channel range, then its figure."""
        self._busy = True              # the slider's own redraw would come before the new range is set
        try:
            self.channel_slider.max = max(self.layer.n_kernels - 1, 1)   # clamps the value if it was larger
        finally:
            self._busy = False
        self.refresh_layer_figure()

    def refresh_image(self) -> None:
        """A new image: one forward pass, then both figures and the prediction."""
        fm = self.feature_maps()
        self.refresh_layer_figure()
        traces, titles = V.early_vs_deep_view(fm, self.layer_names[0], self.layer_names[-1])
        with self.depth_fig.batch_update():
            for trace, data in zip(self.depth_fig.data, traces):
                trace.update(data)
            for annotation, title in zip(self.depth_fig.layout.annotations, titles):
                annotation.text = title
        self.prediction.value = self._prediction_html(fm)
