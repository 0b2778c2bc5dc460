"""The study runner: named arms over seeds into one results.json and report, continued where it stopped."""

import json
import os
import signal
import subprocess
import sys

import pytest
from test_data import write_fashion_mnist

from ctc_plugin.cli import demo
from ctc_plugin.study.report import build_report
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARMS = (
    "[{'NAME': 'plain', 'CONFIG': 'configs/pretrain/fashion_mnist_r18_baseline.yaml', "
    "'OPTS': ['INPUT.CROP_AND_FLIP', 'False']}, "
    "{'NAME': 'no_ias', 'CONFIG': 'configs/pretrain/fashion_mnist_r18_ctc.yaml', 'OPTS': ['CTC.ALPHA', '0.0']}]"
)


def _argv(tmp_path, *opts):
    fashion = tmp_path / "fashion-mnist"
    if not fashion.exists():
        write_fashion_mnist(str(fashion), count=200)
    return ["--config-file", os.path.join(REPO, "configs", "demo", "tiny.yaml"), "OUTPUT_DIR", str(tmp_path / "s"),
            "PRETRAIN.DATASETS_ROOT", str(fashion), "ARMS", ARMS, "DOWNSTREAM.INITS", "[]", *opts]  # fmt: skip


def test_study_of_named_arms_continues_where_it_stopped(tmp_path, capsys):
    # One seed first, as a study cut short after its first seed would leave it.
    assert demo.main(_argv(tmp_path, "SEEDS", "[0]")) == 0
    first = json.loads((tmp_path / "s" / "results.json").read_text())
    assert first["seeds"] == [0] and [a["name"] for a in first["arms"]] == ["plain", "no_ias"]
    capsys.readouterr()

    assert demo.main(_argv(tmp_path, "SEEDS", "[0, 1]")) == 0
    shown = capsys.readouterr().out
    assert "demo: seed0_pretrain_plain: done before" in shown and "demo: seed1_pretrain_plain: iteration " in shown
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    assert results["seeds"] == [0, 1] and results["reference"] == "plain"
    assert results["total_seconds"] > first["total_seconds"]
    for numbers in results["per_seed"].values():
        assert set(numbers["runs"]) == {"plain", "no_ias"}
        assert (
            {row["run"] for row in numbers["transfer"]} == {row["run"] for row in numbers["mi"]} == {"plain", "no_ias"}
        )
        assert {int(row["epoch"]) for row in numbers["transfer"]} == {1, 2}
        assert numbers["detection"] == numbers["fgvc"] == numbers["conversion"] == {}
    # The arms' own overrides reached their runs.
    config = (tmp_path / "s" / "seed_1" / "pretrain" / "plain" / "config.yaml").read_text()
    assert "CROP_AND_FLIP: false" in config

    report = (tmp_path / "s" / "report.md").read_text()
    assert "Arms: plain, no_ias (reference: plain)" in report and "## Detectron2" not in report
    assert "Mask R-CNN" not in report and "fine-tunes" not in report  # no downstream run, none described
    assert "- Transfer at the end, no_ias minus plain: " in report
    assert "- Late fall of the transfer, plain: " in report and "## Analysis plan" in report
    findings = json.loads((tmp_path / "s" / "findings.json").read_text())
    assert {(r["metric"], r["arm"]) for r in findings["findings"]} >= {
        ("final_transfer", "no_ias"),
        ("late_fall", "plain"),
    }
    for plot in ("temporal_transfer.png", "source_accuracy.png", "information_plane.png"):
        assert (tmp_path / "s" / plot).stat().st_size > 1000

    # Nothing left to run: every step is skipped and the study's time does not change.
    assert demo.main(_argv(tmp_path, "SEEDS", "[0, 1]")) == 0
    assert "iteration " not in capsys.readouterr().out
    again = json.loads((tmp_path / "s" / "results.json").read_text())
    assert again["total_seconds"] == results["total_seconds"]


