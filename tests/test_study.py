"""ctc-study end to end: named arms over seeds into one results.json and report, the same numbers
serially, with --jobs 2 and as cluster jobs, a downstream task registered here, and interruptions."""

import json
import os
import signal
import subprocess
import sys

import pytest
from fixtures.datasets import write_fashion_mnist

from ctc_plugin.cli import study
from ctc_plugin.study import Command, DownstreamTask, register_task
from ctc_plugin.study.report import build_report
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(REPO, "configs", "studies", "tiny.yaml")
ARMS = (
    "[{'NAME': 'plain', 'CONFIG': 'configs/pretrain/fashion_mnist_r18_baseline.yaml', "
    "'OPTS': ['INPUT.CROP_AND_FLIP', 'False']}, "
    "{'NAME': 'no_ias', 'CONFIG': 'configs/pretrain/fashion_mnist_r18_ctc.yaml', 'OPTS': ['CTC.ALPHA', '0.0']}]"
)
# What differs between two runs of the same study besides its numbers.
VOLATILE = {"seconds", "last_seconds", "provenance"}


@register_task
class ToyTask(DownstreamTask):
    """A task defined outside the package: the weights' root mean square, through tests/toy_downstream.py."""

    name = "toy"
    target = "timm"
    title = "Toy: the weights' size"
    metrics = {"weight_norm": ("toy_weight_norm", "RMS of the weights")}

    def add_config(self, cfg):
        from fvcore.common.config import CfgNode as CN

        cfg.TOY = CN()
        # Unused by the tool; shows that a task brings its own keys.
        cfg.TOY.NOTE = "the weights' root mean square"

    def prepare(self, cfg, out):
        return {"note": f"A task registered in a test ({cfg.TOY.NOTE})."}

    def command(self, cfg, init, seed, record, run_dir, prepared):
        path = os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])
        return Command("toy_downstream", (init or "", run_dir, str(seed)), (("PYTHONPATH", path),))

    def read(self, run_dir):
        with open(os.path.join(run_dir, "results.json")) as f:
            return json.load(f)


def _argv(tmp_path, folder, *opts):
    fashion = tmp_path / "fashion-mnist"
    if not fashion.exists():
        write_fashion_mnist(str(fashion), count=200)
    return ["--config-file", TINY, "OUTPUT_DIR", str(tmp_path / folder), "PRETRAIN.DATASETS_ROOT", str(fashion),
            "FGVC.FASHION_ROOT", str(fashion), "ARMS", ARMS, "THREADS", "1", *opts]  # fmt: skip


def _numbers(results):
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        return [strip(v) for v in value] if isinstance(value, list) else value

    return strip(results["per_seed"])


@pytest.mark.slow
def test_a_study_gives_the_same_numbers_serially_with_two_jobs_and_as_cluster_jobs(tmp_path, capsys):
    opts = ["SEEDS", "[0]", "MI.ARMS", "['no_ias']", "DOWNSTREAM.INITS", "['no_ias', 'random']",
            "DOWNSTREAM.TASKS", "['fgvc', 'toy']"]  # fmt: skip
    assert study.main(_argv(tmp_path, "serial", *opts)) == 0
    shown = capsys.readouterr().out
    assert "study: seed0_pretrain_plain: iteration " in shown and "study: seed0_toy_no_ias: toy_downstream " in shown
    results = json.loads((tmp_path / "serial" / "results.json").read_text())
    numbers = results["per_seed"]["0"]
    assert results["seeds"] == [0] and results["threads"] == 1 and set(numbers["runs"]) == {"plain", "no_ias"}
    assert {row["run"] for row in numbers["transfer"]} == {"plain", "no_ias"} and {
        r["epoch"] for r in numbers["transfer"]
    } == {1, 2}
    assert {row["run"] for row in numbers["mi"]} == {"no_ias"}  # MI.ARMS
    assert set(numbers["fgvc"]) == set(numbers["toy"]) == {"no_ias", "random"}
    assert numbers["toy"]["no_ias"]["weight_norm"] != numbers["toy"]["random"]["weight_norm"]
    assert numbers["runs"]["plain"]["network"] == "ResNet-18 (ImageNet stem)"
    provenance = numbers["runs"]["plain"]["provenance"]
    assert (provenance["torch_threads"], provenance["omp_num_threads"], provenance["resumptions"]) == (1, "1", 0)
    # Commands are relative to the study's folder.
    assert all(str(tmp_path) not in step["command"].replace(str(tmp_path / "fashion-mnist"), "")
               for step in results["steps"])  # fmt: skip
    assert results["tasks"]["toy"]["note"] == "A task registered in a test (the weights' root mean square)."
    report = (tmp_path / "serial" / "report.md").read_text()
    assert "## Toy: the weights' size" in report and "| no_ias weights | " in report
    assert "Arms: plain, no_ias (reference: plain)" in report and "## Detectron2" not in report
    assert "Mask R-CNN" not in report and "fine-tunes are scored on 10 test images" in report
    findings = json.loads((tmp_path / "serial" / "findings.json").read_text())
    assert ("toy_weight_norm", "no_ias", "random") in {
        (r["metric"], r["arm"], r["reference"]) for r in findings["findings"]
    }
    for plot in ("temporal_transfer.png", "source_accuracy.png", "information_plane.png"):
        assert (tmp_path / "serial" / plot).stat().st_size > 1000

    # Nothing left to run: every step is skipped.
    assert study.main(_argv(tmp_path, "serial", *opts)) == 0
    assert "iteration " not in capsys.readouterr().out
    assert json.loads((tmp_path / "serial" / "results.json").read_text())["total_seconds"] == results["total_seconds"]

    # The same numbers, bitwise, two steps at a time and as submitit jobs (on this machine).
    assert study.main(["--jobs", "2", *_argv(tmp_path, "jobs", *opts)]) == 0
    assert study.main(["--cluster", "local", *_argv(tmp_path, "cluster", *opts)]) == 0
    for folder in ("jobs", "cluster"):
        assert _numbers(json.loads((tmp_path / folder / "results.json").read_text())) == _numbers(results)
    assert set(json.loads((tmp_path / "cluster" / "jobs.json").read_text())) == {
        "seed0_plain", "seed0_no_ias", "seed0_random",
    }  # fmt: skip


