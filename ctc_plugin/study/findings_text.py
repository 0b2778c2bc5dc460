"""The judged part of a study's report: the analysis plan, the findings, the noises and "best" transfer.

Every sentence comes from a record of ``findings.study_findings``: a paired t-test across seeds with
its 95% interval and p, Holm-adjusted over the study's family unless it is the declared primary.
"""

import math
from typing import Any, List, Mapping, Optional, Sequence

from .inference import MIN_SEEDS_TO_JUDGE
from .judge import metric_name, verdict
from .markdown import cell, epochs_text, init_name, p_text, table


def finding_line(record: Mapping[str, Any], what: str, unit: str = " points", downstream: bool = False) -> str:
    """One sentence of a judged record: its mean, 95% interval, p (and Holm's), the seeds that agree."""
    if record["reference"] is None:
        subject = f"{what}, {record['arm']}"
    elif downstream:
        subject = f"{what}, {init_name(record['arm'])} minus {init_name(record['reference'])}"
    else:
        subject = f"{what}, {record['arm']} minus {record['reference']}"
    if not record["judged"]:
        shown = ", ".join(f"{d:+.2f}" for d in record["differences"].values())
        return f"- {subject}: {shown}{unit} by seed: {verdict(record)}."
    adjusted = "primary" if record["primary"] else f"Holm-adjusted p {p_text(record['p_adjusted'])}"
    low, high = record["ci"]
    return (
        f"- {subject}: {record['mean']:+.2f}{unit}, 95% CI [{low:+.2f}, {high:+.2f}], p {p_text(record['p'])} "
        f"({adjusted}), {record['seeds_agreeing']} of {record['n']} seeds agree: **{verdict(record)}**."
    )


def records_of(findings: Mapping[str, Any], metric: str, **match: Any) -> List[Mapping[str, Any]]:
    return [r for r in findings["findings"] if r["metric"] == metric and all(r.get(k) == v for k, v in match.items())]


def plan_section(findings: Mapping[str, Any], names: Sequence[str]) -> List[str]:
    """What the study tests and how: pre-registered or post hoc, the primary, the windows, the family."""
    plan = findings["plan"]
    seeds = findings["seeds"]
    out = ["## Analysis plan", ""]
    if findings["post_hoc"]:
        out += [
            "**Post hoc.** These data were seen before this analysis: its windows are the runner's defaults "
            "(chosen by a rule, not by looking at the curves) and every line is exploratory. Nothing here is "
            "confirmed; a study that declares its primary comparison before its seeds run can confirm it.",
            "",
        ]
    else:
        out += ["**Pre-registered**: the study's config declared this plan before its first seed ran.", ""]
    primary = (
        f"{plan['primary_arm']} minus {plan['primary_reference'] or findings['reference']} on "
        f"{plan['primary_metric']}, judged at {plan['alpha']:g} on its own"
        if plan["primary_arm"] and not findings["post_hoc"]
        else "none (every judged line is exploratory)"
    )
    early = plan["early_window"]
    fall_test = (
        f"the mean transfer of the early window ({early[0]:.0%} to {early[1]:.0%} of training) minus that of the "
        "late window"
        if plan["late_fall_test"] == "window"
        else "minus the least-squares slope of the transfer over the slope window "
        f"({plan['slope_window'][0]:.0%} to {plan['slope_window'][1]:.0%} of training), in points per 10 epochs"
    )
    pairs = ", ".join(f"{a} minus {b}" for a, b in plan.get("comparisons", []))
    out += [
        f"- Primary comparison: {primary}.",
        f"- Every arm against {findings['reference']}"
        + (f"; also, on transfer at the end: {pairs}." if pairs else "."),
        f"- Transfer at the end (`final_transfer`): the mean of the last {plan['final_checkpoints']} probed "
        "checkpoints of each seed (the late window).",
        f"- Late fall (`late_fall`, positive: a fall): {fall_test}. No peak is picked on the curves it judges.",
        "- Rise of the source top-1 (`source_rise`): its mean over the late window minus over the early window, "
        "from the evaluations inside each.",
        f"- Each judged line is a paired t-test across seeds (95% t-interval, two-sided p). The other "
        f"{findings['family_size']} judged lines are exploratory: their p-values are Holm-adjusted over that family, "
        f"and a line is called larger or smaller only when its interval excludes 0 and its adjusted p is below "
        f"{plan['alpha']:g}. With fewer than {MIN_SEEDS_TO_JUDGE} seeds the differences are shown and nothing is "
        "judged.",
        "",
    ]
    rows = [
        (name, epochs_text(w["early"]), epochs_text(w["late"]), epochs_text(w["slope"]))
        for name, w in findings["windows"].items()
        if name in names
    ]
    out += ["The windows, as epochs of each arm's probed checkpoints:", ""]
    out += table(["arm", "early window", "late window (transfer at the end)", "slope window"], rows)
    unevaluated = {
        name: w["source_missing"] for name, w in findings["windows"].items() if name in names and w["source_missing"]
    }
    if unevaluated:
        missing = "; ".join(f"{name}: {epochs_text(epochs)}" for name, epochs in unevaluated.items())
        out += [
            "The source test set was not evaluated at every probed checkpoint (missing: "
            f"{missing}): the source rise uses the evaluations that fall inside each window.",
            "",
        ]
    if len(seeds) < MIN_SEEDS_TO_JUDGE:
        out += [f"{len(seeds)} seed{'s' * (len(seeds) > 1)}: no line below is judged.", ""]
    return out


