"""A study's configuration: the named pretraining arms it compares, its seeds and which steps run.

A study pretrains every arm once per seed, measures the temporal transferability and (optionally)
the information plane of every arm, and runs the registered downstream tasks of
``DOWNSTREAM.TASKS`` from the initialisations that ``DOWNSTREAM.INITS`` names. Each task adds its
own keys. The defaults are a study of two arms, "baseline" and "ctc", on Fashion-MNIST.
"""

from dataclasses import dataclass
from typing import List, Tuple

from fvcore.common.config import CfgNode as CN

from ..utils.errors import UserError
from .endpoints import BETWEEN_ARM_METRICS, LATE_FALL_TESTS
from .retention import KEEP_CHOICES
from .task import get_task, registered_tasks

# An initialisation of the downstream runs that is no arm: the same architecture from scratch.
RANDOM_INIT = "random"
_ARM_KEYS = {"NAME", "CONFIG", "OPTS"}


@dataclass(frozen=True)
class Arm:
    """One pretraining run of every seed: a ctc-pretrain config and its KEY VALUE overrides."""

    name: str
    config: str
    opts: Tuple[str, ...] = ()


def get_study_cfg() -> CN:
    """Every key of a study (``ctc-study --config-file``), with a comment above each."""
    cfg = CN()
    # Everything the study writes (runs, converted weights, datasets it makes, report.md, results.json).
    cfg.OUTPUT_DIR = "demo_output"
    # Every seed runs every step; with three or more the report tests every difference across them.
    cfg.SEEDS = [0]
    # torch, OpenMP and MKL threads of every step (CPU sums, so the numbers, depend on it); 0: the
    # machine's cores. A study that fixes it reproduces bitwise at that count.
    cfg.THREADS = 0
    # The pretraining runs compared, in order: a list of {NAME, CONFIG, OPTS} (a ctc-pretrain config
    # and KEY VALUE overrides of it). A derived config's list replaces its base's.
    cfg.ARMS = [
        {"NAME": "baseline", "CONFIG": "configs/pretrain/fashion_mnist_r18_baseline.yaml", "OPTS": []},
        {"NAME": "ctc", "CONFIG": "configs/pretrain/fashion_mnist_r18_ctc.yaml", "OPTS": []},
    ]
    # The names of the arms of ARMS that run, e.g. two arms of a larger study's config; empty: every arm.
    cfg.ONLY_ARMS = []
    # The arm every other arm is compared with, seed by seed; "" takes the first arm.
    cfg.REFERENCE_ARM = ""
    # A committed study's folder (its findings.json), e.g. "docs/results/confirmatory_study": the report
    # says where its primary comparison stands and sets this study's seeds beside the same seeds there.
    cfg.COMMITTED_STUDY = ""
    cfg.DOWNSTREAM = CN()
    # Initialisations of the downstream runs: arm names (their converted pretrained networks) and
    # "random" (the same network, randomly initialised); empty: no downstream run.
    cfg.DOWNSTREAM.INITS = ["ctc", "baseline", RANDOM_INIT]
    # The registered downstream tasks (STUDY_TASK_REGISTRY) run from each of them, in order.
    cfg.DOWNSTREAM.TASKS = ["detection", "fgvc"]
    cfg.PRETRAIN = CN()
    # KEY VALUE overrides applied to every arm, before the arm's own.
    cfg.PRETRAIN.OPTS = []
    # DATASETS.ROOT of every arm; empty keeps the configs' own.
    cfg.PRETRAIN.DATASETS_ROOT = ""
    # "all": keep every checkpoint of every arm; "final": only model_final.pth once the arm's probe
    # and MINE (the steps that read its epoch checkpoints) have finished.
    cfg.PRETRAIN.KEEP_CHECKPOINTS = "all"
    cfg.TRANSFER = CN()
    # Flags of ctc-temporal-transfer after --run (target dataset, probe schedule, --every).
    cfg.TRANSFER.ARGS = []
    # The probe's seed (its training and test samples, its initialisations), the same for every
    # training seed, so that probe noise and training noise can be told apart.
    cfg.TRANSFER.PROBE_SEED = 0
    # Probes trained per checkpoint (each its own sample and initialisation); their mean is its number.
    cfg.TRANSFER.DRAWS = 3
    cfg.MI = CN()
    # Estimate the information plane of the arms with ctc-estimate-mi.
    cfg.MI.ENABLED = True
    # The arms whose information plane is estimated; empty: every arm.
    cfg.MI.ARMS = []
    # Flags of ctc-estimate-mi after --run (MINE steps, samples, --every).
    cfg.MI.ARGS = []
    for task in registered_tasks():  # each task's own keys (DETECTION.*, FGVC.*, ...)
        task.add_config(cfg)
    add_analysis_config(cfg)
    return cfg


