"""The temporal-transfer probe's draws: their images and seeds come from the probe seed, features are extracted once."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from ctc_plugin.analysis import probe as probe_module
from ctc_plugin.analysis.linear_probe import ProbeSchedule
from ctc_plugin.analysis.probe import ProbeResult, ProbeSamples, TransferProbe
from ctc_plugin.analysis.release_probe import ReleaseProbe
from ctc_plugin.data import ClassificationDataset
from ctc_plugin.utils.errors import UserError

DIM, CLASSES = 16, 3


class Points(ClassificationDataset):
    """Gaussian clusters, one per class: a target whose "images" are already feature vectors."""

    style = "cifar"

    def __init__(self, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        centers = torch.randn(CLASSES, DIM, generator=torch.Generator().manual_seed(0))
        labels = torch.arange(size) % CLASSES
        self.points = centers[labels] + torch.randn(size, DIM, generator=generator)
        super().__init__(labels.tolist(), [f"class {c}" for c in range(CLASSES)])

    def load_image(self, index: int) -> torch.Tensor:
        return self.points[index]


class Features(nn.Module):
    """A backbone whose features are its (batch-normalised) input."""

    num_features = DIM

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(DIM)

    def forward_pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def identity(x):
    return x


@pytest.fixture
def splits():
    return Points(90, seed=1), Points(120, seed=2)


def test_every_draw_has_its_own_training_images_and_all_share_the_whole_test_split(splits):
    train, test = splits
    samples = ProbeSamples.draw(train, test, seed=7, draws=3, max_train=12)
    assert len(samples.draws) == 3 and all(len(images) == 12 for images in samples.draws)
    assert len(set(samples.draws)) == 3 and all(list(images) == sorted(images) for images in samples.draws)
    assert set(samples.union) == set().union(*samples.draws) and len(samples.union) < len(train)
    assert samples.test_images == tuple(range(len(test))) and samples.test_set is test  # whole by default
    # The images depend on the probe seed alone: draw d is the same whatever the number of draws.
    assert ProbeSamples.draw(train, test, seed=7, draws=5, max_train=12).draws[:3] == samples.draws
    assert ProbeSamples.draw(train, test, seed=8, draws=3, max_train=12).draws != samples.draws
    # A test sample is one, for every draw, drawn from the probe seed.
    limited = ProbeSamples.draw(train, test, seed=7, draws=2, max_test=50)
    assert len(limited.test_images) == len(limited.test_set) == 50
    assert ProbeSamples.draw(train, test, seed=7, draws=4, max_test=50).test_images == limited.test_images
    assert ProbeSamples.draw(train, test, seed=8, draws=2, max_test=50).test_images != limited.test_images
    # No limit: every draw trains on the whole split (the draws differ by their seeds only).
    whole = ProbeSamples.draw(train, test, seed=7, draws=2)
    assert whole.draws == (tuple(range(len(train))),) * 2 and whole.training_set(0) is train
    with pytest.raises(UserError, match="at least one draw"):
        ProbeSamples.draw(train, test, seed=7, draws=0)


def test_draws_share_one_extraction_and_top1_is_their_mean(splits, monkeypatch):
    extracted = []
    real_extract = probe_module.extract_features

    def counting_extract(network, dataset, *args, **kwargs):
        extracted.append(len(dataset))
        return real_extract(network, dataset, *args, **kwargs)

    monkeypatch.setattr(probe_module, "extract_features", counting_extract)
    samples = ProbeSamples.draw(*splits, seed=3, draws=4, max_train=9)
    probe = TransferProbe(samples, ProbeSchedule(steps=40, batch_size=8, lr=0.1, milestones=(30,)))
    network = Features()
    rng = torch.get_rng_state()
    result = probe.measure(network, identity, device="cpu")
    assert extracted == [len(samples.union), len(splits[1])]  # the draws' union and the whole test split, once
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's random streams are left as they were
    assert len(result.top1_draws) == 4 and len(set(result.top1_draws)) > 1  # other images, other accuracy
    assert result.top1 == pytest.approx(sum(result.top1_draws) / 4)
    row = result.row()
    assert row == {
        "top1": round(result.top1, 4),
        "top1_draws": [round(t, 4) for t in result.top1_draws],
        "draws": 4,
        "probe_seed": 3,
    }
    assert row["top1"] == pytest.approx(sum(row["top1_draws"]) / 4, abs=1e-4)
    assert probe.measure(network, identity, device="cpu") == result  # the same flags, bitwise the same numbers
    # Each draw's classifier has its own seed, derived from the probe seed.
    seeds = {probe.draw_settings(d).seed for d in range(4)}
    assert len(seeds) == 4 and probe.settings.seed not in seeds
    assert probe.describe() == {"train_images": 9, "test_images": 120, "protocol": "appendix", "steps": 40}


def test_draws_on_the_whole_training_split_differ_by_their_seeds_only(splits):
    samples = ProbeSamples.draw(*splits, seed=0, draws=2)
    probe = TransferProbe(samples, ProbeSchedule(steps=3, batch_size=8, lr=0.1, milestones=()))
    one_draw = TransferProbe(replace(samples, draws=samples.draws[:1]), probe.settings)
    result = probe.measure(Features(), identity, device="cpu")
    assert result.top1_draws[:1] == one_draw.measure(Features(), identity, device="cpu").top1_draws


def test_release_protocol_runs_each_draw_on_its_own_images_and_seed(splits):
    samples = ProbeSamples.draw(*splits, seed=5, draws=2, max_train=12)
    probe = TransferProbe(samples, ReleaseProbe(epochs=2, batch_size=8))
    network = Features().train()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    result = probe.measure(network, identity, device="cpu")
    assert isinstance(result, ProbeResult) and len(result.top1_draws) == 2
    assert all(0.0 <= t <= 100.0 for t in result.top1_draws)
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())  # a copy was probed
    assert probe.measure(network, identity, device="cpu") == result
    assert probe.describe() == {"train_images": 12, "test_images": 120, "protocol": "release", "steps": 2}
