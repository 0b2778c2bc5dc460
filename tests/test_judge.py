"""The study's inference: paired tests with intervals, Holm, pre-registered endpoints, and its calibration."""

import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from ctc_plugin.study.endpoints import AnalysisPlan, final_transfer, late_fall, source_rise
from ctc_plugin.study.findings import study_findings
from ctc_plugin.study.findings_text import findings_section
from ctc_plugin.study.inference import expected_maximum, holm, paired_test
from ctc_plugin.study.judge import judge, verdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = [3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 40]  # the trade-off study's probed checkpoints


def test_paired_test_is_scipy_s_with_its_interval():
    a, b = [80.1, 82.3, 79.4, 81.0], [78.0, 79.9, 78.8, 77.5]
    record = paired_test(a, b)
    reference = stats.ttest_rel(a, b)
    interval = reference.confidence_interval(0.95)
    assert record["p"] == pytest.approx(reference.pvalue) and record["t"] == pytest.approx(reference.statistic)
    assert record["ci"] == pytest.approx([interval.low, interval.high])
    assert record["mean"] == pytest.approx(np.mean(np.subtract(a, b))) and record["seeds_agreeing"] == 4
    # Two seeds: the differences, nothing judged.
    two = paired_test([1.0, 2.0], [0.0, 0.0])
    assert two["differences"] == [1.0, 2.0] and two["p"] is None and two["ci"] is None


def test_holm_is_the_step_down_adjustment():
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None], nan_ok=False)
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_expected_maximum_of_normals():
    assert expected_maximum(1) == 0.0
    assert expected_maximum(2) == pytest.approx(1 / math.sqrt(math.pi))
    draws = np.random.default_rng(0).standard_normal((200_000, 14)).max(1).mean()
    assert expected_maximum(14) == pytest.approx(draws, abs=0.01)


def test_endpoints_use_fixed_windows_not_the_peak():
    plan = AnalysisPlan()  # early window 25-50% of training, the last 3 probed checkpoints
    curve = {e: 80.0 for e in EPOCHS}
    curve[24] = 95.0  # a peak outside both windows changes nothing
    assert final_transfer(curve, plan) == 80.0 and late_fall(curve, 40, plan) == 0.0
    curve.update({12: 84.0, 15: 84.0, 18: 84.0})  # the early window (epochs 10-20) is 4 points higher
    assert late_fall(curve, 40, plan) == pytest.approx(4.0)
    slope = AnalysisPlan(late_fall_test="slope")  # minus the slope over epochs 20-40, per 10 epochs
    falling = {e: 100.0 - 0.2 * e for e in EPOCHS}
    assert late_fall(falling, 40, slope) == pytest.approx(2.0)
    source = {6: 70.0, 12: 80.0, 18: 82.0, 24: 84.0, 36: 88.0, 40: 90.0}
    assert source_rise(source, EPOCHS, 40, plan) == pytest.approx(89.0 - 81.0)
    assert source_rise({40: 90.0}, EPOCHS, 40, plan) is None  # nothing evaluated in the early window


def _study(curves, source=None, plan=None, reference="a"):
    """A results.json of arms -> seed -> epoch -> transfer (and source) top-1."""
    arms = list(curves)
    seeds = sorted(next(iter(curves.values())))
    per_seed = {}
    for seed in seeds:
        runs = {
            arm: {
                "final_top1": (source or curves)[arm][seed][EPOCHS[-1]],
                "top1_per_epoch": {str(e): v for e, v in (source or curves)[arm][seed].items()},
                "total_epochs": EPOCHS[-1],
            }
            for arm in arms
        }
        rows = [{"run": arm, "epoch": e, "top1": curves[arm][seed][e]} for arm in arms for e in EPOCHS]
        per_seed[str(seed)] = {"runs": runs, "transfer": rows, "mi": [], "fgvc": {}, "detection": {}}
    results = {"arms": [{"name": a} for a in arms], "reference": reference, "per_seed": per_seed, "inits": []}
    if plan is not None:
        results["analysis"] = plan.to_dict()
    return results


def _curves(rng, seed_offsets, level=79.0, shift=0.0, decline=0.0, noise=1.0, rho=0.3, arm_offsets=1.0):
    """seed -> epoch -> top-1: a flat curve (plus a level shift, plus a decline over the last half),
    AR(1) noise of sd ``noise`` between checkpoints, the seed's offset (shared by the arms of a seed:
    its data order, its initialisation) and an offset of the arm in that seed of sd ``arm_offsets``."""
    curves = {}
    for seed, seed_offset in enumerate(seed_offsets):
        innovation = rng.standard_normal(len(EPOCHS)) * noise * math.sqrt(1 - rho**2)
        eps = np.empty(len(EPOCHS))
        eps[0] = rng.standard_normal() * noise
        for i in range(1, len(EPOCHS)):
            eps[i] = rho * eps[i - 1] + innovation[i]
        offset = seed_offset + rng.standard_normal() * arm_offsets
        curves[seed] = {
            e: level + shift + offset + eps[i] - decline * max(0.0, (e - 20) / 20) for i, e in enumerate(EPOCHS)
        }
    return curves


