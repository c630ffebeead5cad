"""The hand-written convolution, pooling and activations agree with torch, and the figures show them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from radlab.errors import DataError
from radlab.viz import conv as C
from figures import assert_heatmap_colours, trace_named

RNG = np.random.default_rng(0)


def shown(fig, name: str) -> np.ndarray:
    """The values a live panel shows: its picture's hover values (row, col, value)."""
    return C.from_plotly_array(trace_named(fig, name).customdata)[..., 2]


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_conv2d_by_hand_equals_torch_conv2d(stride: int, padding: int, k: int):
    image = RNG.normal(size=(13, 11)).astype(np.float32)
    kern = RNG.normal(size=(k, k)).astype(np.float32)
    ours = C.conv2d(image, kern, stride=stride, padding=padding, bias=0.5)
    ref = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(kern)[None, None],
                   torch.tensor([0.5]), stride=stride, padding=padding)[0, 0].numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-4)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_conv_layer_with_several_kernels_and_channels_equals_torch(stride: int, padding: int):
    x = RNG.normal(size=(3, 12, 12)).astype(np.float32)
    weight = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    bias = RNG.normal(size=4).astype(np.float32)
    ours = C.conv2d_layer(x, weight, bias, stride=stride, padding=padding)
    ref = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weight), torch.from_numpy(bias),
                   stride=stride, padding=padding)[0].numpy()
    assert ours.shape[0] == 4, "one feature map per kernel"
    np.testing.assert_allclose(ours, ref, atol=1e-4)


@pytest.mark.parametrize("size,stride", [(2, None), (3, None), (2, 1), (3, 2)])
def test_max_pool_by_hand_equals_torch_max_pool2d(size: int, stride: int | None):
    fmap = RNG.normal(size=(11, 10)).astype(np.float32)
    ours = C.max_pool2d(fmap, size, stride)
    ref = F.max_pool2d(torch.from_numpy(fmap)[None, None], size, stride)[0, 0].numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref)


def test_global_average_pool_equals_adaptive_avg_pool_to_one_pixel():
    fmaps = RNG.normal(size=(5, 7, 9)).astype(np.float32)
    ref = F.adaptive_avg_pool2d(torch.from_numpy(fmaps)[None], 1)[0, :, 0, 0].numpy()
    np.testing.assert_allclose(C.global_average_pool(fmaps), ref, atol=1e-6)


def test_activations_and_softmax_equal_torch():
    x = RNG.normal(scale=4, size=50).astype(np.float32)
    t = torch.from_numpy(x)
    np.testing.assert_allclose(C.relu(x), F.relu(t).numpy())
    np.testing.assert_allclose(C.sigmoid(x), torch.sigmoid(t).numpy(), atol=1e-6)
    np.testing.assert_allclose(C.tanh(x), torch.tanh(t).numpy(), atol=1e-6)
    np.testing.assert_allclose(C.leaky_relu(x, 0.1), F.leaky_relu(t, 0.1).numpy(), atol=1e-6)
    np.testing.assert_allclose(C.softmax(x.reshape(5, 10)), torch.softmax(t.reshape(5, 10), -1).numpy(), atol=1e-6)


@pytest.mark.parametrize("n,k,p,s", [(64, 3, 1, 2), (64, 5, 2, 1), (28, 3, 0, 1), (10, 3, 0, 3), (7, 7, 0, 1)])
def test_output_size_formula_matches_the_map_torch_makes(n: int, k: int, p: int, s: int):
    out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p)
    assert C.output_size(n, k, p, s) == out.shape[-1]
    assert C.output_size_formula(n, k, p, s).split("= ")[-1].split(" → ")[-1].split(" ")[0] == str(out.shape[-1])


def test_output_size_formula_is_written_out_with_the_numbers():
    assert C.output_size_formula(64, 3, 1, 2) == "(n + 2p − k)/s + 1 = (64 + 2·1 − 3)/2 + 1 = 32.5 → 32 (rounded down)"
    assert C.output_size_formula(64, 3, 1, 1).endswith("= 64")


