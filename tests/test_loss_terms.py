"""Loss terms are registered: a new term reaches training through CTC.LOSS_TERMS alone."""

import pytest
import torch

from ctc_plugin import LOSS_TERM_REGISTRY
from ctc_plugin.config import get_cfg
from ctc_plugin.modeling import LossTerm, StepInputs, TermData, build_ctc
from ctc_plugin.utils.errors import UserError


class FeatureNorm(LossTerm):
    """A stage-1 term of a user's: the mean squared norm of the pooled features."""

    name = "feature_norm"
    stage = 1

    def __init__(self, weight: float, num_features: int) -> None:
        super().__init__(weight)
        self.scale = torch.nn.Parameter(torch.ones(num_features))

    def loss(self, inputs: StepInputs) -> torch.Tensor:
        return (inputs.features * self.scale).pow(2).mean()


@LOSS_TERM_REGISTRY.register()
def build_feature_norm_term(cfg, data: TermData) -> FeatureNorm:
    return FeatureNorm(0.5, data.num_features)


def _backbone():
    cfg = get_cfg()
    cfg.MODEL.DEPTH, cfg.MODEL.NUM_CLASSES = 18, 3
    from ctc_plugin.backbones import build_backbone

    return build_backbone(cfg)


def test_a_registered_term_is_built_and_trained_by_name():
    cfg = get_cfg()
    cfg.CTC.LOSS_TERMS = ["build_aggregation_term", "build_feature_norm_term", "build_revitalization_term"]
    cfg.CTC.BETA, cfg.CTC.IRS.NUM_NEGATIVES = 0.0, 4  # a term whose weight is 0 is not built
    targets = torch.arange(12) % 3
    ctc = build_ctc(cfg, _backbone(), targets, torch.device("cpu"))
    assert list(ctc.terms) == ["ias", "feature_norm"]
    batch = (torch.randn(4, 3, 32, 32), targets[:4], torch.arange(4), torch.zeros(4, dtype=torch.long))
    losses = ctc(batch)
    assert set(losses) == {"loss_cls", "loss_ias", "loss_feature_norm"}
    sum(losses.values()).backward()
    assert ctc.terms["feature_norm"].scale.grad is not None
    assert any(p is ctc.terms["feature_norm"].scale for p in ctc.trainable_parameters())


@pytest.mark.parametrize(
    "terms, message",
    [
        (["build_aggregation_terms"], "no loss term 'build_aggregation_terms' is registered; registered: "),
        (["build_feature_norm_term", "build_feature_norm_term"], "must build a LossTerm with a name of its own"),
    ],
)
def test_loss_terms_that_cannot_be_built_are_named(terms, message):
    cfg = get_cfg()
    cfg.CTC.LOSS_TERMS = terms
    with pytest.raises(UserError, match=message):
        build_ctc(cfg, _backbone(), torch.arange(12) % 3, torch.device("cpu"))


def test_the_revitalization_term_refills_its_memories_when_its_stage_begins_in_training():
    cfg = get_cfg()
    cfg.CTC.IRS.NUM_NEGATIVES, cfg.CTC.IRS.REFILL_MEMORY = 4, True
    targets = torch.arange(12) % 3
    ctc = build_ctc(cfg, _backbone().eval(), targets, torch.device("cpu"))
    memories = {k: v.clone() for k, v in ctc.terms["irs"].criterion.state_dict().items() if torch.is_tensor(v)}
    images = [(torch.randn(6, 3, 32, 32), targets[i : i + 6], torch.arange(i, i + 6)) for i in (0, 6)]
    ctc.enter_stage(2)  # as when a checkpoint is loaded: nothing is read
    assert all(
        torch.equal(v, ctc.terms["irs"].criterion.state_dict()[k]) for k, v in memories.items() if torch.is_tensor(v)
    )
    ctc.enter_stage(2, lambda: images)  # in training: every training image is embedded by the bank
    refilled = ctc.terms["irs"].criterion.state_dict()
    changed = [k for k, v in memories.items() if v.dim() == 2 and not torch.equal(v, refilled[k])]
    assert len(changed) == 2  # both memories
