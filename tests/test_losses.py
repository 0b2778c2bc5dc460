"""L_IAS, L_IRS and the memory updates against plain written-out versions of docs/method.md's formulas."""

import math

import pytest
import torch
import torch.nn.functional as F
from fixtures.references import reference_ias_full, reference_nce, reference_update
from torch import nn

from ctc_plugin.config import get_cfg
from ctc_plugin.modeling import (
    ContrastiveRevitalization,
    InstanceDiscrimination,
    OtherClassNegatives,
    RelaxedNegatives,
    RevitalizationTerm,
    StepInputs,
    UniformNegatives,
    build_ctc,
    nce_loss,
)
from ctc_plugin.modeling.memory import momentum_update

N, D, B = 200, 16, 6


def unit(rows: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(rows, D, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_ias_full_softmax_matches_the_formula():
    ias = InstanceDiscrimination(N, D, temperature=0.1, momentum=0.5, generator=torch.Generator().manual_seed(0))
    z, indices = unit(B, 1), torch.tensor([3, 17, 0, 199, 42, 8])
    expected = reference_ias_full(z, ias.memory, indices, 0.1)
    assert ias.loss(z, indices, torch.Generator()).item() == pytest.approx(expected, rel=1e-6)


def test_ias_update_matches_the_formula():
    ias = InstanceDiscrimination(N, D, momentum=0.5, generator=torch.Generator().manual_seed(0))
    z, indices = unit(B, 1), torch.tensor([3, 17, 0, 199, 42, 8])
    expected = reference_update(ias.memory, indices, z, 0.5)
    ias.update(z, indices)
    assert torch.allclose(ias.memory.double(), expected, atol=1e-6)
    assert torch.allclose(ias.memory[indices].norm(dim=1), torch.ones(B), atol=1e-6)


def test_ias_sampled_is_nce_with_z_fixed_on_the_first_batch():
    ias = InstanceDiscrimination(N, D, temperature=0.1, num_negatives=30, generator=torch.Generator().manual_seed(0))
    z, indices = unit(B, 1), torch.tensor([3, 17, 0, 199, 42, 8])
    loss = ias.loss(z, indices, torch.Generator().manual_seed(5)).item()
    negatives = torch.randint(N, (B, 30), generator=torch.Generator().manual_seed(5))
    slots = torch.cat([indices[:, None], negatives], 1)
    scores = torch.stack([ias.memory[slots[b]].double() @ z[b].double() / 0.1 for b in range(B)])
    assert loss == pytest.approx(reference_nce(scores, N), rel=1e-6)
    log_z = ias.log_z
    ias.loss(unit(B, 2), indices, torch.Generator().manual_seed(6))
    assert ias.log_z == log_z  # fixed after the first batch


@pytest.mark.parametrize("num_data", [N, 5000], ids=["matmul-then-gather", "gather-then-bmm"])
def test_irs_matches_crd_formula_both_ways(num_data):
    irs = ContrastiveRevitalization(num_data, D, temperature=0.07, generator=torch.Generator().manual_seed(0))
    v1, v2 = unit(B, 1), unit(B, 2)
    labels = torch.arange(num_data) % 5
    indices = torch.tensor([3, 17, 0, 199, 42, 8])
    negatives = OtherClassNegatives(labels).draw(labels[indices], 100, torch.Generator().manual_seed(3))
    slots = torch.cat([indices[:, None], negatives], 1)
    # P1 scores v1 (current) against M2 (bank memory); P2 scores v2 against M1.
    s1 = torch.stack([irs.memory_bank[slots[b]].double() @ v1[b].double() / 0.07 for b in range(B)])
    s2 = torch.stack([irs.memory_current[slots[b]].double() @ v2[b].double() / 0.07 for b in range(B)])
    expected = reference_nce(s1, num_data) + reference_nce(s2, num_data)
    assert irs.loss(v1, v2, slots).item() == pytest.approx(expected, rel=1e-6)


def test_irs_updates_both_memories_with_their_own_embedding():
    irs = ContrastiveRevitalization(N, D, momentum=0.5, generator=torch.Generator().manual_seed(0))
    v1, v2, indices = unit(B, 1), unit(B, 2), torch.tensor([3, 17, 0, 199, 42, 8])
    expected_current = reference_update(irs.memory_current, indices, v1, 0.5)
    expected_bank = reference_update(irs.memory_bank, indices, v2, 0.5)
    irs.update(v1, v2, indices)
    assert torch.allclose(irs.memory_current.double(), expected_current, atol=1e-6)
    assert torch.allclose(irs.memory_bank.double(), expected_bank, atol=1e-6)


def test_memory_initialisation_is_uniform_in_the_crd_range():
    memory = InstanceDiscrimination(N, 128, generator=torch.Generator().manual_seed(0)).memory
    bound = 1 / math.sqrt(128 / 3)
    assert memory.abs().max() <= bound and memory.abs().max() > 0.95 * bound


def test_nce_loss_is_stable_for_extreme_scores():
    log_probs = torch.tensor([[80.0, -80.0, 60.0], [-90.0, 70.0, -70.0]], requires_grad=True)
    loss = nce_loss(log_probs, 10)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(log_probs.grad).all()


def test_other_class_negatives_never_share_the_class_and_cover_the_rest():
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 2, 2, 0, 1])
    sampler = OtherClassNegatives(labels)
    drawn = sampler.draw(torch.tensor([2, 0]), 4000, torch.Generator().manual_seed(0))
    assert not (labels[drawn[0]] == 2).any() and not (labels[drawn[1]] == 0).any()
    assert set(drawn[0].tolist()) == {i for i in range(10) if labels[i] != 2}
    counts = torch.bincount(drawn[0], minlength=10)[labels != 2].double()
    assert (counts / counts.mean() - 1).abs().max() < 0.15  # uniform over the other classes


