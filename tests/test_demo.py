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
    assert any(line.startswith("demo: pretrain_ctc: iteration ") and ", eta " in line for line in shown)
    assert any(line.startswith("demo: pretrain_ctc: Epoch 2: test top-1 ") for line in shown)
    assert any(line.startswith("demo: temporal_transfer: ctc epoch 2 probe: ") and ", eta " in line for line in shown)
    assert "demo: convert_timm: ctc-convert " in result.stdout

    report = (output / "report.md").read_text()
    for section in ("## Temporal transferability", "## Information plane", "## Detectron2", "## timm"):
        assert section in report
    assert (output / "temporal_transfer" / "temporal_transfer.png").stat().st_size > 1000
    assert (output / "mutual_information" / "information_plane.png").stat().st_size > 1000
    results = json.loads((output / "results.json").read_text())
    assert set(results["runs"]) == {"baseline", "ctc"}
    assert max(results["conversion"]["detectron2"].values()) <= 1e-4
    assert max(results["conversion"]["timm"].values()) <= 1e-5
    assert "segm/AP" in results["detection"]["metrics"] and "top1" in results["fgvc"]["metrics"]
    assert [step["name"] for step in results["steps"]][-1] == "finetune_fgvc"
    # Every number in the tables is one the run wrote: the report's epochs are the checkpoints'.
    epochs = {int(row["epoch"]) for row in results["transfer"]}
    assert epochs == {1, 2}
