"""Lab 9's experiments: nested subsets, epochs for small sets, learning curves, and the two transfer strategies."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from radlab.errors import DataError
from radlab.models.transfer import count_parameters
from radlab.small_data import (StandardizedHead, TargetData, compare_strategies, epochs_for, extract_features,
                               strategy_parameter_counts,
                               learning_curves, nested_subsets, transfer_model)


def tiny_data(n_train: int = 48, n_val: int = 24, seed: int = 0) -> TargetData:
    """Bright-blob-or-not images: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)

    def make(n):
        y = np.arange(n) % 2
        x = torch.rand(n, 1, 28, 28, generator=g) * 0.3
        x[y == 1, :, 10:18, 10:18] += 0.6
        return x, y.astype(np.int64)

    (xt, yt), (xv, yv) = make(n_train), make(n_val)
    return TargetData("tiny", xt, yt, xv, yv, "tiny test images")


def test_nested_subsets_grow_inside_each_other_and_always_hold_both_classes():
    y = np.r_[np.zeros(20), np.ones(380)].astype(int)
    subsets = nested_subsets(y, (0.01, 0.05, 0.2, 1.0), seed=3)
    assert [len(s) for s in subsets] == [4, 20, 80, 400]
    for small, big in zip(subsets, subsets[1:]):
        assert set(small) <= set(big)
    assert all(set(y[s]) == {0, 1} for s in subsets)
    assert np.array_equal(subsets[0], nested_subsets(y, (0.01, 0.05, 0.2, 1.0), seed=3)[0])   # seeded
    with pytest.raises(DataError):
        nested_subsets(y, (0.5, 0.2))


def test_small_training_sets_get_enough_weight_updates():
    assert epochs_for(39, batch_size=32, base_epochs=6, min_steps=60, max_epochs=30) == 30   # 2 steps/epoch
    assert epochs_for(3882, batch_size=32, base_epochs=6, min_steps=60, max_epochs=30) == 6
    e = epochs_for(200, batch_size=32, base_epochs=2, min_steps=60, max_epochs=30)
    assert e * 7 >= 60 and (e - 1) * 7 < 60


def test_fixed_feature_extraction_trains_only_the_new_head():
    model = transfer_model("fixed", None)
    assert count_parameters(model) == (513, 11_170_753)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["classifier.weight", "classifier.bias"]


def test_fine_tuning_trains_the_last_stages_and_the_head_only():
    model = transfer_model("finetune", None, unfreeze=2)
    expected = sum(p.numel() for m in (model.backbone.layer3, model.backbone.layer4, model.classifier)
                   for p in m.parameters())
    assert count_parameters(model)[0] == expected
    assert model.frozen_stages == ("stem", "layer1", "layer2")
    with pytest.raises(ValueError):
        transfer_model("finetune", None, unfreeze=0)


def test_fixed_feature_extraction_really_freezes_the_backbone_and_fine_tuning_moves_its_last_stages():
    runs = compare_strategies(tiny_data(), None, n_train=32, unfreeze=1, epochs=1, val_limit=None)
    by = {r.strategy: r for r in runs}
    assert set(by) == {"scratch", "fixed", "finetune"}
    assert by["fixed"].frozen_stages == ("stem", "layer1", "layer2", "layer3", "layer4")
    assert by["fixed"].frozen_unchanged and by["fixed"].trained_changed          # head moved, backbone did not
    assert by["finetune"].frozen_unchanged and by["finetune"].trained_changed
    assert by["scratch"].frozen_stages == () and by["scratch"].frozen == 0
    assert by["fixed"].trainable < by["finetune"].trainable < by["scratch"].trainable
    assert all(len(r.history) == 1 and r.seconds_per_epoch > 0 for r in runs)


def test_extracted_features_through_the_head_give_the_models_own_output():
    model = transfer_model("fixed", None).eval()
    x = torch.rand(5, 1, 28, 28)
    features = extract_features(model, x, batch_size=2)
    assert features.shape == (5, 512)
    with torch.no_grad():
        assert torch.allclose(model.classifier(features), model(x), atol=1e-5)


def test_the_new_head_standardises_features_with_the_training_set():
    f = torch.randn(40, 512) * 5 + 3
    head = StandardizedHead(f)
    z = (f - head.mean) / head.std
    assert torch.allclose(z.mean(0), torch.zeros(512), atol=1e-4) and torch.allclose(z.std(0), torch.ones(512), atol=1e-3)


def test_learning_curves_give_every_method_a_point_at_every_size():
    data = tiny_data()
    seen = []
    curves = learning_curves(data, None, fractions=(0.25, 1.0), fast=True, on_point=lambda c: seen.append(len(c.points)))
    assert curves.n_train == [12, 48]
    assert curves.methods() == ["scratch", "augmented", "transfer"]
    assert seen == [1, 2, 3, 4, 5, 6]
    for method in curves.methods():
        aucs = curves.auc(method)
        assert len(aucs) == 2 and all(0.0 <= a <= 1.0 for a in aucs)
    assert max(curves.auc("transfer")) > 0.8        # bright blobs: even random ResNet features separate them
    assert [row["n_train"] for row in curves.rows()] == [12, 48]
    with pytest.raises(ValueError):
        learning_curves(data, None, methods=("magic",))


def test_parameter_counts_without_building_match_the_built_networks():
    for unfreeze in (1, 2, 5):
        counts = strategy_parameter_counts(unfreeze)
        for strategy in ("scratch", "fixed", "finetune"):
            assert counts[strategy] == count_parameters(transfer_model(strategy, None, unfreeze=unfreeze)), strategy