@pytest.mark.parametrize(
    "opts, message",
    [
        (["ARMS", "[{'NAME': 'a'}]"], "ARMS[0] must be a mapping with NAME and CONFIG"),
        (["ARMS", "[{'NAME': 'a', 'CONFIG': 'x.yaml', 'OTPS': []}]"], "ARMS[0] (a) has unknown key(s) ['OTPS']"),
        (["ARMS", "[{'NAME': 'a', 'CONFIG': 'x'}, {'NAME': 'a', 'CONFIG': 'y'}]"], "ARMS names must differ"),
        (["ARMS", "[{'NAME': 'a', 'CONFIG': 'x', 'OPTS': ['SEED']}]"], "OPTS must be a list of KEY VALUE pairs"),
        (["REFERENCE_ARM", "ctcc"], "REFERENCE_ARM 'ctcc' is not an arm; arms: ['baseline', 'ctc']"),
        (["ARMS", "[]"], "ARMS must be a non-empty list"),
        (["ONLY_ARMS", "['ctcc']"], "ONLY_ARMS must name distinct arms (baseline, ctc), got ['ctcc']"),
        (["ONLY_ARMS", "['ctc']"], "DOWNSTREAM.INITS must name arms (ctc) or random"),  # the baseline runs not
        (["ANALYSIS.PRIMARY.ARM", "ctcc"], "ANALYSIS.PRIMARY.ARM 'ctcc' is not an arm; arms: ['baseline', 'ctc']"),
        (["ANALYSIS.PRIMARY.ARM", "baseline"], "ANALYSIS.PRIMARY compares 'baseline' with itself"),
        (["ANALYSIS.PRIMARY.METRIC", "best_transfer"], "ANALYSIS.PRIMARY.METRIC must be one of ['final_transfer'"),
        (["ANALYSIS.EARLY_WINDOW", "[0.5, 0.2]"], "ANALYSIS.EARLY_WINDOW must be [from, to] fractions"),
        (["ANALYSIS.LATE_FALL_TEST", "peak"], "ANALYSIS.LATE_FALL_TEST must be one of ['window', 'slope']"),
        (["TRANSFER.DRAWS", "0"], "TRANSFER.DRAWS must be an integer of 1 or more, got 0"),
        (["PRETRAIN.KEEP_CHECKPOINTS", "last"], "PRETRAIN.KEEP_CHECKPOINTS must be one of ['all', 'final']"),
        (["ANALYSIS.COMPARISONS", "[['ctc', 'ctcc']]"], "ANALYSIS.COMPARISONS entries must be [ARM, REFERENCE] of two"),
        (["DOWNSTREAM.TASKS", "['segmentation']"], "DOWNSTREAM.TASKS: no downstream task 'segmentation' is registered"),
        (["MI.ARMS", "['ctcc']"], "MI.ARMS must name arms (baseline, ctc), got ['ctcc']"),
        (["SEEDS", "[1, 1]"], "SEEDS must be distinct integers of 0 or more, got [1, 1]"),
        (["DOWNSTREAM.INITS", "['imagenet']"], "DOWNSTREAM.INITS must name arms (baseline, ctc) or random"),
        (["--jobs", "0"], "--jobs 0 must be 1 or more"),
        (["--cluster", "local", "--timeout-min", "0"], "--timeout-min 0 must be 1 or more"),
    ],
)
def test_study_refuses_what_it_cannot_run(tmp_path, capsys, opts, message):
    flags = opts if opts[0].startswith("--") else []  # flags, or KEY VALUE overrides
    argv = [*flags, "--config-file", TINY, "OUTPUT_DIR", str(tmp_path / "s"), *(opts if not flags else [])]
    assert study.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("study: error: ") and message in error and "\n" not in error
    assert not (tmp_path / "s").exists()


