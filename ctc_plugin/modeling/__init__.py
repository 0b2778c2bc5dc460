from .build import build_ctc
from .classifier import HeadOnFeatures, build_classifier_head, build_linear_head
from .ctc import CTC
from .heads import EmbedHead
from .ias import AggregationTerm, InstanceDiscrimination, build_aggregation_term
from .irs import ContrastiveRevitalization, RevitalizationTerm, build_revitalization_term
from .nce import nce_loss
from .negatives import OtherClassNegatives, RelaxedNegatives, UniformNegatives
from .projector import CosineClassifier, ProjectorClassifier, build_projector_head
from .term import LossTerm, StepInputs, TermData

__all__ = [
    "CTC",
    "AggregationTerm",
    "ContrastiveRevitalization",
    "CosineClassifier",
    "EmbedHead",
    "HeadOnFeatures",
    "InstanceDiscrimination",
    "LossTerm",
    "OtherClassNegatives",
    "ProjectorClassifier",
    "RelaxedNegatives",
    "RevitalizationTerm",
    "StepInputs",
    "TermData",
    "UniformNegatives",
    "build_aggregation_term",
    "build_classifier_head",
    "build_ctc",
    "build_linear_head",
    "build_projector_head",
    "build_revitalization_term",
    "nce_loss",
]
