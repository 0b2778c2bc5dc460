"""Every judged line of a study, computed from its ``results.json`` alone: ``judge(results)``.

Each line is a paired t-test across seeds (``inference.paired_test``) of one endpoint
(``endpoints``): an arm against the reference arm (or a downstream run against a random
initialisation), or within one arm (its late fall, its source accuracy's rise). The primary
comparison that the study declared before its seeds ran is judged at ``alpha`` on its own; every
other line is exploratory and judged on its Holm-adjusted p-value over the study's family. A line
is called significant only when its interval excludes 0 (and, if exploratory, its adjusted p is
below ``alpha``); with fewer than three seeds nothing is judged.
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import endpoints
from .endpoints import AnalysisPlan
from .inference import MIN_SEEDS_TO_JUDGE, holm, paired_test
from .summary import arm_curves, by_seed, source_curves

RANDOM = "random"
# What each metric of the pretraining arms measures, for the report.
METRIC_NAMES = {
    "final_transfer": "transfer at the end",
    "final_source": "final source top-1",
    "late_fall": "late fall of the transfer",
    "source_rise": "rise of the source top-1",
}
# The downstream tasks of results.json files written before tasks were recorded.
LEGACY_TASKS = {
    "detection": {"title": "Detectron2: Mask R-CNN FPN", "target": "detectron2",
                  "metrics": {"bbox/AP": ["box_ap", "box AP"], "segm/AP": ["mask_ap", "mask AP"]},
                  "note_key": "detection_note"},
    "fgvc": {"title": "timm: fine-grained fine-tuning", "target": "timm",
             "metrics": {"top1": ["fgvc_top1", "test top-1 (%)"], "top5": [None, "test top-5 (%)"]},
             "note_key": "fgvc_note"},
}  # fmt: skip


def task_descriptors(results: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """task -> its title, target, metrics (key -> [judged metric or None, shown name]) and note."""
    if "tasks" in results:
        return {name: dict(task) for name, task in results["tasks"].items()}
    return {
        name: {**task, "note": results.get(task["note_key"], "")}
        for name, task in LEGACY_TASKS.items()
        if any(numbers.get(name) for numbers in results["per_seed"].values())
    }


def metric_name(metric: str, results: Optional[Mapping[str, Any]] = None) -> str:
    """What ``metric`` measures, in words."""
    if metric in METRIC_NAMES:
        return METRIC_NAMES[metric]
    for task in task_descriptors(results or {"per_seed": {}, "tasks": {}}).values():
        for judged, shown in task["metrics"].values():
            if judged == metric:
                return shown
    return metric


def analysis_plan(results: Mapping[str, Any]) -> AnalysisPlan:
    """The plan a study recorded when its seeds ran; the runner's defaults (post hoc) when it has none."""
    recorded = results.get("analysis")
    return AnalysisPlan.from_dict(recorded) if recorded else AnalysisPlan()


def arm_names(results: Mapping[str, Any]) -> List[str]:
    """The arms in their order (a demo's results.json from before arms were named: its runs)."""
    if results.get("arms"):
        return [arm["name"] for arm in results["arms"]]
    return list(next(iter(results["per_seed"].values()))["runs"])


def reference_name(results: Mapping[str, Any]) -> str:
    """The reference arm (a demo's results.json from before arms were named: its first run)."""
    return results.get("reference") or arm_names(results)[0]


def total_epochs(results: Mapping[str, Any], arm: str) -> int:
    """The arm's epochs, from the first seed that ran it."""
    for numbers in results["per_seed"].values():
        run = numbers["runs"].get(arm)
        if run:
            return int(run.get("total_epochs") or max(map(int, run.get("top1_per_epoch") or {0: 0})))
    return 0


def per_seed_endpoint(results: Mapping[str, Any], arm: str, metric: str, plan: AnalysisPlan) -> Dict[int, float]:
    """seed -> the arm's endpoint ``metric`` in that seed (seeds where it can be computed)."""
    per_seed = {int(s): n for s, n in results["per_seed"].items()}
    if metric == "final_source":
        return by_seed(per_seed, "runs", arm, "final_top1")
    epochs = total_epochs(results, arm)
    found: Dict[int, Optional[float]] = {}
    transfer = arm_curves(per_seed, arm)
    for seed, curve in transfer.items():
        if not curve:
            continue
        if metric == "final_transfer":
            found[seed] = endpoints.final_transfer(curve, plan)
        elif metric == "late_fall":
            found[seed] = endpoints.late_fall(curve, epochs, plan)
        elif metric == "source_rise":
            found[seed] = endpoints.source_rise(source_curves(per_seed, arm).get(seed, {}), curve, epochs, plan)
        else:
            raise ValueError(f"unknown endpoint {metric!r}")
    return {seed: value for seed, value in found.items() if value is not None}


