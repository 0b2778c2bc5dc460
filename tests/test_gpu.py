"""The method on the device it trains on: CUDA when there is one, else the CPU (marker ``gpu``).

``benchmarks/device/check.sh`` runs these on the GPU machine (``pytest -m gpu``); everywhere
else they run on the CPU with the rest of the suite. Each compares what the device computes
with a float64 CPU reference (TF32 off), or checks what must hold on any device.
"""

import pytest
import torch
import torch.nn.functional as F
from fixtures.networks import random_resnet
from fixtures.references import reference_ias_full, reference_nce, reference_update

from ctc_plugin.config import get_cfg
from ctc_plugin.modeling import (
    ContrastiveRevitalization,
    InstanceDiscrimination,
    OtherClassNegatives,
    UniformNegatives,
    build_ctc,
)
from ctc_plugin.modeling.bank import InferenceCopy

pytestmark = pytest.mark.gpu

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
N, D, B = 300, 16, 8


@pytest.fixture(autouse=True)
def exact_matmul():
    """float32 products in float32 (not TF32) while these compare against float64."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def unit_on_device(rows: int, seed: int) -> torch.Tensor:
    z = F.normalize(torch.randn(rows, D, generator=torch.Generator().manual_seed(seed)), dim=1)
    return z.to(DEVICE).requires_grad_(True)


def test_ias_loss_gradient_and_update_on_the_device_match_float64():
    ias = InstanceDiscrimination(N, D, temperature=0.1, momentum=0.5, generator=torch.Generator().manual_seed(0))
    on_device = InstanceDiscrimination(N, D, 0.1, 0.5, generator=torch.Generator().manual_seed(0), device=DEVICE)
    assert on_device.memory.device.type == DEVICE.type and torch.equal(on_device.memory.cpu(), ias.memory)
    z, indices = unit_on_device(B, 1), torch.tensor([3, 17, 0, 299, 42, 8, 100, 5], device=DEVICE)
    loss = on_device.loss(z, indices, torch.Generator(DEVICE))
    assert loss.item() == pytest.approx(reference_ias_full(z.detach().cpu(), ias.memory, indices.cpu(), 0.1), rel=1e-5)
    loss.backward()
    z64 = z.detach().cpu().double().requires_grad_(True)
    logits = z64 @ ias.memory.double().t() / 0.1
    F.cross_entropy(logits, indices.cpu()).backward()
    assert torch.allclose(z.grad.cpu().double(), z64.grad, atol=1e-6)
    expected = reference_update(ias.memory, indices.cpu(), z.detach().cpu(), 0.5)
    on_device.update(z.detach(), indices)
    assert torch.allclose(on_device.memory.cpu().double(), expected, atol=1e-6)


def test_irs_loss_and_gradients_on_the_device_match_float64():
    labels = torch.arange(N) % 5
    irs = ContrastiveRevitalization(N, D, temperature=0.07, generator=torch.Generator().manual_seed(0), device=DEVICE)
    v1, v2 = unit_on_device(B, 1), unit_on_device(B, 2)
    indices = torch.tensor([3, 17, 0, 299, 42, 8, 100, 5], device=DEVICE)
    negatives = OtherClassNegatives(labels).draw(labels.to(DEVICE)[indices], 64, torch.Generator(DEVICE).manual_seed(3))
    slots = torch.cat([indices[:, None], negatives], 1)
    loss = irs.loss(v1, v2, slots)
    loss.backward()
    bank, current, cpu_slots = irs.memory_bank.cpu().double(), irs.memory_current.cpu().double(), slots.cpu()
    w1 = v1.detach().cpu().double().requires_grad_(True)
    w2 = v2.detach().cpu().double().requires_grad_(True)
    s1 = torch.stack([bank[cpu_slots[b]] @ w1[b] / 0.07 for b in range(B)])
    s2 = torch.stack([current[cpu_slots[b]] @ w2[b] / 0.07 for b in range(B)])
    assert loss.item() == pytest.approx(reference_nce(s1.detach(), N) + reference_nce(s2.detach(), N), rel=1e-5)
    # The same NCE, differentiable in float64, for the gradients (Z fixed as the module fixed it).
    for scores, log_z in ((s1, irs.log_z_current), (s2, irs.log_z_bank)):
        probs = torch.exp(scores - log_z)
        noise = 64 / N
        nce = -(torch.log(probs[:, 0] / (probs[:, 0] + noise)) + torch.log(noise / (probs[:, 1:] + noise)).sum(1))
        nce.mean().backward()
    assert torch.allclose(v1.grad.cpu().double(), w1.grad, atol=1e-5)
    assert torch.allclose(v2.grad.cpu().double(), w2.grad, atol=1e-5)


@pytest.mark.parametrize("sampler", ["uniform", "other_classes"])
def test_negatives_are_drawn_on_the_device_reproducibly(sampler):
    labels = torch.arange(N) % 7
    negatives = UniformNegatives(N) if sampler == "uniform" else OtherClassNegatives(labels)
    batch_labels = labels[:B].to(DEVICE)
    first = negatives.draw(batch_labels, 4096, torch.Generator(DEVICE).manual_seed(11))
    again = negatives.draw(batch_labels, 4096, torch.Generator(DEVICE).manual_seed(11))
    assert first.device.type == DEVICE.type and first.shape == (B, 4096)
    assert torch.equal(first, again)  # a function of the seed: resume draws the same
    assert int(first.min()) >= 0 and int(first.max()) < N
    drawn_labels = labels.to(DEVICE)[first]
    if sampler == "other_classes":
        assert not (drawn_labels == batch_labels[:, None]).any()
    counts = torch.bincount(first[0].cpu(), minlength=N).double()
    allowed = counts[labels != int(batch_labels[0])] if sampler == "other_classes" else counts
    assert (allowed > 0).all() and allowed.std() / allowed.mean() < 0.5  # every slot, roughly evenly


def test_bank_copy_on_the_device_matches_the_bank():
    bank = random_resnet(18, stem="cifar").to(DEVICE)
    copy = InferenceCopy(bank)
    images = torch.randn(4, 3, 16, 16, device=DEVICE)
    with torch.no_grad():
        expected = bank.forward_pre_logits(images)
    actual = copy.forward_pre_logits(images)
    assert actual.device.type == DEVICE.type
    assert float((actual - expected).abs().max() / expected.abs().max()) < 1e-4


@pytest.mark.parametrize("stage", [1, 2])
def test_autocast_leaves_the_nce_losses_in_float32(stage):
    """Mixed precision runs the network in half precision; the NCE losses stay in float32."""
    cfg = get_cfg()
    cfg.CTC.IAS.NUM_NEGATIVES, cfg.CTC.IRS.NUM_NEGATIVES = 32, 32  # sampled: NCE in both stages
    targets = torch.arange(N) % 5
    ctc = build_ctc(cfg, random_resnet(18, stem="cifar", num_classes=5), targets, DEVICE)
    if stage == 2:
        ctc.enter_stage(2)
    indices = torch.arange(B)
    batch = (torch.randn(B, 3, 16, 16), targets[:B], indices, torch.zeros(B, dtype=torch.long))
    dtype = torch.float16 if DEVICE.type == "cuda" else torch.bfloat16
    with torch.autocast(DEVICE.type, dtype=dtype):
        losses = ctc(batch)
    name = "loss_ias" if stage == 1 else "loss_irs"
    assert losses[name].dtype == torch.float32 and torch.isfinite(losses[name])
    sum(losses.values()).backward()
    ctc.update_memories()
    for memory in ctc.terms["ias" if stage == 1 else "irs"].criterion.state_dict().values():
        if torch.is_tensor(memory) and memory.dim() == 2:
            assert memory.dtype == torch.float32 and torch.isfinite(memory).all()