def test_report_only_needs_results(tmp_path, capsys):
    assert study.main(["--config-file", TINY, "OUTPUT_DIR", str(tmp_path / "d"), "--report-only"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"study: error: no results to report: {tmp_path / 'd' / 'results.json'} does not exist (run the study first)"
    )


def test_a_study_keeps_the_analysis_plan_it_recorded_before_its_seeds_ran(tmp_path):
    from ctc_plugin.config import merge_config
    from ctc_plugin.study.config import get_study_cfg
    from ctc_plugin.study.runner import recorded_plan

    def plan(*opts):
        return recorded_plan(merge_config(get_study_cfg(), TINY, list(opts)), str(tmp_path))

    declared = plan("ANALYSIS.PRIMARY.ARM", "ctc")
    assert declared.registered and declared.primary_arm == "ctc"  # no results yet: pre-registered
    (tmp_path / "results.json").write_text(json.dumps({"seeds": [0], "analysis": declared.to_dict()}))
    assert plan("ANALYSIS.PRIMARY.ARM", "ctc") == declared
    with pytest.raises(UserError, match="ANALYSIS differs from the plan this study recorded before its seeds ran"):
        plan("ANALYSIS.PRIMARY.ARM", "ctc", "ANALYSIS.FINAL_CHECKPOINTS", "5")
    # Results from before plans were recorded: whatever plan is given now is post hoc.
    (tmp_path / "results.json").write_text(json.dumps({"seeds": [0]}))
    assert not plan("ANALYSIS.PRIMARY.ARM", "ctc").registered


def test_report_reads_the_demo_results_from_before_arms():
    with open(os.path.join(REPO, "docs", "results", "fashion_mnist_study", "results.json")) as f:
        results = json.load(f)
    assert "arms" not in results and "tasks" not in results
    report = build_report(results)
    assert "Arms: baseline, ctc (reference: baseline)" in report
    assert (
        "- Final source test top-1, ctc minus baseline: -0.89 points, 95% CI [-5.78, +4.01], p 0.518 "
        "(Holm-adjusted p 1.000), 2 of 3 seeds agree: **no difference shown**." in report
    )
    assert "- box AP, ctc weights minus random initialisation: +6.43 points" in report
    assert "The Mask R-CNN runs train for 100 iterations and the fine-tunes are scored on 200 test images" in report


@pytest.mark.slow
def test_an_interrupted_parallel_study_stops_its_steps_and_continues(tmp_path):
    small = "['DATASETS.IMAGES_PER_CLASS', '8', 'SOLVER.IMS_PER_BATCH', '4', 'SOLVER.IAS_EPOCHS', '2', "
    small += "'SOLVER.IRS_EPOCHS', '1', 'TRAINER.LOG_PERIOD', '2', 'TEST.IMS_PER_BATCH', '64']"
    argv = _argv(tmp_path, "s", "SEEDS", "[0]", "MI.ENABLED", "False", "DOWNSTREAM.INITS", "[]", "PRETRAIN.OPTS", small)
    command = [sys.executable, "-m", "ctc_plugin.cli.study", "--jobs", "2", *argv]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    training = set()
    for line in process.stdout:  # both arms are training
        if ": iteration " in line:
            training.add(line.split(":")[1].strip())
        if len(training) == 2:
            break
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err.strip() == "study: interrupted"
    # The steps stopped with their study, after a checkpoint; nothing of the study is still running.
    running = subprocess.run(["pgrep", "-f", str(tmp_path / "s")], capture_output=True, text=True).stdout
    assert running.strip() == ""
    ledger = json.loads((tmp_path / "s" / "steps.json").read_text())
    assert sorted((s["name"], s["finished"]) for s in ledger) == [("seed0_pretrain_no_ias", False),
                                                                  ("seed0_pretrain_plain", False)]  # fmt: skip

    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for arm in ("plain", "no_ias"):
        assert "Resuming from" in (tmp_path / "s" / "logs" / f"seed0_pretrain_{arm}.log").read_text()
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    assert set(results["per_seed"]["0"]["runs"]) == {"plain", "no_ias"}
    assert all(r["provenance"]["resumptions"] == 1 for r in results["per_seed"]["0"]["runs"].values())
