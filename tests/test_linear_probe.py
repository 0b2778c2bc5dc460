"""Linear probes: the backbone is left exactly as it was; the probe learns what is linear."""

import torch
from torch import nn
from torch.utils.data import TensorDataset

from ctc_plugin.analysis.linear_probe import (
    ProbeSchedule,
    cached_features,
    evaluate_probe,
    extract_features,
    probe_accuracy,
    train_linear_probe,
)
from ctc_plugin.backbones import ResNet


def snapshot(model: nn.Module):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_probing_leaves_every_parameter_and_buffer_unchanged():
    torch.manual_seed(0)
    model = ResNet(18, stem="cifar", num_classes=5)
    model.train()
    model.layer1.eval()  # a caller's frozen submodule must stay in eval mode
    before = snapshot(model)
    modes = {name: m.training for name, m in model.named_modules()}
    images = torch.randn(12, 3, 16, 16) * 3 + 1  # far from the BN running statistics
    dataset = TensorDataset(images, torch.arange(12) % 3)

    features, labels = extract_features(model, dataset, batch_size=5)
    train_linear_probe(features, labels, 3, ProbeSchedule(steps=5, batch_size=4), device="cpu")

    after = snapshot(model)
    assert before.keys() == after.keys()
    for key in before:  # weights, BN running mean/var and num_batches_tracked
        assert torch.equal(before[key], after[key]), key
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert all(p.grad is None for p in model.parameters())
    # The features are the eval-mode features (running statistics, not batch statistics).
    with torch.no_grad():
        expected = model.eval().forward_pre_logits(images)
    assert features.shape == (12, 512) and labels.tolist() == (torch.arange(12) % 3).tolist()
    assert torch.allclose(features, expected, atol=1e-5)


def test_probe_learns_linearly_separable_features():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 32, generator=g) * 3
    labels = torch.randint(4, (600,), generator=g)
    features = centers[labels] + torch.randn(600, 32, generator=g)
    schedule = ProbeSchedule().scaled(0.01)  # 150 steps, milestones 50 and 100
    assert schedule.steps == 150 and schedule.milestones == (50, 100)
    accuracy = probe_accuracy((features[:400], labels[:400]), (features[400:], labels[400:]), 4, schedule, device="cpu")
    assert accuracy > 0.95


def test_probe_is_deterministic_for_a_seed():
    features, labels = torch.randn(64, 8), torch.arange(64) % 2
    a = train_linear_probe(features, labels, 2, ProbeSchedule(steps=20, batch_size=16), device="cpu")
    b = train_linear_probe(features, labels, 2, ProbeSchedule(steps=20, batch_size=16), device="cpu")
    assert torch.equal(a.weight, b.weight)
    assert 0.0 <= evaluate_probe(a, features, labels) <= 1.0


def test_feature_cache_is_reused_until_its_key_changes(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return torch.ones(3, 2), torch.tensor([0, 1, 0])

    path = str(tmp_path / "cache" / "f.pt")
    cached_features(path, {"checkpoint": "a", "mtime_ns": 1}, compute)
    features, labels = cached_features(path, {"checkpoint": "a", "mtime_ns": 1}, compute)
    assert len(calls) == 1 and features.shape == (3, 2) and labels.tolist() == [0, 1, 0]
    cached_features(path, {"checkpoint": "a", "mtime_ns": 2}, compute)  # the checkpoint changed
    assert len(calls) == 2
