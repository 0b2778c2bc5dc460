"""ctc-demo (the default study) end to end at a tiny scale, and the report of committed studies."""

import copy
import json
import os
import subprocess
import sys

import pytest
from fixtures.datasets import write_fashion_mnist

from ctc_plugin.study.report import build_report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_demo_pipeline_writes_the_report(tmp_path):
    fashion = tmp_path / "fashion-mnist"
    write_fashion_mnist(str(fashion), count=200)
    output = tmp_path / "demo"
    command = [sys.executable, os.path.join(REPO, "tools", "demo.py"), "--config-file"]  # what make demo runs
    command += [os.path.join(REPO, "configs", "studies", "tiny.yaml"), "OUTPUT_DIR", str(output)]
    command += ["PRETRAIN.DATASETS_ROOT", str(fashion), "FGVC.FASHION_ROOT", str(fashion)]
    command += ["COMMITTED_STUDY", os.path.join("docs", "results", "confirmatory_study")]  # as demo.yaml
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # Each step's progress reaches the terminal, not only its log file.
    shown = result.stdout.splitlines()
    assert any(line.startswith("demo: seed0_pretrain_ctc: iteration ") and ", eta " in line for line in shown)
    assert any(line.startswith("demo: seed0_pretrain_ctc: Epoch 2: test top-1 ") for line in shown)
    assert any(line.startswith("demo: seed0_probe_ctc: ctc epoch 2 probe: ") and ", eta " in line for line in shown)
    assert "demo: seed0_convert_baseline_timm: ctc-convert " in result.stdout
    # The last lines say where the committed study's primary comparison stands.
    assert (
        "its pre-registered primary comparison:\n- Transfer at the end, ctc_transfer minus baseline: " in result.stdout
    )

    report = (output / "report.md").read_text()
    for section in ("## Temporal transferability", "## Information plane", "## Detectron2", "## timm",
                    "## Beside the committed study"):  # fmt: skip
        assert section in report
    for plot in ("temporal_transfer.png", "information_plane.png", "source_accuracy.png"):
        assert (output / plot).stat().st_size > 1000
    results = json.loads((output / "results.json").read_text())
    numbers = results["per_seed"]["0"]
    assert results["seeds"] == [0] and set(numbers["runs"]) == {"baseline", "ctc"}
    assert set(numbers["detection"]) == set(numbers["fgvc"]) == {"ctc", "baseline", "random"}
    for network in ("baseline", "ctc"):
        assert max(numbers["conversion"][network]["detectron2"].values()) <= 1e-4
        assert max(numbers["conversion"][network]["timm"].values()) <= 1e-5
    assert all("segm/AP" in metrics for metrics in numbers["detection"].values())
    assert all("top1" in metrics for metrics in numbers["fgvc"].values())
    # Every number in the tables is one the run wrote: the report's epochs are the checkpoints'.
    assert {int(row["epoch"]) for row in numbers["transfer"]} == {1, 2}
    assert all(len(row["top1_draws"]) == 3 and row["probe_seed"] == 0 for row in numbers["transfer"])
    # The random initialisation really is one: its Mask R-CNN started without weights, as the same ResNet.
    step = next(s for s in results["steps"] if s["name"] == "seed0_detection_random")
    assert "MODEL.WEIGHTS '' MODEL.RESNETS.DEPTH 18 MODEL.CTC.STEM imagenet" in step["command"]
    assert "ctc_detectron2.pkl" not in (output / "logs" / "seed0_detection_random.log").read_text()
    # One seed: every comparison shows its difference and judges nothing.
    before, beside = report.split("## Beside the committed study")
    own = before + beside.split("\n## ", 1)[1]  # the committed study's lines are its own seeds'
    lines = [line for line in own.splitlines() if line.startswith("- ") and " minus " in line and "`" not in line]
    assert any(line.startswith("- test top-1 (%), ctc weights minus random initialisation: ") for line in lines)
    assert all(line.endswith("by seed: not judged (1 seed; a test needs 3).") for line in lines)
    assert "1 seed, so no difference above is judged." in report
    assert " The Mask R-CNN runs train for 2 iterations and the fine-tunes are scored on 10 test images" in report
    # The report and plots can be rebuilt from results.json alone, without running a step.
    (output / "report.md").unlink()
    (output / "temporal_transfer.png").unlink()
    result = subprocess.run([*command, "--report-only"], capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (output / "report.md").read_text() == report and (output / "temporal_transfer.png").exists()
    assert not any(line.startswith("demo: seed0_") for line in result.stdout.splitlines())


@pytest.fixture(scope="module")
def committed():
    with open(os.path.join(REPO, "docs", "results", "fashion_mnist_study", "results.json")) as f:
        return json.load(f)


def test_top5_of_five_classes_is_said_once_and_not_tabled(committed):
    report = build_report(committed)
    assert all(m["num_classes"] == 5 for n in committed["per_seed"].values() for m in n["fgvc"].values())
    assert "Top-5 is not shown: with 5 classes" in report and "test top-5" not in report
    more = copy.deepcopy(committed)
    for numbers in more["per_seed"].values():
        for metrics in numbers["fgvc"].values():
            metrics["num_classes"] = 200
    assert "| initialisation | test top-1 (%) | test top-5 (%) |" in build_report(more)


def test_the_report_describes_only_the_downstream_runs_that_ran(committed):
    assert " The Mask R-CNN runs train for 100 iterations and the fine-tunes are scored on " in build_report(committed)
    without = copy.deepcopy(committed)
    for numbers in without["per_seed"].values():
        numbers["detection"] = {}
    report = build_report(without)
    assert "Mask R-CNN" not in report and " The fine-tunes are scored on 200 test images" in report


def test_every_committed_report_is_its_results_judged_again():
    """The committed reports are what this checkout's report code makes of their results.json
    (scripts/rebuild_committed_reports.sh rebuilds them)."""
    for folder in (
        "fashion_mnist_study",
        "tradeoff_study",
        os.path.join("tradeoff_study", "sweep"),
        "confirmatory_study",
    ):
        path = os.path.join(REPO, "docs", "results", folder)
        with open(os.path.join(path, "results.json")) as f:
            results = json.load(f)
        with open(os.path.join(path, "report.md")) as f:
            committed_report = f.read()
        results["report_commit"] = committed_report.split("rebuilt from `results.json` at commit `")[1].split("`")[0]
        assert build_report(results) == committed_report, folder
        with open(os.path.join(path, "findings.json")) as f:
            assert json.load(f)["findings"], folder


def test_the_demo_runs_a_seed_of_the_confirmatory_study_as_it_ran(tmp_path):
    """make demo (configs/studies/demo.yaml) runs the confirmatory study's primary comparison on one of its
    seeds, each of those steps with the command the committed study ran, so their numbers can stand beside."""
    from ctc_plugin.cli import COMMANDS
    from ctc_plugin.cli.demo import DEMO_CONFIG
    from ctc_plugin.study.runner import Study

    out = str(tmp_path / "demo")
    demo = Study(os.path.join(REPO, DEMO_CONFIG), ["OUTPUT_DIR", out], COMMANDS)
    with open(os.path.join(REPO, demo.cfg.COMMITTED_STUDY, "results.json")) as f:
        committed = json.load(f)
    plan, declared = demo.plan.to_dict(), committed["analysis"]
    arms = [declared["primary_reference"], declared["primary_arm"]]
    assert [arm.name for arm in demo.arms] == arms == ["baseline", "ctc_transfer"]
    keys = ("primary_arm", "primary_reference", "primary_metric", "final_checkpoints", "early_window", "alpha")
    assert {key: plan[key] for key in keys} == {key: declared[key] for key in keys}
    assert len(demo.cfg.SEEDS) == 1 and demo.cfg.SEEDS[0] in committed["seeds"]
    prepared = {task.name: {"root": os.path.join(out, "datasets", task.name)} for task in demo.tasks}
    prepared["fgvc"]["root"] = os.path.join(out, "datasets", "fashion_cub")  # where the fgvc task writes its set
    shown = {step.name: demo.runner.shown(step) for step in demo.steps(prepared)}
    ran = {step["name"]: step["command"] for step in committed["steps"] if step["name"] in shown}
    kinds = {name.split("_")[1] for name in ran}
    assert kinds == {"pretrain", "probe", "mine", "convert", "fgvc"} and len(ran) == 10
    assert {name: shown[name] for name in ran} == ran
    # Beyond them, the pipeline's other half: both networks and a random initialisation in Detectron2 and timm.
    assert {name for name in shown if "detection" in name} == {
        f"seed{demo.cfg.SEEDS[0]}_detection_{init}" for init in ("baseline", "ctc_transfer", "random")
    }
