from .build import build_ctc
from .ctc import CTC
from .heads import EmbedHead
from .ias import AggregationTerm, InstanceDiscrimination, build_aggregation_term
from .irs import ContrastiveRevitalization, RevitalizationTerm, build_revitalization_term
from .nce import nce_loss
from .negatives import OtherClassNegatives, RelaxedNegatives, UniformNegatives
from .term import LossTerm, StepInputs, TermData

__all__ = [
    "CTC",
    "AggregationTerm",
    "ContrastiveRevitalization",
    "EmbedHead",
    "InstanceDiscrimination",
    "LossTerm",
    "OtherClassNegatives",
    "RelaxedNegatives",
    "RevitalizationTerm",
    "StepInputs",
    "TermData",
    "UniformNegatives",
    "build_aggregation_term",
    "build_ctc",
    "build_revitalization_term",
    "nce_loss",
]