def add_analysis_config(cfg: CN) -> CN:
    """``ANALYSIS``: what the study tests, declared before its seeds run (``endpoints.AnalysisPlan``)."""
    cfg.ANALYSIS = CN()
    # The primary comparison, judged at ALPHA on its own: ARM minus REFERENCE ("": REFERENCE_ARM) on
    # METRIC (final_transfer or final_source). No ARM: every judged line is exploratory.
    cfg.ANALYSIS.PRIMARY = CN()
    cfg.ANALYSIS.PRIMARY.ARM = ""
    cfg.ANALYSIS.PRIMARY.REFERENCE = ""
    cfg.ANALYSIS.PRIMARY.METRIC = "final_transfer"
    # Transfer at the end: the mean of the last this many probed checkpoints (also the late window).
    cfg.ANALYSIS.FINAL_CHECKPOINTS = 3
    # The early window of the late-fall and source-rise tests: fractions of an arm's epochs, ends included.
    cfg.ANALYSIS.EARLY_WINDOW = [0.25, 0.5]
    # The late-fall test: "window" (early window minus late window) or "slope" (over SLOPE_WINDOW).
    cfg.ANALYSIS.LATE_FALL_TEST = "window"
    cfg.ANALYSIS.SLOPE_WINDOW = [0.5, 1.0]
    # Level of every test; lines other than the primary are Holm-adjusted over the study's family.
    cfg.ANALYSIS.ALPHA = 0.05
    # [ARM, REFERENCE] pairs also judged on final_transfer, besides every arm against REFERENCE_ARM
    # (e.g. ablations against the full recipe); exploratory.
    cfg.ANALYSIS.COMPARISONS = []
    return cfg


def study_arms(cfg: CN) -> List[Arm]:
    """The arms of ``cfg.ARMS`` that run (``cfg.ONLY_ARMS``), checked: each a mapping with a distinct NAME
    and a CONFIG.

    Raises:
        UserError: an entry that is no mapping, lacks NAME or CONFIG, has another key, or repeats a name;
            an ONLY_ARMS name that is no arm.
    """
    arms = []
    if not isinstance(cfg.ARMS, (list, tuple)) or not cfg.ARMS:
        raise UserError("ARMS must be a non-empty list of {NAME, CONFIG, OPTS}")
    for i, entry in enumerate(cfg.ARMS):
        if not hasattr(entry, "keys") or not {"NAME", "CONFIG"} <= set(entry.keys()):
            raise UserError(f"ARMS[{i}] must be a mapping with NAME and CONFIG (and optionally OPTS), got {entry!r}")
        unknown = sorted(set(entry.keys()) - _ARM_KEYS)
        if unknown:
            raise UserError(f"ARMS[{i}] ({entry['NAME']}) has unknown key(s) {unknown}; an arm has NAME, CONFIG, OPTS")
        name, opts = str(entry["NAME"]), entry.get("OPTS") or []
        if not name or name == RANDOM_INIT or not name.replace("_", "").replace("-", "").isalnum():
            raise UserError(
                f"ARMS[{i}]: NAME must be letters, digits, '_' or '-' and not '{RANDOM_INIT}', got {name!r}"
            )
        if not isinstance(opts, (list, tuple)) or len(opts) % 2:
            raise UserError(f"ARMS[{i}] ({name}): OPTS must be a list of KEY VALUE pairs, got {opts!r}")
        arms.append(Arm(name, str(entry["CONFIG"]), tuple(str(o) for o in opts)))
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names):
        raise UserError(f"ARMS names must differ, got {names}")
    only = list(cfg.ONLY_ARMS)
    if not all(name in names for name in only) or len(set(only)) != len(only):
        raise UserError(f"ONLY_ARMS must name distinct arms ({', '.join(names)}), got {only}")
    return [arm for arm in arms if not only or arm.name in only]


def reference_arm(cfg: CN, arms: List[Arm]) -> str:
    """The name of the arm every other is compared with."""
    names = [arm.name for arm in arms]
    if cfg.REFERENCE_ARM and cfg.REFERENCE_ARM not in names:
        raise UserError(f"REFERENCE_ARM {cfg.REFERENCE_ARM!r} is not an arm; arms: {names}")
    return cfg.REFERENCE_ARM or names[0]


