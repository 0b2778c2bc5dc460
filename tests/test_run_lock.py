"""One run per output folder: a second run on a held folder is refused, a dead holder keeps
nothing, and a fresh start over a finished run is refused unless ``--overwrite``."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from fixtures.datasets import write_cub, write_tiny_cifar100, write_tiny_coco
from fixtures.log_streams import rebind_closed_log_streams
from fixtures.networks import random_resnet

from ctc_plugin.cli import finetune_fgvc, pretrain, train_net
from ctc_plugin.convert import detectron2_checkpoint, load_resnet_state_dict, save_detectron2_pickle
from ctc_plugin.utils.errors import UserError
from ctc_plugin.utils.run_lock import LOCK_FILE, RunLock

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["HF_HUB_OFFLINE"] = "1"
# 32 images in batches of 8, one epoch of stage 1 only: 4 iterations.
PRETRAIN_TINY = [
    "MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "8", "DATALOADER.NUM_WORKERS", "0",
    "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0",
]  # fmt: skip
HOLD = "import sys, time\nfrom ctc_plugin.utils.run_lock import RunLock\nRunLock(sys.argv[1]).acquire()\n"
HOLD += "print('held', flush=True)\ntime.sleep(600)\n"


@pytest.fixture(autouse=True)
def log_streams_of_this_test():
    rebind_closed_log_streams()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, host, pid, age_s=0.0):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    with open(path, "w") as f:
        json.dump({"host": host, "pid": pid, "started": "2026-01-01T00:00:00+00:00"}, f)
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return path


def test_the_lock_names_its_holder_and_a_dead_or_silent_one_keeps_nothing(tmp_path):
    held = RunLock(str(tmp_path / "a"))
    with held:
        with pytest.raises(UserError, match=f"in use by another run: process {os.getpid()} on {socket.gethostname()}"):
            RunLock(str(tmp_path / "a")).acquire()
    assert not (tmp_path / "a" / LOCK_FILE).exists()  # released
    write_lock(tmp_path / "b", socket.gethostname(), dead_pid())  # a holder on this host that died
    with RunLock(str(tmp_path / "b")) as lock:
        assert lock.holder["pid"] == os.getpid()
    write_lock(tmp_path / "c", "gpu-node-17", 4242, age_s=10)  # another host, refreshed 10 s ago
    with pytest.raises(UserError, match="process 4242 on gpu-node-17, started 2026-01-01"):
        RunLock(str(tmp_path / "c")).acquire()
    write_lock(tmp_path / "c", "gpu-node-17", 4242, age_s=3600)  # not refreshed for an hour
    with RunLock(str(tmp_path / "c")):
        pass


def test_the_holder_refreshes_its_lock(tmp_path):
    with RunLock(str(tmp_path), heartbeat_s=0.05) as lock:
        os.utime(lock.path, (time.time() - 3600, time.time() - 3600))
        deadline = time.time() + 60  # a heartbeat thread on a busy machine may wait long for a core
        while time.time() - os.path.getmtime(lock.path) > 60 and time.time() < deadline:
            time.sleep(0.05)
        assert time.time() - os.path.getmtime(lock.path) < 60


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    return write_tiny_cifar100(str(tmp_path_factory.mktemp("cifar")), num_train=32, num_test=8)


def pretrain_argv(output, root, *flags):
    config = os.path.join(REPO, "configs", "pretrain", "cifar100_r18_ctc.yaml")
    return [*flags, "--config-file", config, *PRETRAIN_TINY, "DATASETS.ROOT", root, "OUTPUT_DIR", str(output)]


def one_line(capsys, tool):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"{tool}: error: ") and sum(x.startswith(f"{tool}:") for x in err.splitlines()) == 1
    return line


def test_finetune_and_train_net_hold_their_folder_and_refuse_a_fresh_start_over_checkpoints(
    tmp_path, capsys, monkeypatch
):
    cub = write_cub(str(tmp_path / "cub"))
    fgvc = ["--config-file", os.path.join(REPO, "configs", "fgvc", "cub200_r50.yaml"), "MODEL.NAME", "resnet18"]
    fgvc += [
        "MODEL.DEVICE",
        "cpu",
        "SOLVER.IMS_PER_BATCH",
        "4",
        "DATASETS.ROOT",
        cub,
        "OUTPUT_DIR",
        str(tmp_path / "fgvc"),
    ]
    datasets = write_tiny_coco(str(tmp_path / "datasets"))
    state_dict, arch = load_resnet_state_dict(random_resnet(18, seed=5).state_dict())
    weights = str(tmp_path / "r18.pkl")
    save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], weights)
    detection = ["--config-file", os.path.join(REPO, "configs", "coco_maskrcnn_ctc.yaml"), "MODEL.DEVICE", "cpu"]
    detection += ["MODEL.WEIGHTS", weights, "OUTPUT_DIR", str(tmp_path / "detection")]
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)
    monkeypatch.chdir(os.path.dirname(datasets))  # Detectron2's builtin COCO paths are "datasets/coco/..."
    for tool, name, argv in ((finetune_fgvc, "finetune_fgvc", fgvc), (train_net, "train_net", detection)):
        output = argv[-1]
        with RunLock(output):
            assert tool.main(argv) == 2
            assert f"OUTPUT_DIR {output} is in use by another run: process {os.getpid()}" in one_line(capsys, name)
        checkpoint = os.path.join(output, "model_final.pth")
        with open(checkpoint, "wb") as f:
            f.write(b"another run's")
        assert tool.main(argv) == 2
        assert f"OUTPUT_DIR {output} holds another run's checkpoints (model_final.pth)" in one_line(capsys, name)
        assert os.path.isfile(checkpoint) and not os.path.exists(os.path.join(output, LOCK_FILE))


def test_pretrain_one_run_per_folder_and_no_fresh_start_over_a_finished_run(tmp_path, cifar_root, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert pretrain.main(pretrain_argv(run, cifar_root, "--resume")) == 2
        line = one_line(capsys, "pretrain")
        assert f"OUTPUT_DIR {run} is in use by another run: process {holder.pid} on {socket.gethostname()}" in line
    finally:
        holder.send_signal(signal.SIGKILL)  # gone without releasing: its lock stays, and holds nothing
        holder.wait()
    assert (run / LOCK_FILE).exists()
    stale = run / "model_iter_0000002.pth"
    stale.write_bytes(b"a checkpoint of the previous run")
    assert pretrain.main(pretrain_argv(run, cifar_root)) == 2
    line = one_line(capsys, "pretrain")
    assert (
        f"OUTPUT_DIR {run} holds another run's checkpoints (model_iter_0000002.pth): continue it with --resume, "
        in line
    )
    assert line.endswith("or start over with --overwrite (deletes them)")
    assert pretrain.main(pretrain_argv(run, cifar_root, "--resume", "--overwrite")) == 2
    assert "give one of them" in one_line(capsys, "pretrain")

    assert pretrain.main(pretrain_argv(run, cifar_root, "--overwrite")) == 0  # the dead holder's lock is replaced
    assert not stale.exists() and (run / "model_final.pth").exists() and not (run / LOCK_FILE).exists()
    assert pretrain.main(pretrain_argv(run, cifar_root)) == 2  # a fresh start over the finished run
    line = one_line(capsys, "pretrain")
    assert f"OUTPUT_DIR {run} holds another run's checkpoints (last_checkpoint, model_epoch_0001.pth, " in line
