"""CAM, Grad-CAM and saliency: checked against pytorch-grad-cam and captum, and against lesion masks.

The models here are tiny GAP-headed CNNs (conv → ReLU → pool → conv → ReLU → GAP → linear)
built in this file, so the tests run in seconds and do not depend on radlab.models. The
helpers ``tiny_gap_model``, ``lesion_images`` and ``trained_lesion_model`` are shared with the
attack and widget tests.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn

from radlab import explain as E
from radlab.errors import DataError


class TinyGapNet(nn.Module):
    """features → global average pooling → linear: the shape CAM needs."""

    def __init__(self, num_classes: int = 1, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Linear(2 * width, num_classes)
        self.last_conv = self.features[7]    # the maps GAP averages, like GapCNN's last block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


class FlattenNet(nn.Module):
    """A CNN with a flatten → linear head: Grad-CAM works, CAM does not."""

    def __init__(self, size: int = 16):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(4 * (size // 2) ** 2, 1)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def tiny_gap_model(num_classes: int = 1, seed: int = 0) -> TinyGapNet:
    """A randomly initialised TinyGapNet in eval mode."""
    torch.manual_seed(seed)
    return TinyGapNet(num_classes).eval()


def lesion_images(n: int = 96, size: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy [0, 1] images, half with a bright disk 'lesion': (images (N,H,W), labels (N,), masks (N,H,W)).

    Each image has its own background brightness, so only the local disk tells the classes apart.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = rng.normal(0.0, 0.05, (n, size, size)) + rng.uniform(0.2, 0.5, (n, 1, 1))
    labels = (np.arange(n) % 2).astype(np.int64)
    masks = np.zeros((n, size, size), bool)
    for i in np.flatnonzero(labels):
        r = rng.uniform(2.5, 4.5)
        cy, cx = rng.uniform(r + 2, size - r - 2, 2)
        masks[i] = (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2
    images = np.clip(images + 0.5 * masks, 0, 1).astype(np.float32)
    return images, labels, masks


@functools.cache
def trained_lesion_model(seed: int = 0) -> tuple[TinyGapNet, np.ndarray, np.ndarray, np.ndarray]:
    """A TinyGapNet trained (full batch, a few seconds) to find the disks.

    Returns (model, x, labels, masks) of 48 held-out images.
    """
    images, labels, masks = lesion_images(160, seed=seed)
    x = torch.from_numpy(images)[:, None]
    y = torch.from_numpy(labels).float()
    torch.manual_seed(seed)
    model = TinyGapNet()
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                # tiny batches: one thread is faster on a shared machine
    try:
        for _ in range(50):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(model(x[:112])[:, 0], y[:112])
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return model, x[112:].numpy(), labels[112:], masks[112:]


def random_input(n: int = 3, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ agreement with peers

@pytest.mark.parametrize("num_classes,target", [(1, 1), (1, 0), (3, 2)])
def test_grad_cam_equals_captum_layer_grad_cam_before_normalisation(num_classes, target):
    from captum.attr import LayerGradCam

    model, x = tiny_gap_model(num_classes), random_input()
    layer = model.features[3]
    ours = E.GradCAM(model, "features.3").raw(x, target=target)
    captum_target = 0 if num_classes == 1 else target
    theirs = LayerGradCam(model, layer).attribute(x, target=captum_target)[:, 0]
    if num_classes == 1 and target == 0:
        theirs = -theirs                    # binary class 0 scores -logit: every weight flips sign
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("num_classes,target", [(1, None), (3, 1)])
def test_grad_cam_equals_pytorch_grad_cam_after_normalisation(num_classes, target):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x = tiny_gap_model(num_classes), random_input()
    ours = E.grad_cam(model, x, target=target, layer=model.last_conv)
    # pytorch-grad-cam: ReLU, min-max at layer size, cv2 bilinear resize, min-max again (eps 1e-7).
    # Min-max commutes with bilinear resizing (weights sum to 1), so only the eps differs.
    with GradCAM(model, [model.last_conv]) as reference:
        theirs = reference(x, targets=[ClassifierOutputTarget(0 if target is None else target)] * len(x))
    assert ours.shape == theirs.shape == (3, 32, 32)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_cam_is_grad_cam_at_the_gap_input_up_to_a_constant():
    model, x = tiny_gap_model(), random_input()
    raw_cam = E.CAM(model).raw(x)
    raw_grad_cam = E.GradCAM(model, model.features).raw(x)
    h, w = raw_cam.shape[-2:]
    # ∂logit/∂A_k(i, j) = w_k / (h·w) everywhere, so Grad-CAM = CAM / (h·w) exactly
    torch.testing.assert_close(raw_grad_cam * h * w, raw_cam, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(E.cam(model, x), E.grad_cam(model, x, layer="features"), atol=1e-5)


def test_cam_of_class_zero_is_minus_the_lesion_cam_in_a_binary_model():
    model, x = tiny_gap_model(), random_input()
    torch.testing.assert_close(E.CAM(model).raw(x, target=0), -E.CAM(model).raw(x, target=1))


def test_multiclass_cam_defaults_to_the_predicted_class():
    model, x = tiny_gap_model(num_classes=3), random_input()
    predicted = model(x).argmax(1)
    np.testing.assert_allclose(E.cam(model, x), E.cam(model, x, target=predicted), atol=0)
    other = (predicted + 1) % 3
    assert not np.allclose(E.cam(model, x), E.cam(model, x, target=other))


def test_saliency_equals_captum_saliency_after_normalisation():
    from captum.attr import Saliency

    model, x = tiny_gap_model(), random_input()
    theirs = Saliency(model).attribute(x, target=0, abs=True)[:, 0].numpy()
    theirs = (theirs - theirs.min(axis=(1, 2), keepdims=True))
    theirs /= theirs.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(E.saliency(model, x), theirs, atol=1e-5)


# ------------------------------------------------------------------- map properties

@pytest.mark.parametrize("method", list(E.METHODS))
def test_every_method_gives_image_sized_maps_in_zero_one(method):
    model, x = tiny_gap_model(), random_input(n=2, size=24)
    maps = E.explain(model, x, method)
    assert maps.shape == (2, 24, 24) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert np.allclose(maps.max(axis=(1, 2)), 1.0)


def test_smoothgrad_is_smoother_than_plain_saliency():
    model, x = trained_lesion_model()[0], trained_lesion_model()[1][:4]
    plain, smooth = E.saliency(model, x), E.saliency(model, x, smooth_samples=16, noise_level=0.2)
    roughness = lambda m: np.abs(np.diff(m, axis=-1)).mean()   # noqa: E731
    assert roughness(smooth) < roughness(plain)


def test_explaining_leaves_the_model_in_its_training_mode():
    model = tiny_gap_model().train()
    E.grad_cam(model, random_input())
    assert model.training


def test_layer_is_chosen_by_name_and_a_wrong_name_lists_the_conv_layers():
    model, x = tiny_gap_model(), random_input()
    np.testing.assert_allclose(E.grad_cam(model, x, layer="features.3"),
                               E.grad_cam(model, x, layer=model.features[3]))
    with pytest.raises(DataError, match="features.0"):
        E.grad_cam(model, x, layer="features.99")
    with pytest.raises(DataError, match="conv layer"):
        E.grad_cam(model, x, layer="classifier")       # no spatial maps there
    assert E.find_layer(model) is model.last_conv
    assert E.conv_layer_names(model) == ["features.0", "features.3", "features.6"]
    assert E.explainable_layers(model) == [f"features.{i}" for i in range(8)]


def test_cam_refuses_a_model_without_a_gap_head_but_grad_cam_works():
    model, x = FlattenNet(), random_input(size=16)
    with pytest.raises(DataError, match="grad_cam"):
        E.cam(model, x)
    assert E.grad_cam(model, x).shape == (3, 16, 16)
    assert not E.has_gap_head(model) and E.has_gap_head(tiny_gap_model())


# ------------------------------------------------------------- scores against masks

def test_pointing_game_counts_peaks_inside_the_mask_with_tolerance():
    heat = np.zeros((2, 8, 8), np.float32)
    masks = np.zeros((2, 8, 8), bool)
    masks[:, 2:4, 2:4] = True
    heat[0, 3, 3] = 1.0                     # inside
    heat[1, 3, 5] = 1.0                     # two pixels right of the mask
    assert E.pointing_game(heat, masks) == 0.5
    assert E.pointing_game(heat, masks, tolerance=2) == 1.0
    assert E.pointing_game(heat, masks, tolerance=1.5) == 0.5


def test_scores_skip_images_without_a_lesion_and_refuse_when_there_is_none():
    heat = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    masks = np.zeros((3, 8, 8), bool)
    masks[1] = heat[1] >= heat[1].max()     # only image 1 has a lesion, exactly at its peak
    assert E.pointing_game(heat, masks) == 1.0
    with pytest.raises(DataError, match="lesion"):
        E.cam_mask_iou(heat, np.zeros((3, 8, 8), bool))


def test_cam_mask_iou_is_one_for_a_perfect_map_and_depends_on_the_threshold():
    masks = np.zeros((1, 10, 10), bool)
    masks[0, 2:6, 2:6] = True
    perfect = masks.astype(np.float32)
    assert E.cam_mask_iou(perfect, masks, threshold=0.5) == 1.0
    blurry = np.zeros((1, 10, 10), np.float32)
    blurry[0, 1:7, 1:7] = 0.4
    blurry[0, 2:6, 2:6] = 1.0
    assert E.cam_mask_iou(blurry, masks, threshold=0.3) == pytest.approx(16 / 36)
    assert E.cam_mask_iou(blurry, masks, threshold=0.5) == 1.0


def test_a_model_trained_to_find_disks_points_at_them_far_above_chance():
    model, x, labels, masks = trained_lesion_model()
    assert ((model(torch.from_numpy(x))[:, 0] > 0).numpy() == labels).mean() > 0.9
    for report in E.right_reason_table(model, x, masks, threshold=0.5):
        assert report.n_images == labels.sum()
        assert report.hit_rate > 0.8 > 4 * report.chance_hit_rate, str(report)
        assert report.mean_iou > 0.1, str(report)
    assert [r.method for r in E.right_reason_table(model, x, masks)] == ["cam", "grad_cam", "saliency"]


def test_report_scores_match_the_plain_score_functions():
    model, x, labels, masks = trained_lesion_model()
    report = E.right_reason_report(model, x, masks, method="grad_cam", threshold=0.4, tolerance=1)
    maps = E.grad_cam(model, x, target=1)
    assert report.hit_rate == pytest.approx(E.pointing_game(maps, masks, tolerance=1))
    assert report.mean_iou == pytest.approx(E.cam_mask_iou(maps, masks, threshold=0.4))
    assert "pointing game" in str(report)


def test_on_radlab_gap_cnn_cam_equals_default_grad_cam_and_pytorch_grad_cam():
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from radlab.models.cnn import GapCNN

    torch.manual_seed(0)
    model = GapCNN(width=8, n_blocks=4).eval()
    x = random_input(n=2, size=32)
    assert E.has_gap_head(model) and E.find_layer(model) is model.last_conv
    ours = E.grad_cam(model, x)
    np.testing.assert_allclose(E.cam(model, x), ours, atol=1e-5)
    with GradCAM(model, [model.last_conv]) as reference:
        theirs = reference(x, targets=[ClassifierOutputTarget(0)] * 2)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_one_image_is_explained_on_one_thread_and_the_threads_are_restored():
    model = tiny_gap_model()
    seen: list[int] = []
    model.features[0].register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = torch.rand(3, 1, 24, 24)
        one = E.grad_cam(model, x[:1])
        batch = E.grad_cam(model, x)
        assert seen == [1, 2]                       # one image: one thread; a batch keeps the threads
        assert torch.get_num_threads() == 2         # restored
        np.testing.assert_allclose(one[0], batch[0], atol=1e-5)   # the same map either way
    finally:
        torch.set_num_threads(before)


def test_the_adversarial_figures_perturbation_is_a_picture_in_rdbu_r_with_the_change_as_hover_values():
    from radlab.viz.explain import adversarial_figure
    from radlab.viz.images import _palette, decode_source, grey_levels

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (32, 32)).astype(np.float32)
    adversarial = image + rng.choice([-1, 1], (32, 32)).astype(np.float32) * 0.0005   # changes below 0.001
    fig = adversarial_figure(image, adversarial, level=0.5, width=1.0, eps_units=0.0005,
                             prediction="benign (60%)", adversarial_prediction="malignant (55%)")
    trace = [t for t in fig.data if t.meta == "perturbation"][0]
    assert trace.type == "image"
    delta = adversarial - image
    assert np.allclose(np.asarray(trace.customdata, dtype=float), delta, atol=1e-7)   # not rounded to 0
    bound = max(0.0005, float(np.abs(delta).max()))
    assert np.array_equal(decode_source(trace.source), _palette("RdBu_r")[grey_levels(delta, 0.0, 2 * bound)])


def test_the_map_picture_is_see_through_where_cold_and_coloured_as_the_scale_stops():
    """The overlay's map is a PNG picture coloured by HEAT_COLORSCALE, each RGBA channel linear between
    stops (as plotly.js colours a heatmap): clear below 0.2, the stops' colours at 0.4 … 1.0, halfway between."""
    import base64
    import io

    from PIL import Image

    from radlab.viz.conv import from_plotly_array
    from radlab.viz.explain import heatmap_picture

    values = np.array([[0.0, 0.1, 0.2, 0.4], [0.5, 0.8, 1.0, np.nan]], dtype=np.float32)
    picture = heatmap_picture(values)
    assert picture["source"].startswith("data:image/png;base64,")
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(picture["source"].split(",", 1)[1]))).convert("RGBA"))
    expected = [[(0, 0, 255, 0), (0, 0, 255, 0), (0, 0, 255, 0), (0, 160, 255, 0.45 * 255)],
                [(0, 207.5, 187.5, 0.5 * 255), (255, 220, 0, 0.65 * 255), (255, 0, 0, 0.75 * 255), (0, 0, 255, 0)]]
    np.testing.assert_allclose(rgba, np.array(expected), atol=1.6)   # 256 levels of the scale
    np.testing.assert_array_equal(from_plotly_array(picture["customdata"]), values)   # hover: the map itself
