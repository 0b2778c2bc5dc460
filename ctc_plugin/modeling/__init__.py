from .build import build_ctc
from .ctc import CTC
from .heads import EmbedHead
from .ias import InstanceDiscrimination
from .irs import ContrastiveRevitalization
from .nce import nce_loss
from .negatives import OtherClassNegatives, UniformNegatives

__all__ = [
    "CTC",
    "ContrastiveRevitalization",
    "EmbedHead",
    "InstanceDiscrimination",
    "OtherClassNegatives",
    "UniformNegatives",
    "build_ctc",
    "nce_loss",
]