def test_output_size_rejects_a_kernel_bigger_than_the_padded_image():
    with pytest.raises(DataError, match="does not fit"):
        C.output_size(3, 5, 0, 1)


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1), (3, 2)])
def test_each_step_sums_its_products_into_the_feature_map_entry(stride: int, padding: int):
    image = RNG.normal(size=(9, 9)).astype(np.float32)
    kern = RNG.normal(size=(3, 3)).astype(np.float32)
    fmap = C.conv2d(image, kern, stride=stride, padding=padding)
    for position in range(fmap.size):
        step = C.conv_step(image, kern, position, stride=stride, padding=padding)
        np.testing.assert_allclose(step.products, step.patch * kern)
        assert step.value == pytest.approx(float(step.products.sum()), abs=1e-5)
        assert step.value == pytest.approx(float(fmap[step.row, step.col]), abs=1e-4)
    assert step.n_positions == fmap.size and (step.row, step.col) == (fmap.shape[0] - 1, fmap.shape[1] - 1)


def test_a_step_outside_the_feature_map_is_refused():
    with pytest.raises(DataError, match="outside"):
        C.conv_step(np.zeros((5, 5)), np.zeros((3, 3)), 9)


def test_presets_do_what_their_names_say():
    image = np.zeros((10, 10), dtype=np.float32)
    image[:, 5:] = 1.0                                      # one vertical edge between columns 4 and 5
    np.testing.assert_allclose(C.conv2d(image, C.kernel("identity"), padding=1), image)
    vertical = C.conv2d(image, C.kernel("edge: Sobel x (vertical edges)"))
    horizontal = C.conv2d(image, C.kernel("edge: Sobel y (horizontal edges)"))
    assert np.abs(vertical).max() > 0 and np.abs(horizontal).max() == 0
    for blur in ("blur: box", "blur: Gaussian"):
        assert C.kernel(blur).sum() == pytest.approx(1.0), "a blur keeps the mean brightness"


def test_pipeline_applies_activation_then_pooling():
    image = RNG.normal(size=(16, 16)).astype(np.float32)
    p = C.run_pipeline(image, C.kernel("edge: Laplacian"), stride=1, padding=1, pool_size=2, activation="ReLU")
    assert p.feature_map.shape == (16, 16) and p.pooled.shape == (8, 8)
    assert p.feature_map.min() >= 0
    np.testing.assert_allclose(p.pooled, C.max_pool2d(p.feature_map, 2))
    assert C.pipeline_titles(p)[2] == "max pool 2×2: 8×8"


def test_pipeline_figure_shows_the_computed_maps():
    image = RNG.normal(size=(16, 16)).astype(np.float32)
    p = C.run_pipeline(image, C.kernel("sharpen"), stride=2, padding=1, pool_size=2)
    fig = C.pipeline_figure(p)
    np.testing.assert_allclose(shown(fig, "feature map"), p.feature_map)
    np.testing.assert_allclose(shown(fig, "pooled map"), p.pooled)
    assert "8×8" in fig.layout.annotations[1].text


def test_step_figure_outlines_the_patch_and_writes_the_sum():
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    step = C.conv_step(image, C.kernel("blur: box"), 7, padding=1)
    fmap = C.feature_map_so_far(C.conv2d(image, step.kernel, padding=1), 7)
    fig = C.conv_step_figure(step, fmap)
    window = trace_named(fig, "kernel window")
    n = step.padded.shape[0]
    assert (min(window.x), min(window.y)) == (C.pixel_to_panel(step.left - 0.5, n), C.pixel_to_panel(step.top - 0.5, n))
    np.testing.assert_allclose(shown(fig, "products"), step.products)
    assert f"{step.value:.3f}" in fig.layout.annotations[4].text
    assert np.isnan(fmap.ravel()[8:]).all() and not np.isnan(fmap.ravel()[:8]).any()


