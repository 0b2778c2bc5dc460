"""The frozen information bank's fast forward copy computes the bank's features."""

import pytest
import torch
from fixtures.networks import random_resnet
from torch import nn

from ctc_plugin.modeling import CTC, OtherClassNegatives, RevitalizationTerm
from ctc_plugin.modeling.bank import InferenceCopy


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).abs().max() / expected.abs().max())


@pytest.mark.parametrize("depth, stem, size", [(18, "cifar", 16), (50, "imagenet", 64)])
@pytest.mark.parametrize("blocked_layout", [True, False])
def test_copy_matches_the_bank(depth, stem, size, blocked_layout):
    bank = random_resnet(depth, stem=stem)
    before = {k: v.clone() for k, v in bank.state_dict().items()}
    copy = InferenceCopy(bank)
    assert copy.blocked_layout == torch.backends.mkldnn.is_available()
    copy.blocked_layout = copy.blocked_layout and blocked_layout
    images = torch.randn(4, 3, size, size)
    with torch.no_grad():
        expected = bank.forward_pre_logits(images)
    actual = copy.forward_pre_logits(images)
    assert not actual.is_mkldnn and actual.shape == expected.shape
    assert relative_error(actual, expected) < 1e-5
    assert not any(isinstance(m, nn.BatchNorm2d) for m in copy.modules())  # folded
    assert all(torch.equal(v, before[k]) for k, v in bank.state_dict().items())  # bank untouched
    # Swapping two BN variances of the bank changes the copy's output: the folding reads them.
    bn = bank.layer1[0].bn1
    bn.running_var[[0, 1]] = bn.running_var[[1, 0]].clone()
    assert relative_error(InferenceCopy(bank).forward_pre_logits(images), expected) > 1e-4


def test_other_networks_are_copied_and_run_dense():
    class Features(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

        def forward_pre_logits(self, x):
            return self.body(x).flatten(1)

    network = Features().eval()
    copy = InferenceCopy(network)
    assert not copy.blocked_layout
    images = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(copy.forward_pre_logits(images), network.forward_pre_logits(images))


def test_ctc_bank_features_follow_the_bank():
    irs = RevitalizationTerm(1.0, 40, 512, OtherClassNegatives(torch.arange(40) % 4), num_negatives=8)
    ctc = CTC(random_resnet(18, stem="cifar", num_classes=4), [irs])
    ctc.enter_stage(2)
    images = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        first = irs.bank.forward_pre_logits(images)
        assert relative_error(irs.bank_features(images), first) < 1e-5
        # Loading another bank (as resume does) rebuilds the copy.
        other = random_resnet(18, stem="cifar", num_classes=4, seed=1)
        state = ctc.method_state_dict()
        state["terms"]["irs"].update({f"bank.{k}": v for k, v in other.state_dict().items()})
        ctc.load_method_state_dict(state)
        assert relative_error(irs.bank_features(images), other.forward_pre_logits(images)) < 1e-5
