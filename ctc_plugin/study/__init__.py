"""Studies: named pretraining arms over seeds, analysed and carried downstream, into one report.

``ctc-study --config-file FILE`` runs one (``run_study``), serially, ``--jobs N`` steps at a time,
or as cluster jobs; ``make demo`` is the study of a baseline and a CTC arm on Fashion-MNIST.
``judge(results)`` computes every judged line of a study from its ``results.json``. Downstream
tasks are registered in ``STUDY_TASK_REGISTRY`` (``DownstreamTask``); detection and the
fine-grained fine-tune are the first two.
"""

from . import detection_task as _detection_task  # noqa: F401  (only registration)
from . import fgvc_task as _fgvc_task  # noqa: F401  (only registration)
from .cluster import ClusterOptions
from .config import Arm, check_study_config, get_study_cfg, study_arms
from .findings import study_findings
from .judge import judge
from .runner import Study, rebuild_report, run_study
from .task import Command, DownstreamTask, register_task

__all__ = [
    "Arm",
    "ClusterOptions",
    "Command",
    "DownstreamTask",
    "Study",
    "check_study_config",
    "get_study_cfg",
    "judge",
    "register_task",
    "rebuild_report",
    "run_study",
    "study_arms",
    "study_findings",
]
