"""COMMITTED_STUDY: a study's report says where a committed study's primary comparison stands, and sets
its own seeds beside the same seeds there."""

import copy
import json
import logging
import os

import pytest

from ctc_plugin.study.committed import committed_section, read_committed_study, standing_line
from ctc_plugin.study.findings import study_findings
from ctc_plugin.study.report import build_report
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIRMATORY = os.path.join("docs", "results", "confirmatory_study")


def _record(arm, reference, differences, primary=False, metric="final_transfer"):
    return {"metric": metric, "arm": arm, "reference": reference, "differences": differences, "n": len(differences),
            "judged": False, "primary": primary, "seeds": sorted(int(s) for s in differences)}  # fmt: skip


def _committed(*records):
    return {"path": "their_study", "seeds": [10, 11], "plan": {}, "post_hoc": False, "findings": list(records)}


def test_the_committed_confirmatory_study_is_read_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path is also looked for in the project's checkout
    committed = read_committed_study(CONFIRMATORY)
    with open(os.path.join(REPO, CONFIRMATORY, "findings.json")) as f:
        assert committed["seeds"] == json.load(f)["seeds"]
    (primary,) = [r for r in committed["findings"] if r["primary"]]
    assert (primary["arm"], primary["reference"], primary["metric"]) == ("ctc_transfer", "baseline", "final_transfer")
    line = standing_line(committed)
    assert line.startswith(f"The committed study `{CONFIRMATORY}` (seeds ") and "ctc_transfer minus baseline" in line


def test_the_same_seed_of_the_same_arms_is_set_beside_the_committed_one():
    committed = _committed(
        _record("ctc", "baseline", {"10": 4.5, "11": 5.0}, primary=True),
        _record("ctc", None, {"10": 0.5, "11": 1.5}, metric="late_fall"),
    )
    mine = {"findings": [_record("ctc", "baseline", {11: 4.25}), _record("ctc", None, {11: -1.0}, metric="late_fall"),
                         _record("ctc", None, {11: 2.0}, metric="source_rise")]}  # fmt: skip
    section = committed_section(committed, mine)
    assert section[0] == "## Beside the committed study"
    assert "| final_transfer | ctc minus baseline | 11 | +4.25 | +5.00 |" in section
    assert "| late_fall | ctc | 11 | -1.00 | +1.50 |" in section  # an arm's own endpoint, beside its own
    assert len([line for line in section if line.startswith("| ")]) == 3  # header and two rows: no source_rise there
    elsewhere = committed_section(committed, {"findings": [_record("ctc", "baseline", {0: 1.0})]})
    assert any("shares no arm pair and seed with it" in line for line in elsewhere)
    assert committed_section(None, mine) == []
    assert "(seeds 10, 11, 2 of the 8 planned)" in standing_line({**committed, "planned_seeds": list(range(10, 18))})
    assert "(seeds 10, 11)," in standing_line(committed)


def test_a_missing_study_is_left_out_and_a_corrupt_one_refused(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ctc_plugin.study.committed"):
        assert read_committed_study(str(tmp_path / "nowhere")) is None
    assert "no findings.json there" in caplog.text
    (tmp_path / "findings.json").write_text('{"seeds": [1]')
    with pytest.raises(UserError, match="is not a study's findings.json"):
        read_committed_study(str(tmp_path))
    (tmp_path / "findings.json").write_text('{"seeds": [1]}')
    with pytest.raises(UserError, match="is not a study's findings.json"):
        read_committed_study(str(tmp_path))


def test_the_report_has_the_section_and_a_rebuilt_one_says_the_same():
    with open(os.path.join(REPO, "docs", "results", "fashion_mnist_study", "results.json")) as f:
        results = json.load(f)
    assert "## Beside the committed study" not in build_report(results)
    arms = {r["arm"] for r in study_findings(results)["findings"]} - {None}
    committed = _committed(_record(sorted(arms)[0], "baseline", {"0": 1.0, "10": 2.0}, primary=True))
    results["committed_study"] = committed
    report = build_report(copy.deepcopy(results))
    assert "## Beside the committed study" in report and "their_study" in report
    assert build_report(json.loads(json.dumps(results))) == report  # as read back from results.json