def _record(metric: str, arm: str, reference: Optional[str], first: Mapping[int, float],
            second: Optional[Mapping[int, float]] = None) -> Dict[str, Any]:  # fmt: skip
    seeds = sorted(set(first) & set(second)) if second is not None else sorted(first)
    test = paired_test([first[s] for s in seeds], [second[s] if second is not None else 0.0 for s in seeds])
    return {
        "metric": metric,
        "arm": arm,
        "reference": reference,
        "seeds": seeds,
        "differences": dict(zip(seeds, test.pop("differences"))),
        **test,
        "judged": test["p"] is not None,
        "primary": False,
        "p_adjusted": None,
        "significant": False,
    }


def _downstream_records(results: Mapping[str, Any], reference: str) -> List[Dict[str, Any]]:
    per_seed = {int(s): n for s, n in results["per_seed"].items()}
    inits = list(results.get("inits") or [])
    arms = [init for init in inits if init != RANDOM]
    pairs = [(arm, reference) for arm in arms if arm != reference and reference in arms]
    pairs += [(arm, RANDOM) for arm in arms if RANDOM in inits]
    records = []
    for section, task in task_descriptors(results).items():
        for key, (metric, _) in task["metrics"].items():
            if metric is None:
                continue
            for arm, other in pairs:
                first, second = by_seed(per_seed, section, arm, key), by_seed(per_seed, section, other, key)
                if first and second:
                    records.append(_record(metric, arm, other, first, second))
    return records


def judge(results: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Every judged line of a study's loaded ``results.json``, in the report's order.

    Each record holds ``metric``, ``arm``, ``reference`` (None for a test within one arm), ``n``,
    ``seeds``, ``differences`` (seed -> value), ``mean``, ``sd``, ``ci`` ([low, high], 95%), ``p``,
    ``t``, ``p_adjusted`` (Holm over the exploratory lines; the primary's own p), ``significant``,
    ``primary``, ``judged`` (False with fewer than three seeds), ``seeds_agreeing`` and ``interim``
    (True while seeds the study planned have not run: every verdict is then provisional).
    """
    plan = analysis_plan(results)
    names, reference = arm_names(results), reference_name(results)
    others = [name for name in names if name != reference]
    records = []
    for metric in ("final_transfer", "final_source"):
        for arm in others:
            first = per_seed_endpoint(results, arm, metric, plan)
            second = per_seed_endpoint(results, reference, metric, plan)
            if first and second:
                records.append(_record(metric, arm, reference, first, second))
    for arm, other in plan.comparisons:  # declared pairs beyond the reference arm
        if other != reference and arm in names and other in names:
            first = per_seed_endpoint(results, arm, "final_transfer", plan)
            second = per_seed_endpoint(results, other, "final_transfer", plan)
            if first and second:
                records.append(_record("final_transfer", arm, other, first, second))
    for metric in ("late_fall", "source_rise"):
        for arm in names:
            values = per_seed_endpoint(results, arm, metric, plan)
            if values:
                records.append(_record(metric, arm, None, values))
    records += _downstream_records(results, reference)

    primary_reference = plan.primary_reference or reference
    for record in records:
        record["primary"] = bool(plan.primary_arm) and (record["metric"], record["arm"], record["reference"]) == (
            plan.primary_metric, plan.primary_arm, primary_reference,
        )  # fmt: skip
    exploratory = [r for r in records if not r["primary"]]
    for record, adjusted in zip(exploratory, holm([r["p"] for r in exploratory])):
        record["p_adjusted"] = adjusted
    for record in records:
        if record["primary"]:
            record["p_adjusted"] = record["p"]
        excludes_zero = record["ci"] is not None and (record["ci"][0] > 0 or record["ci"][1] < 0)
        record["significant"] = bool(excludes_zero and record["p_adjusted"] is not None
                                     and record["p_adjusted"] < plan.alpha)  # fmt: skip
        record["interim"] = is_interim(results)
    return records


def is_interim(results: Mapping[str, Any]) -> bool:
    """Whether seeds the study planned (``planned_seeds``, recorded since it was) have not all run."""
    planned = results.get("planned_seeds") or []
    return not {int(s) for s in planned} <= {int(s) for s in results["per_seed"]}


def verdict(record: Mapping[str, Any]) -> str:
    """A few words for a record: what it shows, or why it shows nothing."""
    if not record["judged"]:
        return f"not judged ({record['n']} seed{'s' * (record['n'] != 1)}; a test needs {MIN_SEEDS_TO_JUDGE})"
    up = record["mean"] > 0
    if record["metric"] == "late_fall":
        words = ("falls", "rises") if record["significant"] else ("no late fall shown", "")
    elif record["metric"] == "source_rise":
        words = ("rises", "falls") if record["significant"] else ("no change shown", "")
    else:
        words = ("larger", "smaller") if record["significant"] else ("no difference shown", "")
    shown = words[0] if not record["significant"] or up else words[1]
    return f"{shown} so far (interim)" if record.get("interim") else shown


def family_size(records: Sequence[Mapping[str, Any]]) -> int:
    """How many exploratory lines the Holm adjustment ran over."""
    return sum(1 for r in records if r["judged"] and not r["primary"])
