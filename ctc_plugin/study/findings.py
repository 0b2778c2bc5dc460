"""A study's findings as data: ``findings.json`` beside ``report.md``, from which the report's sentences come.

``study_findings(results)`` holds the analysis plan (and whether it was declared before the seeds
ran), every judged line (``judge``), the noises of the transfer numbers (``noise``) and what is
only described: each arm's best transfer over its checkpoints, which is the maximum of noisy
numbers and so is never judged, beside the best-minus-final that a flat curve would show.
"""

import os
import statistics
from typing import Any, Dict, Mapping

from ..utils.io import atomic_write_json
from .endpoints import late_epochs, window_description
from .judge import analysis_plan, arm_names, family_size, is_interim, judge, reference_name, total_epochs
from .noise import all_rows, curves_by_arm, noise_summary
from .summary import source_curves

FINDINGS = "findings.json"


def best_transfer(curves: Mapping[int, Mapping[int, float]], final_checkpoints: int) -> Dict[str, Any]:
    """An arm's best transfer (each seed's own maximum), its final (last K mean) and their difference."""
    best = {s: max(c.values()) for s, c in curves.items() if c}
    final = {s: statistics.fmean(c[e] for e in late_epochs(c, final_checkpoints)) for s, c in curves.items() if c}
    gap = [best[s] - final[s] for s in best]
    return {
        "best": statistics.fmean(best.values()) if best else None,
        "final": statistics.fmean(final.values()) if final else None,
        "best_minus_final": statistics.fmean(gap) if gap else None,
        "by_seed": {s: best[s] - final[s] for s in best},
    }


def study_findings(results: Mapping[str, Any]) -> Dict[str, Any]:
    """Everything the report judges or describes, computed from ``results`` alone."""
    plan = analysis_plan(results)
    names = arm_names(results)
    per_seed = {int(s): n for s, n in results["per_seed"].items()}
    curves = curves_by_arm(per_seed, names)
    records = judge(results)
    windows = {}
    for name in names:
        probed = sorted({e for c in curves[name].values() for e in c})
        if probed:
            windows[name] = window_description(probed, total_epochs(results, name), plan)
            evaluated = {e for c in source_curves(per_seed, name).values() for e in c}
            windows[name]["source_missing"] = [e for e in probed if e not in evaluated]
    return {
        "plan": plan.to_dict(),
        "post_hoc": not plan.registered,
        "reference": reference_name(results),
        "seeds": sorted(per_seed),
        "planned_seeds": sorted(int(s) for s in results.get("planned_seeds") or per_seed),
        "interim": is_interim(results),
        "family_size": family_size(records),
        "windows": windows,
        "findings": records,
        "noise": noise_summary(all_rows(per_seed), curves),
        "best_transfer": {name: best_transfer(curves[name], plan.final_checkpoints) for name in names if curves[name]},
    }


def write_findings(results: Mapping[str, Any], folder: str) -> Dict[str, Any]:
    """Write ``folder/findings.json``; returns what it holds."""
    findings = study_findings(results)
    atomic_write_json(os.path.join(folder, FINDINGS), findings)
    return findings