def check_study_config(cfg: CN) -> List[Arm]:
    """Refuse, with one line, arms, seeds and initialisations the study cannot run; returns the arms."""
    arms = study_arms(cfg)
    seeds = list(cfg.SEEDS)
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise UserError(f"SEEDS must be distinct integers of 0 or more, got {seeds}")
    names = [arm.name for arm in arms]
    unknown = [name for name in cfg.DOWNSTREAM.INITS if name not in (*names, RANDOM_INIT)]
    if unknown:
        raise UserError(
            f"DOWNSTREAM.INITS must name arms ({', '.join(names)}) or {RANDOM_INIT}, got {list(cfg.DOWNSTREAM.INITS)}"
        )
    unknown = [name for name in cfg.MI.ARMS if name not in names]
    if unknown:
        raise UserError(f"MI.ARMS must name arms ({', '.join(names)}), got {list(cfg.MI.ARMS)}")
    for name in cfg.DOWNSTREAM.TASKS:
        get_task(name)
    if len(set(cfg.DOWNSTREAM.TASKS)) != len(cfg.DOWNSTREAM.TASKS):
        raise UserError(f"DOWNSTREAM.TASKS names a task twice: {list(cfg.DOWNSTREAM.TASKS)}")
    for key, value in (("THREADS", cfg.THREADS), ("TRANSFER.PROBE_SEED", cfg.TRANSFER.PROBE_SEED)):
        if not isinstance(value, int) or value < 0:
            raise UserError(f"{key} must be an integer of 0 or more, got {value!r}")
    if cfg.PRETRAIN.KEEP_CHECKPOINTS not in KEEP_CHOICES:
        raise UserError(
            f"PRETRAIN.KEEP_CHECKPOINTS must be one of {list(KEEP_CHOICES)}, got {cfg.PRETRAIN.KEEP_CHECKPOINTS!r}"
        )
    if not isinstance(cfg.TRANSFER.DRAWS, int) or cfg.TRANSFER.DRAWS < 1:
        raise UserError(f"TRANSFER.DRAWS must be an integer of 1 or more, got {cfg.TRANSFER.DRAWS!r}")
    check_analysis_config(cfg.ANALYSIS, names, reference_arm(cfg, arms))
    return arms


def check_analysis_config(node: CN, names: List[str], reference: str) -> None:
    """Refuse, with one line, an analysis plan that names no arm or no test the study has."""
    primary = node.PRIMARY
    for key, value in (("ARM", primary.ARM), ("REFERENCE", primary.REFERENCE)):
        if value and value not in names:
            raise UserError(f"ANALYSIS.PRIMARY.{key} {value!r} is not an arm; arms: {names}")
    if primary.METRIC not in BETWEEN_ARM_METRICS:
        raise UserError(f"ANALYSIS.PRIMARY.METRIC must be one of {list(BETWEEN_ARM_METRICS)}, got {primary.METRIC!r}")
    if primary.ARM and primary.ARM == (primary.REFERENCE or reference):
        raise UserError(f"ANALYSIS.PRIMARY compares {primary.ARM!r} with itself")
    if not isinstance(node.FINAL_CHECKPOINTS, int) or node.FINAL_CHECKPOINTS < 1:
        raise UserError(f"ANALYSIS.FINAL_CHECKPOINTS must be an integer of 1 or more, got {node.FINAL_CHECKPOINTS!r}")
    for key in ("EARLY_WINDOW", "SLOPE_WINDOW"):
        window = list(node[key])
        if len(window) != 2 or not 0 <= window[0] < window[1] <= 1:
            raise UserError(f"ANALYSIS.{key} must be [from, to] fractions of training with 0 <= from < to <= 1, "
                            f"got {window}")  # fmt: skip
    if node.LATE_FALL_TEST not in LATE_FALL_TESTS:
        raise UserError(f"ANALYSIS.LATE_FALL_TEST must be one of {list(LATE_FALL_TESTS)}, got {node.LATE_FALL_TEST!r}")
    for pair in node.COMPARISONS:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(names):
            raise UserError(
                f"ANALYSIS.COMPARISONS entries must be [ARM, REFERENCE] of two arms ({names}), got {pair!r}"
            )
    if not 0 < node.ALPHA < 1:
        raise UserError(f"ANALYSIS.ALPHA must lie between 0 and 1, got {node.ALPHA}")
