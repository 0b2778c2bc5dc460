"""The study's step runner and scheduler with stand-in commands: ledger, resume, dependencies, --jobs."""

import json
import os
import signal
import subprocess
import threading
import time
from types import SimpleNamespace

import pytest

from ctc_plugin.study import steps
from ctc_plugin.study.graph import Step
from ctc_plugin.study.schedule import run_steps
from ctc_plugin.study.steps import StepRunner
from ctc_plugin.utils.errors import UserError


@pytest.fixture
def ctrl_c_interrupts():
    """SIGINT raises KeyboardInterrupt here, as at a terminal: a shell's background job starts with SIGINT
    ignored, and Python then installs no handler of its own."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _shell(events):
    """A command factory: each step is ``sh -c``, logging its start and end to ``events``."""

    def factory(step):
        return ["sh", "-c", f"echo start {step.name} >> {events}; {' '.join(step.args)}; s=$?; "
                            f"echo end {step.name} >> {events}; exit $s"]  # fmt: skip

    return factory


def _graph(sleep="0.2"):
    # Two chains of a pretraining, then its probe and its conversion; a third chain on its own.
    steps = []
    for arm, length in (("a", sleep), ("b", str(2 * float(sleep)))):  # b's pretraining ends later
        steps.append(Step(f"seed0_pretrain_{arm}", "pretrain", ("sleep", length), f"seed0_{arm}", 0))
        for after in ("probe", "convert"):
            steps.append(Step(f"seed0_{after}_{arm}", after, ("sleep", sleep), f"seed0_{arm}", 0,
                              (f"seed0_pretrain_{arm}",)))  # fmt: skip
    steps.append(Step("seed0_fgvc_random", "finetune_fgvc", ("sleep", sleep), "seed0_random", 0))
    return steps


def _events(path):
    return [tuple(line.split()) for line in path.read_text().splitlines()]


def _most_at_once(events):
    running, most = 0, 0
    for kind, _ in events:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    return most


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_steps_follow_their_needs_and_run_at_most_n_at_once(tmp_path, jobs):
    events = tmp_path / "events"
    runner = StepRunner(str(tmp_path / "s"), {}, command_factory=_shell(events))
    done = []
    run_steps(_graph(), runner, jobs, on_done=lambda step: done.append(step.name))
    order = _events(events)
    position = {event: i for i, event in enumerate(order)}
    for step in _graph():
        for need in step.needs:  # a step starts only after what it needs has ended
            assert position[("end", need)] < position[("start", step.name)]
    assert _most_at_once(order) == jobs and sorted(done) == sorted(s.name for s in _graph())
    # An arm's analyses start as soon as its own pretraining ends, while the other arm still pretrains.
    assert position[("start", "seed0_probe_a")] < position[("end", "seed0_pretrain_b")]
    ledger = json.loads((tmp_path / "s" / "steps.json").read_text())
    commands = {step["name"]: step["command"] for step in ledger}
    assert commands["seed0_pretrain_a"] == "pretrain sleep 0.2" and commands["seed0_pretrain_b"] == "pretrain sleep 0.4"
    assert len(ledger) == 7 and all(step["finished"] for step in ledger)


def test_two_jobs_take_about_half_the_time_of_one(tmp_path):
    seconds = {}
    for jobs in (1, 2):
        runner = StepRunner(str(tmp_path / f"s{jobs}"), {}, command_factory=_shell(tmp_path / f"e{jobs}"))
        start = time.perf_counter()
        run_steps(_graph("0.3"), runner, jobs)
        seconds[jobs] = time.perf_counter() - start
    assert seconds[2] < 0.75 * seconds[1]  # 7 steps: 2.7 s serially, 1.5 s two at a time


def test_a_rerun_skips_finished_steps_and_reruns_changed_ones(tmp_path):
    events = tmp_path / "events"
    runner = StepRunner(str(tmp_path / "s"), {}, command_factory=_shell(events))
    run_steps(_graph("0"), runner, 2)
    events.unlink()
    run_steps(_graph("0"), StepRunner(str(tmp_path / "s"), {}, command_factory=_shell(events)), 2)
    assert not events.exists()  # nothing ran again
    changed = [s if s.name != "seed0_probe_b" else Step(s.name, s.tool, ("sleep", "0.01"), s.chain, 0, s.needs)
               for s in _graph("0")]  # fmt: skip
    run_steps(changed, StepRunner(str(tmp_path / "s"), {}, command_factory=_shell(events)), 2)
    assert [name for kind, name in _events(events) if kind == "start"] == ["seed0_probe_b"]
    # A study that gains a seed runs only what is new.
    events.unlink()
    new_seed = [Step(s.name.replace("seed0", "seed1"), s.tool, s.args, s.chain.replace("seed0", "seed1"), 1,
                     tuple(n.replace("seed0", "seed1") for n in s.needs)) for s in _graph("0")]  # fmt: skip
    run_steps(changed + new_seed, StepRunner(str(tmp_path / "s"), {}, command_factory=_shell(events)), 2)
    assert {name for kind, name in _events(events) if kind == "start"} == {s.name for s in new_seed}


def test_a_failed_step_stops_what_needs_it_and_names_its_log(tmp_path):
    events = tmp_path / "events"
    steps = [s if s.name != "seed0_pretrain_a" else Step(s.name, s.tool, ("exit", "3"), s.chain, 0) for s in _graph()]
    runner = StepRunner(str(tmp_path / "s"), {}, command_factory=_shell(events))
    with pytest.raises(UserError) as raised:
        run_steps(steps, runner, 2)
    log = tmp_path / "s" / "logs" / "seed0_pretrain_a.log"
    assert str(raised.value) == f"step seed0_pretrain_a failed (exit 3); its output is in {log}"
    started = {name for kind, name in _events(events) if kind == "start"}
    assert "seed0_probe_a" not in started and "seed0_convert_a" not in started
    ledger = {s["name"]: s["finished"] for s in json.loads((tmp_path / "s" / "steps.json").read_text())}
    assert ledger["seed0_pretrain_a"] is False and all(v for k, v in ledger.items() if k != "seed0_pretrain_a")


def test_an_interrupted_parallel_study_continues_where_it_stopped(tmp_path, ctrl_c_interrupts):
    out, events = str(tmp_path / "s"), tmp_path / "events"

    def interrupt_when_two_run():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (events.exists() and len(events.read_text().splitlines()) >= 2):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C (ctc-study turns SIGTERM into the same) while both pretrain

    def exec_factory(step):  # the step's process is the sleep itself, as a tool's is (same pid)
        return ["sh", "-c", f"echo start {step.name} $$ >> {events}; exec {' '.join(step.args)}"]

    threading.Thread(target=interrupt_when_two_run, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_steps(_graph("30"), StepRunner(out, {}, command_factory=exec_factory), 2)
    ledger = json.loads((tmp_path / "s" / "steps.json").read_text())
    assert sorted((s["name"], s["finished"]) for s in ledger) == [("seed0_pretrain_a", False),
                                                                  ("seed0_pretrain_b", False)]  # fmt: skip
    pids = [line.split()[2] for line in events.read_text().splitlines()]
    assert len(pids) == 2 and not any(os.path.exists(f"/proc/{pid}") for pid in pids)  # stopped and reaped
    events.unlink()
    run_steps(_graph("0"), StepRunner(out, {}, command_factory=_shell(events)), 2)
    assert len(_events(events)) == 14  # the 7 steps ran: the stopped ones again, then the rest
    ledger = json.loads((tmp_path / "s" / "steps.json").read_text())
    assert len(ledger) == 7 and all(s["finished"] for s in ledger)


def test_only_final_networks_are_kept_once_their_readers_finished(tmp_path):
    from ctc_plugin.study.retention import prune_checkpoints

    run = tmp_path / "seed0" / "pretrain" / "a"
    run.mkdir(parents=True)
    names = ["model_epoch_0003.pth", "model_epoch_0006.pth", "model_iter_0000042.pth", "model_final.pth"]
    for name in names:
        (run / name).write_bytes(b"x" * 10)
    steps = [
        Step("seed0_pretrain_a", "pretrain", (), "seed0_a", 0, output=str(run)),
        Step("seed0_probe_a", "temporal_transfer", (), "seed0_a", 0, ("seed0_pretrain_a",)),
        Step("seed0_mine_a", "estimate_mi", (), "seed0_a", 0, ("seed0_pretrain_a",)),
        Step("seed0_convert_a_timm", "convert_weights", (), "seed0_a", 0, ("seed0_pretrain_a",)),
    ]
    # The probe finished, MINE not yet: nothing goes.
    assert prune_checkpoints(steps, {"seed0_pretrain_a", "seed0_probe_a"}) == 0
    assert sorted(os.listdir(run)) == sorted(names)
    # Every reader of the epoch checkpoints finished: only model_final.pth stays (the converter reads it).
    assert prune_checkpoints(steps, {"seed0_pretrain_a", "seed0_probe_a", "seed0_mine_a"}) == 30
    assert os.listdir(run) == ["model_final.pth"]


def test_a_step_whose_process_starts_as_the_study_is_interrupted_is_stopped_too(
    tmp_path, monkeypatch, ctrl_c_interrupts
):
    """The interruption comes between a step's process starting and the runner holding it (a
    starved thread on a busy machine): stopping waits for it and stops it, rather than miss it."""
    started = threading.Event()

    def popen_then_stall(*args, **kwargs):
        process = subprocess.Popen(*args, **kwargs)
        started.set()
        time.sleep(1)  # the thread is not scheduled for a while
        return process

    stalled = SimpleNamespace(Popen=popen_then_stall, PIPE=subprocess.PIPE, STDOUT=subprocess.STDOUT)
    monkeypatch.setattr(steps, "subprocess", stalled)

    def interrupt_when_started():
        started.wait(30)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    begin = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_steps(
            _graph("30")[:1], StepRunner(str(tmp_path / "s"), {}, command_factory=lambda step: list(step.args)), 1
        )
    assert time.monotonic() - begin < 25  # not the step's 30 s
    (step,) = json.loads((tmp_path / "s" / "steps.json").read_text())
    assert (step["name"], step["finished"]) == ("seed0_pretrain_a", False)
