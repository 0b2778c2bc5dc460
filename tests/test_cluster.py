"""On a cluster: preemption (SIGTERM mid-epoch, a checkpoint at that iteration, a bitwise resume),
and the processes started by torchrun or srun instead of Detectron2's launch.

Every run is the real tool in its own process group, signalled as a scheduler signals a job:
the whole group at once, loader workers included.
"""

import os
import re
import signal
import socket
import subprocess
import sys

import pytest
import torch
from fixtures.checkpoints import assert_same_training_state
from fixtures.datasets import write_tiny_cifar100

from ctc_plugin.checkpoint import load_file
from ctc_plugin.utils.errors import PREEMPTED_STATUS, UserError
from ctc_plugin.utils.launcher import detect_launcher, first_host

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml")
PRETRAIN = [sys.executable, os.path.join(REPO, "tools", "pretrain.py")]
RANK_DUMP = [sys.executable, os.path.join(REPO, "tests", "rank_dump.py")]
# 64 images in batches of 4: 16 iterations an epoch, one epoch of each stage, a loader worker.
PREEMPTED_RUN = [
    "MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "4", "SOLVER.IAS_EPOCHS", "1",
    "SOLVER.IRS_EPOCHS", "1", "CTC.IRS.NUM_NEGATIVES", "32", "CTC.ALPHA", "0.5", "DATALOADER.NUM_WORKERS", "1",
    "TEST.EVAL_PERIOD_EPOCHS", "0", "TRAINER.LOG_PERIOD", "1",
]  # fmt: skip
ITERS_PER_EPOCH = 16
# Two processes: batches of 16 (8 each), 4 iterations an epoch.
TWO_PROCESSES = [
    "MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "16", "SOLVER.IAS_EPOCHS", "1",
    "SOLVER.IRS_EPOCHS", "1", "CTC.IRS.NUM_NEGATIVES", "32", "CTC.ALPHA", "0.5", "CTC.IRS.REFILL_MEMORY", "True",
    "DATALOADER.NUM_WORKERS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0",
]  # fmt: skip


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    return write_tiny_cifar100(str(tmp_path_factory.mktemp("cifar")), num_train=64, num_test=8)


def pretrain_command(output_dir, root, opts, flags=()):
    return [*PRETRAIN, *flags, "--config-file", CONFIG, *opts, "DATASETS.ROOT", root, "OUTPUT_DIR", str(output_dir)]


def signal_when_logged(command, marker, stderr_path, whole_group=True, signal_number=signal.SIGTERM):
    """Run ``command`` in a new process group; when a stdout line holds ``marker``, signal the
    group (or only the first process). Returns (exit status, stdout, stderr)."""
    with open(stderr_path, "w") as err:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
        )
        seen = []
        for line in process.stdout:
            seen.append(line)
            if marker in line:
                (os.killpg if whole_group else os.kill)(process.pid, signal_number)
                break
        rest, _ = process.communicate(timeout=600)
    with open(stderr_path) as err:
        return process.returncode, "".join(seen) + rest, err.read()


@pytest.fixture(scope="module")
def uninterrupted(cifar_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("uninterrupted")
    result = subprocess.run(pretrain_command(run, cifar_root, PREEMPTED_RUN), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return load_file(str(run / "model_final.pth"))


@pytest.mark.slow
@pytest.mark.parametrize("stage, marker", [(1, "iter: 2 "), (2, "iter: 19 ")], ids=["stage-1", "stage-2"])
def test_sigterm_mid_epoch_then_resume_is_bitwise_the_uninterrupted_run(
    tmp_path, cifar_root, uninterrupted, stage, marker
):
    run = tmp_path / "run"
    command = pretrain_command(run, cifar_root, PREEMPTED_RUN)
    status, _, stderr = signal_when_logged(command, marker, tmp_path / "stderr.txt")
    assert status == PREEMPTED_STATUS, stderr[-3000:]
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    match = re.fullmatch(
        r"pretrain: preempted by SIGTERM after iteration (\d+) of 32; checkpoint (\S+) written .*", last
    )
    assert match, last
    stopped, path = int(match.group(1)), match.group(2)
    assert stopped % ITERS_PER_EPOCH and (stopped - 1) // ITERS_PER_EPOCH + 1 == stage  # mid-epoch, in this stage
    assert path == str(run / f"model_iter_{stopped:07d}.pth")
    saved = load_file(path)
    assert (saved["iteration"], saved["ctc"]["stage"]) == (stopped - 1, stage)
    assert not (run / "model_final.pth").exists()

    resumed = subprocess.run(
        pretrain_command(run, cifar_root, PREEMPTED_RUN, ["--resume"]), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from {path} at iteration {stopped}" in resumed.stdout
    assert not list(run.glob("model_iter_*.pth"))  # the epoch checkpoints replaced it
    assert_same_training_state(uninterrupted, load_file(str(run / "model_final.pth")))


@pytest.mark.slow
def test_sigterm_to_detectron2_launch_stops_every_process_at_one_iteration(tmp_path, cifar_root):
    """Only the launching process is signalled (as Kubernetes signals PID 1): it passes the
    signal on, both processes stop after the same iteration, and the job exits 75."""
    run = tmp_path / "run"
    opts = TWO_PROCESSES + ["SOLVER.IAS_EPOCHS", "20", "TRAINER.LOG_PERIOD", "1"]
    command = pretrain_command(run, cifar_root, opts, ["--num-gpus", "2"])
    status, stdout, stderr = signal_when_logged(command, "iter: 5 ", tmp_path / "stderr.txt", whole_group=False)
    assert status == PREEMPTED_STATUS, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("pretrain: preempted by SIGTERM after iteration ") and "Traceback" not in stderr
    stopped = int(re.search(r"after iteration (\d+)", last).group(1))
    saved = load_file(str(run / f"model_iter_{stopped:07d}.pth"))
    assert saved["iteration"] == stopped - 1
    with open(run / "log.txt.rank1") as f:
        assert "SIGTERM received" in f.read()  # rank 1 got it from the launcher


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launcher_env(**variables):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "MASTER_")) and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    }
    env.update({k: str(v) for k, v in variables.items()})
    return env