def test_relax_takes_a_random_positive_of_the_class_and_other_class_negatives():
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 2, 2, 0, 1])
    relaxed, generator = RelaxedNegatives(labels), torch.Generator().manual_seed(0)
    anchors = torch.tensor([6] * 2000 + [0] * 2000)
    positives = relaxed.positives(anchors, labels[anchors], generator)
    assert (labels[positives] == labels[anchors]).all()  # the release's relax: same class ...
    assert set(positives[:2000].tolist()) == {2, 5, 6, 7} and set(positives[2000:].tolist()) == {0, 3, 8}
    drawn = relaxed.draw(torch.tensor([2]), 1000, generator)
    assert not (labels[drawn] == 2).any()  # ... and negatives from the other classes
    for exact in (OtherClassNegatives(labels), UniformNegatives(10)):  # the anchor's own slot
        assert torch.equal(exact.positives(anchors, labels[anchors], generator), anchors)


class _Pooled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward_pre_logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(images).mean((2, 3))


def test_relax_updates_the_memories_at_the_anchor_s_own_slot():
    # The release's relax (ctc/memory.py): the positive is another image of the class, the update the anchor's slot.
    labels = torch.arange(N) % 5
    term = RevitalizationTerm(
        1.0, N, 8, RelaxedNegatives(labels), embed_dim=D, momentum=0.5, num_negatives=10,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    backbone = _Pooled()
    term.begin(backbone)
    seen, criterion_loss = {}, term.criterion.loss

    def recording_loss(v1: torch.Tensor, v2: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        seen.update(v1=v1.detach(), v2=v2.detach(), slots=slots)
        return criterion_loss(v1, v2, slots)

    term.criterion.loss = recording_loss
    images, indices = torch.randn(B, 3, 4, 4), torch.tensor([3, 17, 0, 199, 42, 8])
    generator = torch.Generator().manual_seed(1)
    term.loss(StepInputs(images, backbone.forward_pre_logits(images), labels[indices], indices, generator))
    positives = seen["slots"][:, 0]
    assert (labels[positives] == labels[indices]).all() and (positives != indices).any()
    expected_current = reference_update(term.criterion.memory_current, indices, seen["v1"], 0.5)
    expected_bank = reference_update(term.criterion.memory_bank, indices, seen["v2"], 0.5)
    term.update()
    assert torch.allclose(term.criterion.memory_current.double(), expected_current, atol=1e-6)
    assert torch.allclose(term.criterion.memory_bank.double(), expected_bank, atol=1e-6)


@pytest.mark.parametrize("mode, sampler", [("relax", RelaxedNegatives), ("uniform", UniformNegatives)])
def test_irs_negatives_modes_build_their_sampler(mode, sampler):
    cfg = get_cfg()
    cfg.CTC.ALPHA, cfg.CTC.IRS.NEGATIVES = 0.0, mode
    backbone = torch.nn.Linear(3, 4)
    backbone.num_features = 4
    ctc = build_ctc(cfg, backbone, torch.tensor([0, 1, 0, 1]), torch.device("cpu"))
    assert type(ctc.terms["irs"].negatives) is sampler


def test_momentum_update_of_repeated_rows_is_deterministic():
    memory = unit(10, 0).clone()
    momentum_update(memory, torch.tensor([1, 2]), unit(2, 1), 0.0)
    assert torch.allclose(memory[1:3], unit(2, 1), atol=1e-6)
