"""A study as a graph of steps: each a tool run with the steps it needs, grouped into one chain per arm and seed.

For every seed and arm: pretraining, then the arm's temporal-transfer probe and (optionally) its
information plane, its conversion to each target a downstream task reads, and each task's run from
its converted weights. Random initialisations of the downstream runs form a chain of their own per
seed. A step starts as soon as the steps it needs have finished; a chain (``Step.chain``) is what a
cluster job runs, one after another.
"""

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ..backbones import backbone_record
from ..config import get_cfg, merge_config
from ..model_zoo import config_path
from .config import RANDOM_INIT, Arm, reference_arm
from .task import DownstreamTask

# The tools that train, and so take --num-gpus on a machine with GPUs.
TRAINING_TOOLS = ("pretrain", "train_net", "finetune_fgvc")
# Where a run's converted weights go, by target.
WEIGHT_SUFFIXES = {"detectron2": "pkl", "timm": "pth"}


@dataclass(frozen=True)
class Step:
    """One tool run of a study.

    Attributes:
        name: its name in the ledger and its log's (``seed0_pretrain_ctc``).
        tool: the ``ctc_plugin.cli`` module.
        args: the tool's arguments.
        chain: the arm-and-seed chain it belongs to (``seed0_ctc``, ``seed0_random``).
        seed: the training seed.
        needs: the names of the steps that must finish first.
        env: environment variables of its process.
        output: the run folder it writes, for a pretraining step (whose checkpoints others read).
    """

    name: str
    tool: str
    args: Tuple[str, ...]
    chain: str
    seed: int
    needs: Tuple[str, ...] = ()
    env: Tuple[Tuple[str, str], ...] = ()
    output: str = ""


def seed_dir(out: str, seed: int) -> str:
    return os.path.join(out, f"seed_{seed}")


def pretrain_dir(out: str, seed: int, arm: str) -> str:
    return os.path.join(seed_dir(out, seed), "pretrain", arm)


def probe_dir(out: str, seed: int, arm: str) -> str:
    return os.path.join(seed_dir(out, seed), "temporal_transfer", arm)


def mine_dir(out: str, seed: int, arm: str) -> str:
    return os.path.join(seed_dir(out, seed), "mutual_information", arm)


def weights_path(out: str, seed: int, arm: str, target: str) -> str:
    return os.path.join(seed_dir(out, seed), "weights", f"{arm}_{target}.{WEIGHT_SUFFIXES.get(target, 'pth')}")


def task_dir(out: str, seed: int, task: str, init: str) -> str:
    return os.path.join(seed_dir(out, seed), task, init)


def arm_config(cfg, arm: Arm):
    """The arm's ctc-pretrain config as the study runs it (every arm's overrides, then its own)."""
    root = ["DATASETS.ROOT", cfg.PRETRAIN.DATASETS_ROOT] if cfg.PRETRAIN.DATASETS_ROOT else []
    return merge_config(get_cfg(), config_path(arm.config), [*root, *cfg.PRETRAIN.OPTS, *arm.opts])


def arm_records(cfg, arms: Sequence[Arm]) -> Dict[str, Dict[str, Any]]:
    """arm -> the backbone record its checkpoints will carry (builder and ``cfg.MODEL``), from its config."""
    return {arm.name: backbone_record(arm_config(cfg, arm)) for arm in arms}