def test_panels_are_pictures_coloured_as_heatmaps_with_their_numbers_in_the_cells():
    """The playground's panels: each map a picture coloured as plotly's heatmap of it (RdBu_r about 0),
    hovering (row, col, value), with its numbers (2 decimals) written in its cells in the heatmap's
    contrast colours, and a fixed number of labels (blanks after the cells) whatever the map's size."""
    image = np.zeros((10, 10), dtype=np.float32)
    image[3:7, 2:8] = 1.0
    p = C.run_pipeline(image, C.kernel("edge: Sobel x (vertical edges)"), stride=1, padding=1, pool_size=2)
    fig = C.pipeline_figure(p)
    fmap = trace_named(fig, "feature map")
    assert_heatmap_colours(fmap.source, p.feature_map, "RdBu_r", zmid=0)
    assert_heatmap_colours(trace_named(fig, "image").source, p.image, "gray")
    hover = C.from_plotly_array(fmap.customdata)
    assert hover[4, 7].tolist() == [4, 7, pytest.approx(float(p.feature_map[4, 7]))]
    labels = trace_named(fig, "feature map numbers")
    assert labels.mode == "text" and labels.hoverinfo == "skip" and len(labels.text) == C.LABEL_CAPACITY
    assert list(labels.text[:3]) == [C._short_number(v) or " " for v in p.feature_map[0, :3]]
    assert labels.text[4 * 10 + 7] == C._short_number(p.feature_map[4, 7])
    assert set(labels.text[100:]) == {" "}, "blanks after the 100 cells"
    # white on the darkest blue and red cells, dark grey on the near-white zeros
    colours = np.asarray(labels.textfont.color[:100]).reshape(10, 10)
    assert colours[p.feature_map == p.feature_map.max()].tolist()[0] == "#fff"
    assert colours[p.feature_map == p.feature_map.min()].tolist()[0] == "#fff"
    assert colours[p.feature_map == 0].tolist()[0] == "#444"
    # each label sits on its cell's centre; cell (4, 7) of a 10-pixel map in a PANEL_EXTENT box
    assert (labels.x[47], labels.y[47]) == (pytest.approx(C.pixel_to_panel(7, 10)), pytest.approx(C.pixel_to_panel(4, 10)))

    big = C.run_pipeline(RNG.random((32, 32), dtype=np.float32), C.kernel("sharpen"), stride=2, padding=0, pool_size=1)
    big_fig = C.pipeline_figure(big)
    assert set(trace_named(big_fig, "feature map numbers").text) == {" "}, "15×15: too many numbers to read"
    assert len(trace_named(big_fig, "feature map numbers").text) == C.LABEL_CAPACITY
    for fig_ in (fig, big_fig):   # every panel spans the same box: another size is swapped in place
        for name in ("image", "feature map", "pooled map"):
            t = trace_named(fig_, name)
            n = max(C.from_plotly_array(t.customdata).shape[:2])
            assert (t.x0 - t.dx / 2, t.x0 - t.dx / 2 + n * t.dx) == (pytest.approx(-0.5), pytest.approx(C.PANEL_EXTENT - 0.5))
        assert fig_.layout.xaxis2.range == (-0.5, C.PANEL_EXTENT - 0.5) and fig_.layout.yaxis2.autorange is False


def test_plotly_array_round_trips_including_gaps():
    a = RNG.normal(size=(4, 5)).astype(np.float32)
    a[1, 2] = np.nan
    back = C.from_plotly_array(C.plotly_array(a))
    np.testing.assert_array_equal(back, a)
    ints = np.arange(6, dtype=np.int64).reshape(2, 3)
    np.testing.assert_array_equal(C.from_plotly_array(C.plotly_array(ints)), ints)


def test_teaching_figures_have_data():
    image = RNG.normal(size=(12, 12)).astype(np.float32)
    bank = C.kernel_bank_figure(image, {n: C.kernel(n) for n in list(C.KERNELS)[:3]}, padding=1)
    assert len(bank.data) == 3, "three kernels, three feature maps"
    assert len(C.padding_stride_figure(image, C.kernel("sharpen")).data) == 4
    pooling = C.pooling_figure(image, 2)
    assert np.asarray(trace_named(pooling, "global average pool").z)[0, 0] == pytest.approx(float(image.mean()), abs=1e-6)
    assert [t.name for t in C.activations_figure().data] == list(C.ACTIVATIONS)
    bars = C.softmax_vs_sigmoid_figure([2.0, 1.0, -1.0], ["a", "b", "c"])
    assert np.sum(trace_named(bars, "softmax").y) == pytest.approx(1.0)
    assert np.sum(trace_named(bars, "sigmoid").y) > 1.0, "sigmoid outputs are independent: they need not sum to 1"


def test_a_shift_survives_pooling_inside_a_block_but_not_across_a_boundary():
    from radlab.conv import pooled_column, shift_survival

    assert pooled_column(2) == pooled_column(3) == 1          # inside one 2×2 block: same pooled column
    assert pooled_column(4) == 2                               # across the boundary: the answer moves
    fmap = np.random.default_rng(0).random((8, 8))
    assert shift_survival(fmap, 2) == 1.0                      # two pixels = exactly one pooled pixel
    assert shift_survival(fmap, 1) < 1.0