def findings_section(findings: Mapping[str, Any]) -> List[str]:
    """The primary line first, then every exploratory line in one table."""
    out = ["## Findings", ""]
    if findings.get("interim"):
        ran, planned = len(findings["seeds"]), len(findings["planned_seeds"])
        out += [
            f"**Interim: {ran} of the {planned} planned seeds have run.** Every verdict below is provisional; the "
            f"primary comparison is judged once all {planned} have run (a verdict taken at an earlier look, and "
            "kept if it happened to hold, would raise its false-positive rate).",
            "",
        ]
    primary = [r for r in findings["findings"] if r["primary"]]
    if primary:
        what = metric_name(primary[0]["metric"])
        out += ["Primary:", "", finding_line(primary[0], what[:1].upper() + what[1:]), ""]
    rows = []
    for r in findings["findings"]:
        if r["primary"]:
            continue
        ci = "n/a" if r["ci"] is None else f"[{r['ci'][0]:+.2f}, {r['ci'][1]:+.2f}]"
        other = "" if r["reference"] is None else r["reference"]
        rows.append(
            (r["metric"], r["arm"], other or "(within the arm)", r["n"], f"{r['mean']:+.2f}", ci, p_text(r["p"]),
             p_text(r["p_adjusted"]), f"{r['seeds_agreeing']}/{r['n']}", verdict(r))
        )  # fmt: skip
    if rows:
        out += ["Exploratory (every other judged line; `findings.json` holds each with its seeds):", ""]
        header = ["metric", "arm", "minus", "seeds", "mean", "95% CI", "p", "Holm p", "seeds agreeing", "verdict"]
        out += table(header, rows)
    shown = [r for r in findings["findings"] if r["significant"]]
    if shown:
        holds = "What holds so far" if findings.get("interim") else "What holds"
        out += [f"{holds}: " + "; ".join(short_text(r) for r in shown) + ".", ""]
    elif any(r["judged"] for r in findings["findings"]):
        out += ["No judged line shows a difference at this study's level.", ""]
    return out


def short_text(record: Mapping[str, Any]) -> str:
    what = metric_name(record["metric"])
    other = "" if record["reference"] is None else f" minus {record['reference']}"
    return f"{what}, {record['arm']}{other} {record['mean']:+.2f} [{record['ci'][0]:+.2f}, {record['ci'][1]:+.2f}]"


def noise_lines(findings: Mapping[str, Any]) -> List[str]:
    """The probe's, the seeds' and the checkpoints' noise, and what "best" transfer is worth."""
    noise = findings["noise"]

    def points(value: Optional[float]) -> str:
        return "n/a" if value is None else f"{value:.2f} points"

    draws = noise["probe_draws"]
    if noise["probe"] is None:
        probe = (
            "Probe noise cannot be told apart from training noise here: one probe per checkpoint"
            + ("" if noise["probe_seed"] is not None else ", its sample drawn from the training seed")
            + "."
        )
    else:
        probe = (
            f"Probe noise (between the {max(draws)} draws of one checkpoint, each its own probe sample and "
            f"initialisation, probe seed {noise['probe_seed']}): {points(noise['probe'])}; the mean of the draws, "
            f"which is the checkpoint's number, {points(noise['probe'] / math.sqrt(max(draws)))}."
        )
    return [
        f"Noise of the transfer numbers. {probe} Seed noise (between training seeds at one checkpoint): "
        f"{points(noise['seed'])}. Checkpoint noise (one seed's curve around its arm's mean curve and its own "
        f"offset, second half of training): {points(noise['checkpoint'])}.",
        "",
    ]


def best_transfer_lines(findings: Mapping[str, Any], names: Sequence[str]) -> List[str]:
    """Best transfer, described only: the maximum of noisy checkpoints, beside what a flat curve would give."""
    flat = findings["noise"]["flat_best_minus_final"]
    rows = [
        (name, cell(b["best"]), cell(b["final"]), cell(b["best_minus_final"]))
        for name, b in findings["best_transfer"].items()
        if name in names
    ]
    flat_text = (
        f"A flat curve with this study's checkpoint noise would show a best minus final of about {flat:+.2f} points "
        f"(the expected maximum of {findings['noise']['probed_checkpoints']} noisy checkpoints)"
        if flat is not None
        else "With one seed the checkpoint noise, and so what a flat curve would show, is not measured"
    )
    return [
        "Best transfer, described only (each seed's best checkpoint is chosen on the curve it is read from, so it "
        f"is biased up and never judged). {flat_text}.",
        "",
    ] + table(["arm", "best transfer (%)", "transfer at the end (%)", "best minus end (points)"], rows)
