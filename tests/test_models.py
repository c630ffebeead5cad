"""The model zoo: every network trains on CPU, transfer learning freezes what it says, the summary counts right."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from radlab.errors import DataError
from radlab.models import (MODELS, CNN3D, DenoisingAutoencoder, GapCNN, SmallResNet, TeachingCNN, UNet2D,
                           count_parameters, resnet18_transfer, summary)
from figures import trace_named

torch.set_num_threads(1)

# (model, input, expected output shape) -- tiny, so the whole file runs in seconds
CASES = {
    "teaching_cnn": (lambda: TeachingCNN(width=4, image_size=28), (3, 1, 28, 28), (3, 1)),
    "gap_cnn": (lambda: GapCNN(width=4, num_classes=3), (3, 1, 28, 28), (3, 3)),
    "small_resnet": (lambda: SmallResNet(width=4), (3, 1, 28, 28), (3, 1)),
    "unet2d": (lambda: UNet2D(base=4, depth=3), (2, 1, 28, 28), (2, 1, 28, 28)),
    "denoising_autoencoder": (lambda: DenoisingAutoencoder(base=4), (2, 1, 28, 28), (2, 1, 28, 28)),
    "cnn3d": (lambda: CNN3D(width=2), (2, 1, 16, 16, 16), (2, 1)),
}


def test_every_model_in_the_zoo_has_a_test_case():
    assert set(MODELS) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_runs_forward_and_backward_on_cpu(name):
    make, size, out_shape = CASES[name]
    torch.manual_seed(0)
    model = make()
    assert isinstance(model, MODELS[name])
    out = model(torch.rand(size))
    assert out.shape == out_shape
    out.square().mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}.{pname} got no finite gradient"


def test_teaching_cnn_flattens_the_right_number_of_values_for_its_image_size():
    model = TeachingCNN(width=8, n_blocks=3, image_size=64)
    first_fc = model.classifier[1]
    assert first_fc.in_features == 32 * 8 * 8            # 32 channels after 3 blocks, 64 / 2**3 = 8
    assert model(torch.rand(2, 1, 64, 64)).shape == (2, 1)
    with pytest.raises(ValueError, match="shrink"):
        TeachingCNN(n_blocks=6, image_size=28)


@pytest.mark.parametrize("make", [lambda: GapCNN(width=4), lambda: SmallResNet(width=4)])
def test_gap_models_output_is_the_classifier_of_the_averaged_last_maps(make):
    """The property CAM relies on: logits = classifier(mean over positions of last_conv's maps)."""
    model = make().eval()
    maps = {}
    model.last_conv.register_forward_hook(lambda _m, _i, out: maps.setdefault("last", out))
    x = torch.rand(2, 1, 28, 28)
    logits = model(x)
    assert maps["last"].shape[-1] == 7                   # big enough for a useful CAM at 28 px
    torch.testing.assert_close(model.classifier(maps["last"].mean(dim=(2, 3))), logits)
    torch.testing.assert_close(model.features(x), maps["last"])


def test_unet_keeps_odd_sizes_and_gives_one_logit_per_pixel_and_class():
    model = UNet2D(in_channels=1, out_channels=3, base=4, depth=2)
    assert model(torch.rand(1, 1, 30, 26)).shape == (1, 3, 30, 26)


def test_residual_denoiser_returns_the_input_when_it_estimates_no_noise():
    model = DenoisingAutoencoder(base=4, residual=True)
    nn.init.zeros_(model.decoder[-1].weight)
    nn.init.zeros_(model.decoder[-1].bias)
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(model(x), x)
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.rand(1, 1, 30, 30))


# ------------------------------------------------------------------ transfer learning

