"""ctc-submit on submitit's real local executor: jobs that train, are preempted by submitit's signal,
requeue themselves with --resume and end as the uninterrupted run ends; bad options refused up front."""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from fixtures.checkpoints import assert_same_training_state
from fixtures.datasets import write_cub, write_tiny_cifar100, write_tiny_coco
from fixtures.networks import random_resnet

from ctc_plugin.checkpoint import load_file
from ctc_plugin.cli import submit
from ctc_plugin.convert import detectron2_checkpoint, load_resnet_state_dict, save_detectron2_pickle
from ctc_plugin.convert.timm import convert_to_timm_file
from ctc_plugin.utils.errors import PREEMPTED_STATUS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["HF_HUB_OFFLINE"] = "1"
LOCAL = ["--cluster", "local", "--gpus-per-node", "0"]
# 32 images in batches of 8: 4 iterations an epoch, one epoch of each stage, a checkpoint every 2 iterations.
PRETRAIN_TINY = [
    "MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "8", "SOLVER.IAS_EPOCHS", "1",
    "SOLVER.IRS_EPOCHS", "1", "CTC.IRS.NUM_NEGATIVES", "16", "CTC.ALPHA", "0.5", "DATALOADER.NUM_WORKERS", "0",
    "TEST.EVAL_PERIOD_EPOCHS", "0", "SOLVER.CHECKPOINT_PERIOD_ITERS", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    return write_tiny_cifar100(str(tmp_path_factory.mktemp("cifar")), num_train=32, num_test=8)


def pretrain_args(output, root):
    config = os.path.join(REPO, "configs", "pretrain", "cifar100_r18_ctc.yaml")
    return ["--config-file", config, *PRETRAIN_TINY, "DATASETS.ROOT", root, "OUTPUT_DIR", str(output)]


def job_tasks(job):
    """Process ids of the job's tasks: the children of submitit's local controller."""
    with open(f"/proc/{job._process.pid}/task/{job._process.pid}/children") as f:
        return [int(pid) for pid in f.read().split()]


def signal_after(submission, pattern, number=signal.SIGUSR2, timeout=300):
    """Send the job's task ``number`` (submitit's preemption signal) once a file matching ``pattern`` exists."""
    deadline = time.time() + timeout
    while not glob.glob(pattern):
        assert time.time() < deadline and submission.job._process.poll() is None, submission.job.stderr()
        time.sleep(0.05)
    for pid in job_tasks(submission.job):
        os.kill(pid, number)


def reference_run(tool, argv):
    """The uninterrupted run, in a fresh process as the job's is: an earlier test of this process may have
    changed torch's thread count, and CPU sums depend on it."""
    command = [sys.executable, "-m", f"ctc_plugin.cli.{tool}", *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600).returncode


def job_log(submission):
    return (submission.job.stdout() or "") + (submission.job.stderr() or "")


@pytest.mark.parametrize(
    "options, message",
    [
        (["--nodes", "0", "pretrain"], "--nodes 0 must be 1 or more"),
        (["--cluster", "local", "--nodes", "2", "pretrain"], "--cluster local runs on this machine: --nodes 1"),
        (["--timeout-min", "1", "--signal-delay-s", "60", "pretrain"], "--signal-delay-s 60 must lie in"),
        (["pretrain", "--num-gpus", "2"], "--num-gpus is set by the job: give --nodes and --gpus-per-node"),
        (["--cluster", "aws", "pretrain"], "argument --cluster: invalid choice: 'aws'"),
        (["detect"], "argument TOOL: invalid choice: 'detect'"),
        (["pretrain", "SOLVER.IAS_EPOCH", "3"], "unknown config key SOLVER.IAS_EPOCH"),
    ],
)
def test_bad_options_are_one_line_and_nothing_is_submitted(tmp_path, capsys, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    config = os.path.join(REPO, "configs", "pretrain", "cifar100_r18_ctc.yaml")
    tool = options.index("pretrain") + 1 if "pretrain" in options else len(options)
    argv = [*options[:tool], "--config-file", config, *options[tool:], "OUTPUT_DIR", str(tmp_path / "run")]
    assert submit.main(argv) == 2
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith("submit: error: ") and message in line, line
    assert not os.path.exists(tmp_path / "run" / "submitit")


def test_a_fresh_job_over_a_finished_run_is_refused_before_submission(tmp_path, cifar_root, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model_final.pth").write_bytes(b"a finished run")
    assert submit.main([*LOCAL, "pretrain", *pretrain_args(run, cifar_root)]) == 2
    assert "holds another run's checkpoints (model_final.pth)" in capsys.readouterr().err
    assert not (run / "submitit").exists()


@pytest.mark.slow
def test_a_preempted_pretraining_job_requeues_itself_and_ends_bitwise_as_the_uninterrupted_run(tmp_path, cifar_root):
    assert reference_run("pretrain", pretrain_args(tmp_path / "reference", cifar_root)) == 0
    run = tmp_path / "run"
    submission = submit.submit([*LOCAL, "--timeout-min", "60", "pretrain", *pretrain_args(run, cifar_root)])
    signal_after(submission, str(run / "model_iter_*.pth"))  # after its first checkpoint
    assert submit.wait(submission) == 0
    log = job_log(submission)
    stopped = int(re.search(r"preempted by SIGUSR2 after iteration (\d+) of 8", log).group(1))
    assert "this job is preempted" in log and "Requeued job" in log  # submitit's own lines
    assert f"Resuming from {run / f'model_iter_{stopped:07d}.pth'} at iteration {stopped}" in log
    assert_same_training_state(load_file(str(tmp_path / "reference" / "model_final.pth")),
                               load_file(str(run / "model_final.pth")))  # fmt: skip


@pytest.mark.slow
def test_a_job_past_its_allowed_timeouts_stops_with_one_line_naming_its_last_checkpoint(tmp_path, cifar_root, capsys):
    """With a 5-minute limit every signal counts as a timeout (after min(0.8 x limit, limit - 10 min))."""
    run = tmp_path / "run"
    argv = [*LOCAL, "--timeout-min", "5", "--max-timeouts", "0", "pretrain", *pretrain_args(run, cifar_root)]
    submission = submit.submit(argv)
    signal_after(submission, str(run / "model_iter_*.pth"))
    with pytest.raises(submit._JobEndedError) as ended:
        submit.wait(submission)
    assert ended.value.status == PREEMPTED_STATUS
    last = re.search(r"its last checkpoint is (\S+) \(submit it again with --resume", str(ended.value)).group(1)
    assert re.fullmatch(re.escape(str(run)) + r"/model_iter_\d{7}\.pth", last) and os.path.isfile(last)
    assert "reached its time limit more than --max-timeouts 0 times and was not requeued" in str(ended.value)
    assert not (run / "model_final.pth").exists()


@pytest.mark.slow
def test_a_preempted_fine_tuning_job_ends_bitwise_as_the_uninterrupted_run(tmp_path):
    from fixtures.checkpoints import assert_same_final_weights_and_momentum

    from ctc_plugin.convert.source import load_resnet_state_dict as load_any

    weights = str(tmp_path / "r18_timm.pth")
    convert_to_timm_file(*load_any(random_resnet(18, num_classes=100).state_dict()), weights)
    root = write_cub(str(tmp_path / "cub"))  # 9 training images, batches of 3: 3 iterations an epoch
    common = ["--config-file", os.path.join(REPO, "configs", "fgvc", "cub200_r50.yaml"), "MODEL.NAME", "resnet18"]
    common += ["MODEL.DEVICE", "cpu", "INPUT.SIZE", "32", "SOLVER.EPOCHS", "3", "SOLVER.IMS_PER_BATCH", "3"]
    common += ["DATALOADER.NUM_WORKERS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0", "SOLVER.CHECKPOINT_PERIOD_ITERS", "1"]
    common += ["DATASETS.ROOT", root, "MODEL.WEIGHTS", weights]
    assert reference_run("finetune_fgvc", [*common, "OUTPUT_DIR", str(tmp_path / "reference")]) == 0
    run = tmp_path / "run"
    submission = submit.submit([*LOCAL, "finetune-fgvc", *common, "OUTPUT_DIR", str(run)])
    signal_after(submission, str(run / "model_iter_*.pth"))
    assert submit.wait(submission) == 0
    log = job_log(submission)
    stopped = int(re.search(r"finetune_fgvc: preempted by SIGUSR2 after iteration (\d+) of 9", log).group(1))
    assert f"at iteration {stopped}" in log
    assert_same_final_weights_and_momentum(tmp_path / "reference", run)


@pytest.mark.slow
def test_a_preempted_train_net_job_resumes_its_iteration_and_weights(tmp_path, monkeypatch):
    datasets = write_tiny_coco(str(tmp_path / "datasets"))
    monkeypatch.setenv("DETECTRON2_DATASETS", datasets)  # read by the job's fresh process
    state_dict, arch = load_resnet_state_dict(random_resnet(18, seed=21).state_dict())
    weights = str(tmp_path / "r18.pkl")
    save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], weights)
    run = tmp_path / "run"
    opts = ["MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN", "128"]
    opts += ["INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "128", "SOLVER.IMS_PER_BATCH", "2"]
    opts += ["MODEL.RPN.BATCH_SIZE_PER_IMAGE", "32", "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32"]
    opts += ["SOLVER.MAX_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "2", "DATALOADER.NUM_WORKERS", "0"]
    opts += ["TEST.EVAL_PERIOD", "0"]
    monkeypatch.chdir(os.path.dirname(datasets))  # this process's checks read Detectron2's "datasets/coco/..."
    config = os.path.join(REPO, "configs", "coco_maskrcnn_ctc.yaml")
    submission = submit.submit([*LOCAL, "train-net", "--config-file", config, *opts, "MODEL.WEIGHTS", weights,
                                "OUTPUT_DIR", str(run)])  # fmt: skip
    signal_after(submission, str(run / "model_0000001.pth"))  # the periodic checkpoint after 2 iterations
    assert submit.wait(submission) == 0
    log = job_log(submission)
    stopped = int(re.search(r"train_net: preempted by SIGUSR2 after iteration (\d+) of 4", log).group(1))
    assert 2 <= stopped < 4 and f"Starting training from iteration {stopped}" in log
    assert load_file(str(run / "model_final.pth"))["iteration"] == 3


def test_submitit_is_imported_by_the_job_launchers_only_and_lazily():
    importers = []
    for folder, _, files in os.walk(os.path.join(REPO, "ctc_plugin")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name)) as f:
                    text = f.read()
                if re.search(r"^\s*(import submitit|from submitit)", text, re.M):
                    importers.append(os.path.relpath(os.path.join(folder, name), REPO))
                    assert not re.search(r"^(import submitit|from submitit)", text, re.M), name  # not at module level
    # ctc-submit's one-tool job, ctc-study's chain jobs and their shared executor.
    expected = [("cli", "submit.py"), ("study", "cluster.py"), ("utils", "jobs.py")]
    assert sorted(importers) == [os.path.join("ctc_plugin", *parts) for parts in expected]