def study_steps(cfg, arms: Sequence[Arm], out: str, tasks: Sequence[DownstreamTask],
                prepared: Mapping[str, Mapping[str, str]], gpus: int = 0,
                preemption_signals: str = "") -> List[Step]:  # fmt: skip
    """Every step of the study, each seed's in dependency order.

    Args:
        tasks: the downstream tasks of ``DOWNSTREAM.TASKS``.
        prepared: task name -> what its ``prepare`` returned.
        gpus: GPUs per machine the training tools use (``--num-gpus``); 0 or 1: one process.
        preemption_signals: the signals the training tools stop at with a checkpoint, when not the
            tools' default (a cluster job adds its scheduler's).
    """
    records = arm_records(cfg, arms)
    names = [arm.name for arm in arms]
    pretrained = [name for name in cfg.DOWNSTREAM.INITS if name != RANDOM_INIT]
    random_record = records[pretrained[0] if pretrained else reference_arm(cfg, arms)]
    targets = list(dict.fromkeys(task.target for task in tasks))
    mine_arms = list(cfg.MI.ARMS) or names
    steps: List[Step] = []

    def add(name: str, tool: str, args: Sequence[Any], chain: str, seed: int, needs=(), env=(), output="") -> None:
        flags = ["--num-gpus", str(gpus)] if gpus > 1 and tool in TRAINING_TOOLS else []
        if preemption_signals and tool in TRAINING_TOOLS:
            flags += ["--preemption-signals", preemption_signals]
        args = tuple(map(str, [*flags, *args]))
        steps.append(Step(name, tool, args, chain, seed, tuple(needs), tuple(env), output))

    for seed in cfg.SEEDS:
        tag = f"seed{seed}"
        for arm in arms:
            chain, run_dir = f"{tag}_{arm.name}", pretrain_dir(out, seed, arm.name)
            pretrain = f"{tag}_pretrain_{arm.name}"
            root = ["DATASETS.ROOT", cfg.PRETRAIN.DATASETS_ROOT] if cfg.PRETRAIN.DATASETS_ROOT else []
            add(pretrain, "pretrain", ["--resume", "--config-file", config_path(arm.config), "OUTPUT_DIR", run_dir,
                                       *root, *cfg.PRETRAIN.OPTS, *arm.opts, "SEED", seed], chain, seed,
                output=run_dir)  # fmt: skip
            run = ["--run", run_dir, "--label", arm.name, "--format", "json", "--resume"]
            # One probe seed for every training seed: probe noise and training noise stay apart.
            add(f"{tag}_probe_{arm.name}", "temporal_transfer",
                [*run, "--seed", cfg.TRANSFER.PROBE_SEED, "--draws", cfg.TRANSFER.DRAWS, "--output-dir",
                 probe_dir(out, seed, arm.name), *cfg.TRANSFER.ARGS], chain, seed, [pretrain])  # fmt: skip
            if cfg.MI.ENABLED and arm.name in mine_arms:
                add(f"{tag}_mine_{arm.name}", "estimate_mi",
                    [*run, "--seed", seed, "--output-dir", mine_dir(out, seed, arm.name), *cfg.MI.ARGS], chain, seed,
                    [pretrain])  # fmt: skip
            if arm.name not in pretrained:
                continue
            for target in targets:
                path = weights_path(out, seed, arm.name, target)
                add(f"{tag}_convert_{arm.name}_{target}", "convert_weights",
                    [os.path.join(run_dir, "model_final.pth"), path, "--to", target, "--json",
                     os.path.splitext(path)[0] + ".json"], chain, seed, [pretrain])  # fmt: skip
            for task in tasks:
                command = task.command(cfg, weights_path(out, seed, arm.name, task.target), seed, records[arm.name],
                                       task_dir(out, seed, task.name, arm.name), prepared[task.name])  # fmt: skip
                add(f"{tag}_{task.name}_{arm.name}", command.tool, command.args, chain, seed,
                    [f"{tag}_convert_{arm.name}_{task.target}"], command.env)  # fmt: skip
        if RANDOM_INIT in cfg.DOWNSTREAM.INITS:
            for task in tasks:
                command = task.command(cfg, None, seed, random_record, task_dir(out, seed, task.name, RANDOM_INIT),
                                       prepared[task.name])  # fmt: skip
                add(f"{tag}_{task.name}_{RANDOM_INIT}", command.tool, command.args, f"{tag}_{RANDOM_INIT}", seed,
                    env=command.env)  # fmt: skip
    return steps
