from .build import build_ctc
from .ctc import CTC
from .heads import EmbedHead
from .ias import AggregationTerm, InstanceDiscrimination
from .irs import ContrastiveRevitalization, RevitalizationTerm
from .nce import nce_loss
from .negatives import OtherClassNegatives, RelaxedNegatives, UniformNegatives
from .term import LossTerm, StepInputs

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
    "UniformNegatives",
    "build_ctc",
    "nce_loss",
]
