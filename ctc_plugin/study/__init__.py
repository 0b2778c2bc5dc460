"""Studies: named pretraining arms over seeds, analysed and carried downstream, into one report.

``ctc-demo --config-file FILE`` runs one (``run_study``); the demo is the study of a baseline
and a CTC arm on Fashion-MNIST. ``configs/demo/tradeoff_study.yaml`` is the trade-off study.
``judge(results)`` computes every judged line of a study from its ``results.json``.
"""

from .config import Arm, check_study_config, get_study_cfg, study_arms
from .findings import study_findings
from .judge import judge
from .runner import rebuild_report, run_study

__all__ = [
    "Arm",
    "check_study_config",
    "get_study_cfg",
    "judge",
    "rebuild_report",
    "run_study",
    "study_arms",
    "study_findings",
]