@pytest.fixture()
def no_weights_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("RADLAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def _quiet_transfer(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resnet18_transfer(**kw)


def test_fixed_feature_extraction_trains_only_the_new_head():
    model = _quiet_transfer(num_classes=2, strategy="fixed")
    trainable, total = count_parameters(model)
    assert trainable == 512 * 2 + 2
    assert all(not p.requires_grad for p in model.backbone.parameters())
    model(torch.rand(2, 1, 32, 32)).sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.classifier.weight.grad is not None


def test_fine_tuning_freezes_exactly_the_first_stages():
    counts = {n: count_parameters(_quiet_transfer(strategy="finetune", freeze_stages=n))[0] for n in (0, 2, 5)}
    full = count_parameters(_quiet_transfer(strategy="finetune"))[1]
    assert counts[0] == full > counts[2] > counts[5] == 513
    model = _quiet_transfer(strategy="finetune", freeze_stages=2)         # stem + layer1 frozen
    assert not any(p.requires_grad for p in model.backbone.layer1.parameters())
    assert not model.backbone.conv1.weight.requires_grad
    assert all(p.requires_grad for p in model.backbone.layer2.parameters())
    with pytest.raises(ValueError, match="freeze_stages"):
        _quiet_transfer(strategy="finetune", freeze_stages=6)


def test_frozen_batch_norm_keeps_its_statistics_while_training():
    model = _quiet_transfer(strategy="finetune", freeze_stages=2).train()
    assert not model.backbone.bn1.training and not model.backbone.layer1[0].bn1.training
    assert model.backbone.layer2[0].bn1.training
    before = model.backbone.bn1.running_mean.clone()
    model(torch.rand(4, 1, 32, 32) * 5)
    torch.testing.assert_close(model.backbone.bn1.running_mean, before)


def test_random_initialisation_is_announced_with_where_to_put_the_weights(no_weights_anywhere):
    with pytest.warns(UserWarning, match="RANDOMLY initialised.*resnet18-f37072fd.pth"):
        resnet18_transfer()
    with pytest.raises(DataError, match="resnet18-f37072fd.pth"):
        resnet18_transfer(weights="imagenet")


def test_weights_load_from_a_local_file_and_gray_conv1_is_the_sum_of_the_rgb_kernels(tmp_path):
    torch.manual_seed(3)
    source = resnet18(weights=None)
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(source.state_dict(), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                          # no "random init" warning now
        gray = resnet18_transfer(weights=path, channel_mode="sum")
        rgb = resnet18_transfer(weights=path, channel_mode="repeat")
    torch.testing.assert_close(gray.backbone.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    torch.testing.assert_close(gray.backbone.conv1.weight, source.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(rgb.backbone.conv1.weight, source.conv1.weight)
    x = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(gray.backbone.conv1(x), source.conv1(x.repeat(1, 3, 1, 1)))
    assert rgb(x).shape == gray(x).shape == (2, 1)


def test_weights_file_that_is_not_a_resnet_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(DataError, match="other.pth"):
        resnet18_transfer(weights=path)
    with pytest.raises(DataError, match="not found"):
        resnet18_transfer(weights=tmp_path / "missing.pth")


# ------------------------------------------------------------------ summary

@pytest.mark.parametrize("name", sorted(CASES))
def test_summary_counts_every_parameter_once(name):
    make, size, out_shape = CASES[name]
    model = make()
    s = summary(model, size[1:])
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert sum(row.params for row in s.rows) == s.total_params
    assert s.output_shape == out_shape[1:]
    assert f"{s.total_params:,}" in s.to_text()
    fig = s.to_figure()
    assert len(trace_named(fig, "layers").cells.values[0]) == len(s.rows)


def test_summary_receptive_field_of_a_known_stack():
    stack = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1),
                          nn.MaxPool2d(2), nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, stride=2),
                          nn.Conv2d(2, 2, 3, dilation=2, padding=2))
    s = summary(stack, (1, 32, 32))
    # r_out = r_in + (k - 1)·d·j_in ; j_out = j_in·stride
    assert [row.receptive_field for row in s.rows] == [3, 3, 5, 6, 10, 14, 30]
    assert [row.jump for row in s.rows] == [1, 1, 1, 2, 2, 4, 4]
    assert [row.output_shape for row in s.rows][-1] == (2, 7, 7)


def test_summary_follows_the_longest_path_through_a_residual_block():
    s = summary(SmallResNet(width=4, blocks_per_stage=(1, 1)), (1, 28, 28))
    rf = {row.name: row.receptive_field for row in s.rows}
    assert rf["features.2.0.shortcut.0"] == 7     # 1×1 shortcut on the stage input (RF 7)
    assert rf["features.2.0.conv2"] == 13         # 7 + 2·1 (3×3 stride 2) + 2·2 (3×3 at jump 2)
    assert rf["pool"] >= 28                       # global pooling sees the whole image


def test_summary_separates_learnable_parameters_from_hyperparameters():
    s = summary(TeachingCNN(width=8, n_blocks=2), (1, 28, 28))
    conv = s.rows[0]
    assert conv.params == 8 * 1 * 3 * 3                    # bias-free: batch norm follows
    assert "8 kernels 3×3" in conv.hyperparameters and "stride 1" in conv.hyperparameters
    assert "kernels 8×1×3×3" in conv.learnable
    pool = next(row for row in s.rows if row.layer == "MaxPool2d")
    assert pool.params == 0 and "max pooling 2×2" in pool.hyperparameters


def test_summary_reports_frozen_parameters_and_accepts_a_batch_axis():
    model = _quiet_transfer(strategy="finetune", freeze_stages=3)
    s = summary(model, (2, 1, 32, 32))
    assert (s.trainable_params, s.total_params) == count_parameters(model)
    assert sum(row.trainable for row in s.rows) == s.trainable_params
    assert model.training                                   # the summary put the mode back
