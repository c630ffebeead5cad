"""RadLab's offline source model, the weights choice, the gray-to-RGB adaptation, and `radlab fetch resnet18-imagenet`."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from torchvision.models import ResNet18_Weights, resnet18

from radlab import pretrain
from radlab.cli import main as radlab_main
from radlab.data import catalog
from radlab.errors import DataError
from radlab.models.transfer import imagenet_weights_candidates, resnet18_transfer


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RADLAB_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def tiny_recipe(monkeypatch):
    """A source model small enough for a unit test (the real recipes only differ in size)."""
    monkeypatch.setitem(pretrain.RECIPES, True, dict(n_patients=24, images_per_patient=2, size=28, epochs=1,
                                                      batch_size=16, lr=2e-3))


def torchvision_weights_file(path: Path) -> Path:
    """A locally made stand-in for resnet18-f37072fd.pth: a torchvision ResNet-18 state_dict."""
    torch.manual_seed(1)
    torch.save(resnet18(weights=None).state_dict(), path)
    return path


def test_the_source_model_is_trained_once_then_loaded_from_the_cache(cache, tiny_recipe):
    first = pretrain.source_model(fast=True, seed=0)
    assert first.path.is_file() and first.path.is_relative_to(cache) and first.info["cached"] is False
    assert 0.0 <= first.info["val_auc"] <= 1.0 or first.info["val_auc"] != first.info["val_auc"]
    stamp = first.path.stat().st_mtime_ns
    again = pretrain.source_model(fast=True, seed=0)
    assert again.path == first.path and again.info["cached"] is True and again.path.stat().st_mtime_ns == stamp


def test_the_source_model_loads_through_the_same_path_as_imagenet_weights(cache, tiny_recipe):
    src = pretrain.source_model(fast=True, seed=0)
    model = resnet18_transfer(1, strategy="fixed", weights=src.path, channel_mode="repeat")
    saved = torch.load(src.path, weights_only=True)["model_state"]
    assert saved["conv1.weight"].shape == (64, 3, 7, 7)            # torchvision's layout, three channels
    assert torch.equal(model.backbone.layer4[1].conv2.weight, saved["layer4.1.conv2.weight"])
    gray = resnet18_transfer(1, strategy="fixed", weights=src.path, channel_mode="sum")
    # the gray kernel the source model learnt comes back when the three thirds are summed
    assert torch.allclose(gray.backbone.conv1.weight, saved["conv1.weight"].sum(dim=1, keepdim=True), atol=1e-6)


def test_a_changed_recipe_trains_a_new_source_model_instead_of_loading_a_stale_one(cache, tiny_recipe, monkeypatch):
    before = pretrain.source_cache_path(fast=True, seed=0)
    monkeypatch.setitem(pretrain.RECIPES, True, {**pretrain.RECIPES[True], "epochs": 2})
    assert pretrain.source_cache_path(fast=True, seed=0) != before
    assert pretrain.source_cache_path(fast=True, seed=1) != pretrain.source_cache_path(fast=True, seed=0)


def test_backbone_state_divides_a_gray_kernel_into_three_equal_thirds():
    with pytest.warns(UserWarning):
        model = resnet18_transfer(1, strategy="finetune", weights=None, channel_mode="sum")
    state = pretrain.backbone_state(model)
    w = model.backbone.conv1.weight.detach()
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert torch.allclose(state["conv1.weight"].sum(dim=1, keepdim=True), w, atol=1e-6)
    assert not any(k.startswith("fc.") for k in state)


def test_repeating_the_gray_image_and_summing_the_kernels_give_the_same_feature_map(tmp_path):
    image = torch.rand(28, 28).numpy()
    ca = pretrain.channel_adaptation(torchvision_weights_file(tmp_path / "w.pth"), image, kernel=5)
    assert ca.map_repeat.shape == ca.map_sum.shape == (14, 14)
    assert abs(ca.map_repeat).max() > 1e-3                       # a real map, not zeros
    assert ca.max_difference < 1e-5
    assert torch.allclose(torch.as_tensor(ca.gray_kernel), torch.as_tensor(ca.rgb_kernels).sum(0))
    # the mean of the kernels is NOT equivalent: it gives a third of the map
    assert abs(ca.map_sum / 3 - ca.map_repeat).max() > 0.5 * abs(ca.map_repeat).max()


def test_a_local_weights_file_is_used_through_the_path_option_and_named(cache, tmp_path):
    path = torchvision_weights_file(tmp_path / "my-resnet18.pth")
    choice = pretrain.resolve_weights(str(path))
    assert choice.kind == "file" and choice.path == path and str(path) in choice.note
    model = resnet18_transfer(1, strategy="fixed", weights=choice.path)
    saved = torch.load(path, weights_only=True)
    assert torch.equal(model.backbone.layer3[0].conv1.weight, saved["layer3.0.conv1.weight"])
    assert torch.allclose(model.backbone.conv1.weight, saved["conv1.weight"].sum(1, keepdim=True), atol=1e-6)


def test_random_and_missing_weights_are_said_plainly(cache, tmp_path):
    assert pretrain.resolve_weights("random").path is None
    assert "nothing is transferred" in pretrain.resolve_weights("random").note
    with pytest.raises(DataError, match="not on this machine"):
        pretrain.resolve_weights("imagenet")
    with pytest.raises(DataError, match="not found"):
        pretrain.resolve_weights(str(tmp_path / "nope.pth"))


def test_the_fetch_entry_is_torchvisions_resnet18_file():
    url, filename, prefix = catalog.WEIGHTS["resnet18-imagenet"]
    assert url == ResNet18_Weights.IMAGENET1K_V1.url
    assert Path(url).name == Path(filename).name == f"resnet18-{prefix}.pth"
    assert Path(filename).name == imagenet_weights_candidates()[0].name


def test_fetch_refuses_weights_whose_checksum_is_not_torchvisions(cache, tmp_path):
    path = torchvision_weights_file(tmp_path / "resnet18-f37072fd.pth")   # right name, wrong bytes
    with pytest.raises(DataError, match="SHA-256"):
        catalog.fetch_weights("resnet18-imagenet", source=path)
    assert not (cache / "weights" / "resnet18-f37072fd.pth").exists()


def test_fetch_imports_matching_weights_and_the_lab_then_finds_imagenet(cache, tmp_path, monkeypatch, capsys):
    path = torchvision_weights_file(tmp_path / "copy.pth")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    url, filename, _ = catalog.WEIGHTS["resnet18-imagenet"]
    monkeypatch.setitem(catalog.WEIGHTS, "resnet18-imagenet", (url, filename, digest[:8]))  # this file "is" it
    assert radlab_main(["fetch", "resnet18-imagenet", "--from", str(path)]) == 0
    assert "imported" in capsys.readouterr().out
    cached = cache / "weights" / "resnet18-f37072fd.pth"
    assert cached.read_bytes() == path.read_bytes()
    assert catalog.fetch_weights("resnet18-imagenet").action == "verified"
    choice = pretrain.resolve_weights("imagenet")
    assert choice.kind == "imagenet" and choice.path == cached and "ImageNet" in choice.note
