"""The tools' shared pieces: flags checked by the config's rules, Detectron2's parser under the
trainers' command line, one skeleton for the three trainers, one preemption save for both trainers."""

import argparse
import os
import pickle

import pytest
import torch

from ctc_plugin.cli.common import check_flags
from ctc_plugin.config.checks import Rule, at_least, fraction, non_negative, positive
from ctc_plugin.utils.errors import UserError


@pytest.mark.parametrize(
    "rule, value, message",
    [
        (positive("feature_batch_size"), 0, "--feature-batch-size 0 must be positive"),
        (non_negative("num_workers"), -1, "--num-workers -1 must be 0 or more"),
        (fraction("momentum"), 1.5, "--momentum 1.5 must be in [0, 1)"),
        (at_least("nodes", 1), 0, "--nodes 0 must be 1 or more"),
    ],
)
def test_flags_are_refused_by_the_config_rules_in_one_line(rule, value, message):
    with pytest.raises(UserError) as refused:
        check_flags(argparse.Namespace(**{rule.key: value}), [rule])
    assert str(refused.value) == message


def test_a_flag_left_unset_or_missing_is_skipped_as_a_config_key_is():
    rules = [positive("steps"), at_least("nodes", 1), Rule("lr", lambda v: v > 0, "be positive")]
    check_flags(argparse.Namespace(steps=None, lr=0.1), rules)  # no --nodes in this tool, --steps unset


def test_the_trainers_parse_with_detectron2_s_parser_and_refuse_in_one_line():
    from detectron2.engine import default_argument_parser

    from ctc_plugin.cli.training import parse_training_args, training_parser

    parser = training_parser("a tool")
    assert set(vars(default_argument_parser().parse_args([]))) < set(vars(parser.parse_args([])))
    args = parse_training_args(parser, ["--config-file", "c.yaml", "--overwrite", "SOLVER.BASE_LR", "0.1"])
    assert args.dist_url == "auto" and args.dist_timeout == 30.0 and args.overwrite
    assert args.opts == ["SOLVER.BASE_LR", "0.1"] and args.preemption_signals
    with pytest.raises(UserError, match="unrecognized arguments: --no-such-flag"):
        parser.parse_args(["--no-such-flag"])
    with pytest.raises(UserError, match="--dist-timeout 0.0 must be positive"):
        parse_training_args(parser, ["--dist-timeout", "0"])


def test_the_three_trainers_are_one_skeleton_that_spawned_processes_can_receive():
    from ctc_plugin.cli import finetune_fgvc, pretrain, train_net
    from ctc_plugin.cli.training import TrainingTool

    for module in (pretrain, finetune_fgvc, train_net):
        tool = module.TRAINING
        assert isinstance(tool, TrainingTool) and tool.name == module.TOOL
        assert pickle.loads(pickle.dumps(tool.process)).__self__.name == module.TOOL  # torch.multiprocessing


class CountingCheckpointer:
    """What a periodic checkpointer needs of a checkpointer, counting the files written."""

    def __init__(self, save_dir: str) -> None:
        self.save_dir = save_dir
        self.save_to_disk = True
        self.path_manager = None
        self.saved = []

    def save(self, name: str, **state) -> None:
        self.saved.append((name, state))
        torch.save(state, os.path.join(self.save_dir, f"{name}.pth"))


def test_a_preemption_saves_detectron2_s_file_at_its_iteration_or_takes_the_periodic_one(tmp_path):
    from ctc_plugin.engine import IterationCheckpointer

    checkpointer = CountingCheckpointer(str(tmp_path))
    periodic = IterationCheckpointer(checkpointer, period=2, max_iter=6)
    periodic.step(1)  # the periodic checkpoint after 2 iterations
    assert periodic.save_iteration(1) == str(tmp_path / "model_0000001.pth")
    assert checkpointer.saved == [("model_0000001", {"iteration": 1})]  # not written twice
    assert periodic.save_iteration(2) == str(tmp_path / "model_0000002.pth")
    periodic.step(5)
    names = [name for name, _ in checkpointer.saved]
    assert names == ["model_0000001", "model_0000002", "model_0000005", "model_final"]


def test_the_epoch_trainers_preemption_file_is_named_by_iterations_done_and_replaced(tmp_path):
    from ctc_plugin.engine import EpochCheckpointer

    checkpointer = CountingCheckpointer(str(tmp_path))
    periodic = EpochCheckpointer(checkpointer, period_epochs=1, iters_per_epoch=4)
    periodic.max_iter = 8
    assert periodic.save_iteration(1) == str(tmp_path / "model_iter_0000002.pth")
    assert periodic.save_iteration(2) == str(tmp_path / "model_iter_0000003.pth")
    assert sorted(os.listdir(tmp_path)) == ["model_iter_0000003.pth"]  # the previous one is dropped
    periodic.step(3)  # epoch 1: its checkpoint replaces the iteration ones
    assert sorted(os.listdir(tmp_path)) == ["model_epoch_0001.pth"]
    assert periodic.save_iteration(3) == str(tmp_path / "model_epoch_0001.pth")
    assert checkpointer.saved[-1] == ("model_epoch_0001", {"iteration": 3, "epoch": 1})