def _rates(seeds, studies, effect):
    """How often each test is significant over simulated studies of two arms, a (reference) and b."""
    rng = np.random.default_rng(1234 + seeds)
    plan = AnalysisPlan(primary_arm="b", registered=True)
    called = {"final_transfer": 0, "late_fall": 0, "p_final": 0, "p_fall": 0}
    for _ in range(studies):
        offsets = rng.standard_normal(seeds) * 2.0  # seed offsets of 2 points
        curves = {arm: _curves(rng, offsets, **effect.get(arm, {})) for arm in ("a", "b")}
        records = {(r["metric"], r["arm"]): r for r in judge(_study(curves, plan=plan))}
        final, fall = records[("final_transfer", "b")], records[("late_fall", "a")]
        called["final_transfer"] += final["significant"]
        called["late_fall"] += fall["significant"]
        called["p_final"] += final["p"] < 0.05
        called["p_fall"] += fall["p"] < 0.05
    return {key: count / studies for key, count in called.items()}


@pytest.mark.parametrize("seeds", [3, 8])
def test_flat_curves_are_called_significant_in_about_5_percent_of_studies(seeds):
    rates = _rates(seeds, 800, {})
    # 800 studies: a true rate of 5% lies below 7.5% with 99.9% probability.
    assert rates["p_final"] <= 0.075 and rates["final_transfer"] <= 0.075
    assert rates["p_fall"] <= 0.075 and rates["late_fall"] <= 0.075


def test_a_real_late_decline_and_a_real_level_shift_are_found_with_8_seeds():
    assert _rates(8, 300, {"a": {"decline": 3.0}})["late_fall"] > 0.8  # a 3-point decline over the last half
    assert _rates(8, 300, {"b": {"shift": 3.0}})["final_transfer"] > 0.8  # a 3-point shift of one arm


def test_judge_marks_the_primary_and_adjusts_the_rest():
    rng = np.random.default_rng(7)
    offsets = rng.standard_normal(4) * 2.0
    curves = {"a": _curves(rng, offsets), "b": _curves(rng, offsets, shift=6.0), "c": _curves(rng, offsets)}
    records = judge(_study(curves, plan=AnalysisPlan(primary_arm="b", registered=True)))
    primary = [r for r in records if r["primary"]]
    assert [(r["metric"], r["arm"], r["reference"]) for r in primary] == [("final_transfer", "b", "a")]
    assert primary[0]["p_adjusted"] == primary[0]["p"]
    exploratory = [r for r in records if not r["primary"]]
    assert holm([r["p"] for r in exploratory]) == [r["p_adjusted"] for r in exploratory]
    for record in records:
        assert {"metric", "arm", "reference", "n", "mean", "ci", "p", "p_adjusted", "significant", "primary"} <= set(
            record
        )
        if record["significant"]:
            assert record["ci"][0] > 0 or record["ci"][1] < 0
    # A declared pair beyond the reference arm is one more exploratory line.
    pairs = judge(_study(curves, plan=AnalysisPlan(primary_arm="b", comparisons=(("c", "b"),), registered=True)))
    assert ("final_transfer", "c", "b") in {(r["metric"], r["arm"], r["reference"]) for r in pairs}
    assert len(pairs) == len(records) + 1
    # Without a declared plan every line is exploratory.
    assert not any(r["primary"] for r in judge(_study(curves)))
    # Two seeds: nothing judged.
    two = judge(_study({arm: {s: c[s] for s in (0, 1)} for arm, c in curves.items()}))
    assert two and not any(r["judged"] or r["significant"] for r in two)


def test_a_study_with_planned_seeds_still_to_run_is_interim():
    rng = np.random.default_rng(11)
    offsets = rng.standard_normal(4) * 2.0
    results = _study({"a": _curves(rng, offsets), "b": _curves(rng, offsets, shift=8.0)},
                     plan=AnalysisPlan(primary_arm="b", registered=True))  # fmt: skip
    results["planned_seeds"] = list(range(8))
    (primary,) = [r for r in judge(results) if r["primary"]]
    assert primary["significant"] and primary["interim"] and verdict(primary) == "larger so far (interim)"
    findings = study_findings(results)
    assert findings["interim"] and findings["planned_seeds"] == list(range(8))
    section = "\n".join(findings_section(findings))
    assert "**Interim: 4 of the 8 planned seeds have run.**" in section and "What holds so far: " in section
    results["planned_seeds"] = [0, 1, 2, 3]  # every planned seed ran: the verdict is the study's
    (primary,) = [r for r in judge(results) if r["primary"]]
    assert not primary["interim"] and verdict(primary) == "larger"
    assert "Interim" not in "\n".join(findings_section(study_findings(results)))


def test_the_committed_trade_off_study_judged_again():
    with open(os.path.join(REPO, "docs", "results", "tradeoff_study", "results.json")) as f:
        results = json.load(f)
    records = {(r["metric"], r["arm"]): r for r in judge(results)}
    gain = records[("final_transfer", "ctc_transfer")]  # the mean of epochs 36, 39, 40
    assert gain["mean"] == pytest.approx(3.87, abs=0.005) and gain["p"] == pytest.approx(0.047, abs=0.0005)
    assert gain["ci"] == pytest.approx([0.14, 7.59], abs=0.005) and gain["seeds_agreeing"] == 3
    assert not gain["primary"] and not gain["significant"]  # post hoc: exploratory, Holm-adjusted
    assert not records[("late_fall", "baseline")]["significant"]