@pytest.mark.parametrize(
    "opts, message",
    [
        (["ARMS", "[{'NAME': 'a'}]"], "ARMS[0] must be a mapping with NAME and CONFIG"),
        (["ARMS", "[{'NAME': 'a', 'CONFIG': 'x.yaml', 'OTPS': []}]"], "ARMS[0] (a) has unknown key(s) ['OTPS']"),
        (["ARMS", "[{'NAME': 'a', 'CONFIG': 'x'}, {'NAME': 'a', 'CONFIG': 'y'}]"], "ARMS names must differ"),
        (["ARMS", "[{'NAME': 'a', 'CONFIG': 'x', 'OPTS': ['SEED']}]"], "OPTS must be a list of KEY VALUE pairs"),
        (["REFERENCE_ARM", "ctcc"], "REFERENCE_ARM 'ctcc' is not an arm; arms: ['baseline', 'ctc']"),
        (["ARMS", "[]"], "ARMS must be a non-empty list"),
        (["ANALYSIS.PRIMARY.ARM", "ctcc"], "ANALYSIS.PRIMARY.ARM 'ctcc' is not an arm; arms: ['baseline', 'ctc']"),
        (["ANALYSIS.PRIMARY.ARM", "baseline"], "ANALYSIS.PRIMARY compares 'baseline' with itself"),
        (["ANALYSIS.PRIMARY.METRIC", "best_transfer"], "ANALYSIS.PRIMARY.METRIC must be one of ['final_transfer'"),
        (["ANALYSIS.EARLY_WINDOW", "[0.5, 0.2]"], "ANALYSIS.EARLY_WINDOW must be [from, to] fractions"),
        (["ANALYSIS.LATE_FALL_TEST", "peak"], "ANALYSIS.LATE_FALL_TEST must be one of ['window', 'slope']"),
        (["TRANSFER.DRAWS", "0"], "TRANSFER.DRAWS must be an integer of 1 or more, got 0"),
    ],
)
def test_study_refuses_arms_it_cannot_run(tmp_path, capsys, opts, message):
    argv = ["--config-file", os.path.join(REPO, "configs", "demo", "tiny.yaml"), "OUTPUT_DIR", str(tmp_path / "s")]
    assert demo.main([*argv, *opts]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("demo: error: ") and message in error and "\n" not in error
    assert not (tmp_path / "s").exists()


def test_a_study_keeps_the_analysis_plan_it_recorded_before_its_seeds_ran(tmp_path):
    from ctc_plugin.config import merge_config
    from ctc_plugin.study.config import get_study_cfg
    from ctc_plugin.study.runner import recorded_plan

    def plan(*opts):
        cfg = merge_config(get_study_cfg(), os.path.join(REPO, "configs", "demo", "tiny.yaml"), list(opts))
        return recorded_plan(cfg, str(tmp_path))

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
    assert "arms" not in results
    report = build_report(results)
    assert "Arms: baseline, ctc (reference: baseline)" in report
    assert (
        "- Final source test top-1, ctc minus baseline: -0.89 points, 95% CI [-5.78, +4.01], p 0.518 "
        "(Holm-adjusted p 1.000), 2 of 3 seeds agree: **no difference shown**." in report
    )
    assert "- box AP, ctc weights minus random initialisation: " in report


def test_study_stopped_with_sigterm_stops_its_step_and_continues(tmp_path):
    one_arm = "[{'NAME': 'plain', 'CONFIG': 'configs/pretrain/fashion_mnist_r18_baseline.yaml'}]"
    small = "['DATASETS.IMAGES_PER_CLASS', '8', 'SOLVER.IMS_PER_BATCH', '4', 'SOLVER.IAS_EPOCHS', '2', "
    small += "'TRAINER.LOG_PERIOD', '2', 'TEST.IMS_PER_BATCH', '64']"
    argv = _argv(tmp_path, "SEEDS", "[0]", "MI.ENABLED", "False", "ARMS", one_arm, "PRETRAIN.OPTS", small)
    command = [sys.executable, "-m", "ctc_plugin.cli.demo", *argv]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    for line in process.stdout:  # the first arm is training
        if line.startswith("demo: seed0_pretrain_plain: iteration "):
            break
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err.strip() == "demo: interrupted"
    # The step stopped with its study, after a checkpoint; nothing of the study is still running.
    running = subprocess.run(["pgrep", "-f", str(tmp_path / "s")], capture_output=True, text=True).stdout
    assert running.strip() == ""
    ledger = json.loads((tmp_path / "s" / "steps.json").read_text())
    assert [(s["name"], s["finished"]) for s in ledger] == [("seed0_pretrain_plain", False)]

    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Resuming from" in (tmp_path / "s" / "logs" / "seed0_pretrain_plain.log").read_text()
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    assert set(results["per_seed"]["0"]["runs"]) == {"plain"}
