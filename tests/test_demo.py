"""The demo pipeline end to end at a tiny scale, on a Fashion-MNIST written in the test's folder."""

import json
import os
import subprocess
import sys

from test_data import write_fashion_mnist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_pipeline_writes_the_report(tmp_path):
    fashion = tmp_path / "fashion-mnist"
    write_fashion_mnist(str(fashion), count=200)
    output = tmp_path / "demo"
    command = [sys.executable, os.path.join(REPO, "tools", "demo.py"), "--config-file"]  # what make demo runs
    command += [os.path.join(REPO, "configs", "demo", "tiny.yaml"), "OUTPUT_DIR", str(output)]
    command += ["PRETRAIN.DATASETS_ROOT", str(fashion), "FGVC.FASHION_ROOT", str(fashion)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # Each step's progress reaches the terminal, not only its log file.
    shown = result.stdout.splitlines()
    assert any(line.startswith("demo: seed0_pretrain_ctc: iteration ") and ", eta " in line for line in shown)
    assert any(line.startswith("demo: seed1_pretrain_ctc: Epoch 2: test top-1 ") for line in shown)
    assert any(
        line.startswith("demo: seed0_temporal_transfer: ctc epoch 2 probe: ") and ", eta " in line for line in shown
    )
    assert "demo: seed1_convert_baseline_timm: ctc-convert " in result.stdout

    report = (output / "report.md").read_text()
    for section in ("## Temporal transferability", "## Information plane", "## Detectron2", "## timm"):
        assert section in report
    assert "mean ± standard deviation over the 2 seeds" in report
    assert (output / "temporal_transfer.png").stat().st_size > 1000
    assert (output / "information_plane.png").stat().st_size > 1000
    results = json.loads((output / "results.json").read_text())
    assert results["seeds"] == [0, 1] and set(results["per_seed"]) == {"0", "1"}
    for numbers in results["per_seed"].values():
        assert set(numbers["runs"]) == {"baseline", "ctc"}
        assert set(numbers["detection"]) == set(numbers["fgvc"]) == {"ctc", "baseline", "random"}
        for network in ("baseline", "ctc"):
            assert max(numbers["conversion"][network]["detectron2"].values()) <= 1e-4
            assert max(numbers["conversion"][network]["timm"].values()) <= 1e-5
        assert all("segm/AP" in metrics for metrics in numbers["detection"].values())
        assert all("top1" in metrics for metrics in numbers["fgvc"].values())
        # Every number in the tables is one the run wrote: the report's epochs are the checkpoints'.
        assert {int(row["epoch"]) for row in numbers["transfer"]} == {1, 2}
    # The random initialisation really is one: its Mask R-CNN started without weights.
    log = (output / "logs" / "seed0_mask_rcnn_random.log").read_text()
    assert "MODEL.WEIGHTS ''" in next(s["command"] for s in results["steps"] if s["name"] == "seed0_mask_rcnn_random")
    assert "ctc_detectron2.pkl" not in log
    # One line per comparison: with two seeds the differences by seed, nothing judged.
    lines = [line for line in report.splitlines() if line.startswith("- ") and " minus " in line]
    assert any(line.startswith("- test top-1 (%), ctc weights minus random initialisation: ") for line in lines)
    assert all(line.endswith("by seed: not judged (2 seeds; a test needs 3).") for line in lines)
    findings = json.loads((output / "findings.json").read_text())
    assert findings["findings"] and not any(r["judged"] for r in findings["findings"])
    assert [step["name"] for step in results["steps"]][-1] == "seed1_finetune_fgvc_random"
    # Top-5 of five classes is 100% by construction: said once, not tabled; with more classes it is tabled.
    from ctc_plugin.study.report import build_report

    assert all(m["num_classes"] == 5 for n in results["per_seed"].values() for m in n["fgvc"].values())
    assert "Top-5 is not shown: with 5 classes" in report and "test top-5" not in report
    for numbers in results["per_seed"].values():
        for metrics in numbers["fgvc"].values():
            metrics["num_classes"] = 200
    assert "| initialisation | test top-1 (%) | test top-5 (%) |" in build_report(results)
    assert "2 seeds, so no difference above is judged." in report
    assert " The Mask R-CNN runs train for " in report and " and the fine-tunes are scored on " in report
    for numbers in results["per_seed"].values():
        numbers["detection"] = {}
    without_detection = build_report(results)
    assert "Mask R-CNN runs" not in without_detection and " The fine-tunes are scored on " in without_detection
    # The report and plots can be rebuilt from results.json alone, without running a step.
    (output / "report.md").unlink()
    (output / "temporal_transfer.png").unlink()
    rebuild = [*command, "--report-only"]
    result = subprocess.run(rebuild, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (output / "report.md").read_text() == report and (output / "temporal_transfer.png").exists()
    assert not any(line.startswith("demo: seed0_") for line in result.stdout.splitlines())


def test_demo_refuses_seeds_it_cannot_run(tmp_path, capsys):
    from ctc_plugin.cli import demo

    argv = ["--config-file", os.path.join(REPO, "configs", "demo", "tiny.yaml"), "OUTPUT_DIR", str(tmp_path / "d")]
    assert demo.main([*argv, "SEEDS", "[1, 1]"]) == 2
    assert capsys.readouterr().err.strip() == "demo: error: SEEDS must be distinct integers of 0 or more, got [1, 1]"
    assert demo.main([*argv, "DOWNSTREAM.INITS", "['imagenet']"]) == 2
    assert "DOWNSTREAM.INITS must name arms (baseline, ctc) or random" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
    assert demo.main([*argv, "--report-only"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"demo: error: no results to report: {tmp_path / 'd' / 'results.json'} does not exist (run the study first)"
    )
