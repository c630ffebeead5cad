"""Kernels and feature maps of a CNN: hooks give each layer's output, cached per image."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from radlab.errors import DataError
from radlab.viz import model as V
from figures import assert_heatmap_colours, trace_named
from radlab.viz.conv import from_plotly_array


class SmallCNN(nn.Module):
    """A GapCNN-shaped network (conv blocks, global average pooling, linear head) for the tests."""

    def __init__(self, widths=(4, 8, 8)):
        super().__init__()
        blocks, c_in = [], 1
        for c_out in widths:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                                        nn.ReLU(inplace=True), nn.MaxPool2d(2)))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(c_in, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


@pytest.fixture()
def model() -> SmallCNN:
    torch.manual_seed(0)
    return SmallCNN()


def test_conv_layers_are_listed_in_order_with_readable_labels(model):
    layers = V.conv_layers(model)
    assert [layer.name for layer in layers] == ["features.0.0", "features.1.0", "features.2.0"]
    assert layers[0].label == "conv 1 · features.0.0 · 1→4 maps · 3×3"
    assert [layer.n_kernels for layer in layers] == [4, 8, 8]


def test_a_model_without_convolutions_is_refused():
    with pytest.raises(DataError, match="no Conv2d"):
        V.conv_layers(nn.Linear(3, 1))


def test_feature_maps_have_each_layers_shape(model):
    image = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    fm = V.feature_maps(model, image)
    assert {name: m.shape for name, m in fm.maps.items()} == {
        "features.0.0": (4, 32, 32), "features.1.0": (8, 16, 16), "features.2.0": (8, 8, 8)}
    with torch.no_grad():
        expected_first = model.features[0][0](torch.from_numpy(image)[None, None])[0].numpy()
        expected_logits = model.eval()(torch.from_numpy(image)[None, None])[0].numpy()
    np.testing.assert_allclose(fm.layer("features.0.0"), expected_first, atol=1e-5)
    np.testing.assert_allclose(fm.logits, expected_logits, atol=1e-5)


def test_any_named_layer_can_be_hooked_and_keeps_its_own_output(model):
    image = np.random.default_rng(2).random((16, 16), dtype=np.float32)
    fm = V.feature_maps(model, image, ["features.1.1", "features.1.2"])      # batch norm, then in-place ReLU
    assert fm.layer("features.1.2").shape == (8, 8, 8) and fm.layer("features.1.2").min() >= 0
    assert fm.layer("features.1.1").min() < 0, "the in-place ReLU must not overwrite the stored batch-norm output"
    with pytest.raises(DataError, match="no layer named"):
        V.feature_maps(model, np.zeros((16, 16)), ["features.9"])


def test_extraction_leaves_no_hooks_and_keeps_the_training_mode(model):
    model.train()
    V.feature_maps(model, np.zeros((16, 16), dtype=np.float32))
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_extractor_runs_the_model_once_per_image(model):
    ex = V.FeatureMapExtractor(model)
    a, b = np.zeros((16, 16), dtype=np.float32), np.ones((16, 16), dtype=np.float32)
    first = ex.extract(a)
    for _ in range(3):
        assert ex.extract(a) is first
    ex.extract(b)
    assert ex.forward_passes == 2
    assert first.channel("features.1.0", 3).shape == (8, 8)
    with pytest.raises(DataError, match="channels 0..7"):
        first.channel("features.1.0", 8)


def test_mosaic_places_each_tile_and_leaves_gaps():
    tiles = np.stack([np.full((2, 3), i, dtype=np.float32) for i in range(5)])
    mos = V.mosaic(tiles, normalize=False, ncols=3)
    assert mos.z.shape == (2 * 2 + 1, 3 * 3 + 2)
    assert mos.z[0, 0] == 0 and mos.z[0, 4] == 1 and mos.z[3, 4] == 4
    assert np.isnan(mos.z[2]).all(), "a blank row between tile rows"
    assert mos.tile[3, 4] == 4 and mos.tile[2, 0] == -1
    assert V.mosaic(tiles, max_tiles=2).n_tiles == 2 and V.mosaic(tiles, max_tiles=2).n_total == 5


def test_kernels_figure_shows_the_layers_weights(model):
    fig = V.kernels_figure(model, "features.0.0")
    weights = model.features[0][0].weight.detach().numpy()[:, 0]
    z = np.asarray(trace_named(fig, "kernels").z, dtype=float)
    np.testing.assert_allclose(z[0:3, 0:3], weights[0], atol=1e-6)
    np.testing.assert_allclose(z[0:3, 4:7], weights[1], atol=1e-6)
    deep = V.kernels_figure(model, "features.1.0")
    assert "mean over its input channels" in deep.layout.title.text


def test_feature_map_figures_show_the_chosen_layer_and_channel(model):
    image = np.random.default_rng(1).random((32, 32), dtype=np.float32)
    fm = V.feature_maps(model, image)
    layer = V.conv_layers(model)[1]
    single = V.layer_figure(fm, layer, 5)
    hover = from_plotly_array(trace_named(single, "feature map").customdata)   # (row, col, value) per pixel
    np.testing.assert_allclose(hover[..., 2], fm.channel("features.1.0", 5))
    np.testing.assert_array_equal(hover[3, 7, :2], [3, 7])
    assert "row %{customdata[0]}, col %{customdata[1]}" in trace_named(single, "feature map").hovertemplate
    assert "16×16" in single.layout.annotations[1].text and single.layout.title.text == layer.label
    hover = from_plotly_array(trace_named(single, "feature maps").customdata)
    assert hover.shape == (3 * 16 + 2, 3 * 16 + 2, 2), "8 maps of 16×16 on a 3×3 grid: (tile, value) per pixel"
    assert "mean over inputs" in single.layout.annotations[3].text
    grid = V.feature_maps_figure(fm, "features.2.0")
    assert np.asarray(trace_named(grid, "feature maps").z).shape == (3 * 8 + 2, 3 * 8 + 2)
    depth = V.early_vs_deep_figure(fm, "features.0.0", "features.2.0")
    assert len(depth.data) == 3 and "early" in depth.layout.annotations[1].text


def test_live_pictures_colour_and_hover_as_the_heatmaps_did(model):
    """Lab 6's maps are pictures: coloured as plotly's heatmap of the same values (grey, Viridis, and
    blue/red about 0 for kernels; the gaps white), hovering each pixel's value, and a mosaic's tile."""
    fm = V.feature_maps(model, np.random.default_rng(2).random((32, 32), dtype=np.float32))
    layer = V.conv_layers(model)[1]
    fig = V.layer_figure(fm, layer, 3)
    maps, kernels = V.mosaic(fm.layer("features.1.0")), V.kernel_mosaic(layer, max_kernels=16)
    for name, values, scale, zmid in (("input", fm.image, "gray", None),
                                      ("feature map", fm.channel("features.1.0", 3), "Viridis", None),
                                      ("feature maps", maps.z, "Viridis", None), ("kernels", kernels.z, "RdBu_r", 0.0)):
        trace = trace_named(fig, name)
        assert trace.type == "image"
        assert_heatmap_colours(trace.source, values, scale, zmid)
        # every panel spans the input's 32 pixels (-0.5 to 31.5), whatever its own pixel count
        side = max(np.shape(values))
        assert trace.dx == trace.dy == pytest.approx(32 / side)
        assert trace.x0 - trace.dx / 2 == trace.y0 - trace.dy / 2 == pytest.approx(-0.5)
        assert trace.x0 - trace.dx / 2 + side * trace.dx == pytest.approx(31.5)
    hover = from_plotly_array(trace_named(fig, "feature maps").customdata)
    np.testing.assert_array_equal(hover[..., 0], maps.tile)
    np.testing.assert_array_equal(hover[..., 1], maps.z)
    assert "channel %{customdata[0]}" in trace_named(fig, "feature maps").hovertemplate
    depth = V.early_vs_deep_figure(fm, "features.0.0", "features.2.0", max_maps=9)
    early = V.mosaic(fm.layer("features.0.0"), max_tiles=9)
    assert_heatmap_colours(trace_named(depth, "early maps").source, early.z, "Viridis")