def assert_ranks_agree(run):
    rank0 = torch.load(run / "rank0.pth", weights_only=True)
    rank1 = torch.load(run / "rank1.pth", weights_only=True)
    assert rank0.keys() == rank1.keys() and any(".bank." in key for key in rank0)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert (rank0["irs.memory_current"].norm(dim=1) - 1).abs().max() < 1e-5  # refilled: every slot written
    return rank0


@pytest.mark.slow
def test_torchrun_and_srun_processes_join_one_group_and_train_as_launch_does(tmp_path, cifar_root):
    """Detectron2's launch (--num-gpus 2), torchrun --nproc_per_node 2 and two srun-style tasks:
    each gives identical memories and weights on both ranks, and the three give the same ones."""
    opts = ["--config-file", CONFIG, *TWO_PROCESSES, "DATASETS.ROOT", cifar_root]
    runs = {}

    runs["launch"] = tmp_path / "launch"
    result = subprocess.run(
        [*RANK_DUMP, "--num-gpus", "2", *opts, "OUTPUT_DIR", str(runs["launch"])],
        capture_output=True, text=True, env=launcher_env(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    runs["torchrun"] = tmp_path / "torchrun"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run(
        [*torchrun, RANK_DUMP[1], *opts, "OUTPUT_DIR", str(runs["torchrun"])],
        capture_output=True, text=True, env=launcher_env(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    runs["srun"] = tmp_path / "srun"
    port = free_port()
    tasks = [
        subprocess.Popen(
            [*RANK_DUMP, *opts, "OUTPUT_DIR", str(runs["srun"])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=launcher_env(
                SLURM_PROCID=rank,
                SLURM_LOCALID=rank,
                SLURM_NTASKS=2,
                SLURM_JOB_NODELIST="localhost",
                MASTER_PORT=port,
                SLURM_JOB_ID=4242,
                SLURM_STEP_ID=0,
            ),
        )  # fmt: skip
        for rank in range(2)
    ]
    for task in tasks:
        _, stderr = task.communicate(timeout=600)
        assert task.returncode == 0, stderr[-3000:]

    states = {name: assert_ranks_agree(run) for name, run in runs.items()}
    for name in ("torchrun", "srun"):
        for key, value in states["launch"].items():
            assert torch.equal(value, states[name][key]), (name, key)


@pytest.mark.slow
def test_a_launcher_that_started_the_processes_refuses_num_gpus(tmp_path, cifar_root):
    env = launcher_env(RANK=0, WORLD_SIZE=2, LOCAL_RANK=0, LOCAL_WORLD_SIZE=2, MASTER_ADDR="127.0.0.1", MASTER_PORT=1)
    command = pretrain_command(tmp_path / "run", cifar_root, TWO_PROCESSES, ["--num-gpus", "2"])
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "pretrain: error: torchrun started 2 processes: drop --num-gpus and --num-machines"
    ]


@pytest.mark.parametrize(
    "nodelist, host",
    [("gnode[10,20,25,37]", "gnode10"), ("gpu[003-004,010]-ib,cpu1", "gpu003-ib"), ("node7", "node7"), ("a1,a2", "a1")],
)
def test_first_host_of_a_slurm_node_list(nodelist, host):
    assert first_host(nodelist) == host


def test_detect_launcher_reads_torchrun_and_slurm():
    torchrun = detect_launcher({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (torchrun.launcher, torchrun.rank, torchrun.local_size, torchrun.init_method) == ("torchrun", 3, 2, "env://")
    slurm = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_JOB_NODELIST": "gpu[01-04]"}
    slurm.update(SLURM_TASKS_PER_NODE="2(x4)", SLURM_JOB_ID="123456")
    srun = detect_launcher(slurm)
    assert (srun.rank, srun.world_size, srun.local_rank, srun.local_size) == (5, 8, 1, 2)
    assert srun.init_method == f"tcp://gpu01:{15000 + 123456 % 20000}"
    assert detect_launcher({**slurm, "SLURM_NTASKS": "1"}) is None  # one task starts its own processes
    assert detect_launcher({}) is None
    with pytest.raises(UserError, match="every node must run the same number of tasks"):
        detect_launcher({**slurm, "SLURM_TASKS_PER_NODE": "3,2,2,1"})
