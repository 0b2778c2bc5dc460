"""A study's report.md: what ran, how long it took, every number the steps computed, and what they show.

Every judged sentence comes from a record of ``findings.study_findings`` (``findings.json`` holds
the same records): a paired t-test across seeds with its 95% interval and p, Holm-adjusted over the
study's family unless it is the primary comparison the study declared before its seeds ran.
``results.json`` beside the report holds each number by seed. The demo's results (two arms, before
arms were named) read the same way.
"""

import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .findings import study_findings
from .inference import MIN_SEEDS_TO_JUDGE
from .judge import RANDOM, arm_names, metric_name, reference_name, task_descriptors, verdict
from .plots import PLANE_PLOT, SOURCE_PLOT, TRANSFER_PLOT, per_seed_of, source_over_seeds, write_plots
from .summary import by_seed, curves_over_seeds, format_mean_sd
from .task import get_task

__all__ = ["build_report", "write_plots"]

RANDOM_NAME = "random initialisation"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.2f}"
    return "n/a" if value is None else str(value)


def _p(value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _init_name(init: str) -> str:
    return RANDOM_NAME if init == RANDOM else f"{init} weights"


def _epochs(epochs: Sequence[int]) -> str:
    return ", ".join(map(str, epochs)) if epochs else "none"


def _epoch_table(curves: Dict[str, Dict[int, List[float]]], runs: Sequence[str]) -> List[str]:
    epochs = sorted({e for curve in curves.values() for e in curve})
    rows = [[e] + [format_mean_sd(curves.get(run, {}).get(e, [])) for run in runs] for e in epochs]
    return _table(["epoch"] + list(runs), rows)


def finding_line(record: Mapping[str, Any], what: str, unit: str = " points", downstream: bool = False) -> str:
    """One sentence of a judged record: its mean, 95% interval, p (and Holm's), the seeds that agree."""
    if record["reference"] is None:
        subject = f"{what}, {record['arm']}"
    elif downstream:
        subject = f"{what}, {_init_name(record['arm'])} minus {_init_name(record['reference'])}"
    else:
        subject = f"{what}, {record['arm']} minus {record['reference']}"
    if not record["judged"]:
        shown = ", ".join(f"{d:+.2f}" for d in record["differences"].values())
        return f"- {subject}: {shown}{unit} by seed: {verdict(record)}."
    adjusted = "primary" if record["primary"] else f"Holm-adjusted p {_p(record['p_adjusted'])}"
    low, high = record["ci"]
    return (
        f"- {subject}: {record['mean']:+.2f}{unit}, 95% CI [{low:+.2f}, {high:+.2f}], p {_p(record['p'])} "
        f"({adjusted}), {record['seeds_agreeing']} of {record['n']} seeds agree: **{verdict(record)}**."
    )


def _records(findings: Mapping[str, Any], metric: str, **match: Any) -> List[Mapping[str, Any]]:
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
        (name, _epochs(w["early"]), _epochs(w["late"]), _epochs(w["slope"]))
        for name, w in findings["windows"].items()
        if name in names
    ]
    out += ["The windows, as epochs of each arm's probed checkpoints:", ""]
    out += _table(["arm", "early window", "late window (transfer at the end)", "slope window"], rows)
    unevaluated = {
        name: w["source_missing"] for name, w in findings["windows"].items() if name in names and w["source_missing"]
    }
    if unevaluated:
        missing = "; ".join(f"{name}: {_epochs(epochs)}" for name, epochs in unevaluated.items())
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
    primary = [r for r in findings["findings"] if r["primary"]]
    if primary:
        out += ["Primary:", "", finding_line(primary[0], metric_name(primary[0]["metric"])), ""]
    rows = []
    for r in findings["findings"]:
        if r["primary"]:
            continue
        ci = "n/a" if r["ci"] is None else f"[{r['ci'][0]:+.2f}, {r['ci'][1]:+.2f}]"
        other = "" if r["reference"] is None else r["reference"]
        rows.append(
            (r["metric"], r["arm"], other or "(within the arm)", r["n"], f"{r['mean']:+.2f}", ci, _p(r["p"]),
             _p(r["p_adjusted"]), f"{r['seeds_agreeing']}/{r['n']}", verdict(r))
        )  # fmt: skip
    if rows:
        out += ["Exploratory (every other judged line; `findings.json` holds each with its seeds):", ""]
        header = ["metric", "arm", "minus", "seeds", "mean", "95% CI", "p", "Holm p", "seeds agreeing", "verdict"]
        out += _table(header, rows)
    shown = [r for r in findings["findings"] if r["significant"]]
    if shown:
        out += ["What holds: " + "; ".join(_short(r) for r in shown) + ".", ""]
    elif any(r["judged"] for r in findings["findings"]):
        out += ["No judged line shows a difference at this study's level.", ""]
    return out


def _short(record: Mapping[str, Any]) -> str:
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
        (name, _cell(b["best"]), _cell(b["final"]), _cell(b["best_minus_final"]))
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
    ] + _table(["arm", "best transfer (%)", "transfer at the end (%)", "best minus end (points)"], rows)


def _registered(name: str):
    """The registered task ``name``, or None (a report rebuilt where its code is not registered)."""
    try:
        return get_task(name)
    except Exception:  # noqa: BLE001  (the report falls back to what results.json recorded)
        return None


def task_section(findings, per_seed, name: str, task: Mapping[str, Any], inits: Sequence[str]) -> List[str]:
    """A downstream task's section: its note, its numbers per initialisation, and its judged lines."""
    rows = [r for numbers in per_seed.values() for r in numbers.get(name, {}).values()]
    registered = _registered(name)
    keys, left_out = registered.shown_metrics(rows) if registered else (list(task["metrics"]), "")
    note = " ".join(t for t in (task.get("note", ""), "Every initialisation trains with the same recipe and seed.",
                                left_out) if t)  # fmt: skip
    out = [f"## {task['title']}", "", note, ""]
    table = [
        [_init_name(init)] + [format_mean_sd(by_seed(per_seed, name, init, key).values()) for key in keys]
        for init in inits
    ]
    out += _table(["initialisation"] + [task["metrics"][key][1] for key in keys], table)
    for metric, shown in task["metrics"].values():
        if metric is not None:
            out += [finding_line(r, shown, downstream=True) for r in _records(findings, metric)]
    return out + [""]


def build_report(results: Dict[str, Any]) -> str:
    """The markdown of the report; ``results`` is what the study collected (``results.json``)."""
    findings = study_findings(results)
    per_seed = per_seed_of(results)
    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    names = arm_names(results)
    reference = reference_name(results)
    threads = f" {results['threads']} thread(s) per step." if results.get("threads") else ""
    config = f"`{results['config']}`"
    if results["config"].startswith("configs/demo/"):  # study configs moved to configs/studies/
        config += f" (now `configs/studies/{results['config'][len('configs/demo/') :]}`)"
    out = ["# ctc_plugin study report", ""]
    out += [
        f"Config: {config}. Commit `{results['commit']}`, {results['date']}. Machine: "
        f"{results['machine']}.{threads} Seeds: {', '.join(map(str, seeds))}. Arms: {', '.join(names)} (reference: "
        f"{reference}). Time on this machine: {results['total_seconds']:.0f} s, the steps' own time summed over "
        "every invocation of the study.",
        "",
    ]
    if results.get("report_commit", results["commit"]) != results["commit"]:
        out += [f"This report was rebuilt from `results.json` at commit `{results['report_commit']}`.", ""]
    if len(seeds) > 1:
        out += [
            f"Every number is the mean ± standard deviation over the {len(seeds)} seeds; `results.json` holds each "
            "seed's, `findings.json` every judged line.",
            "",
        ]
    out += plan_section(findings, names)
    out += findings_section(findings)

    out += ["## Arms", ""]
    settings = results.get("pretrain_settings", "")
    out += [f"Overrides of every arm: {settings}.", ""] if settings else []
    runs = _first_runs(per_seed, names)
    out += _table(
        ["arm", "network", "config", "its overrides", "epochs (IAS + IRS)", "training images"],
        [
            (n, network_of(runs[n]), f"`{runs[n]['config']}`", " ".join(runs[n].get("opts", [])) or "none",
             runs[n]["epochs"], runs[n]["images"])
            for n in names if n in runs
        ],
    )  # fmt: skip

    out += ["## What ran", ""]
    out += [
        "Commands are written relative to the study's folder (`OUTPUT_DIR`); packaged configs by their name.",
        "",
    ]
    out += _steps_table(results["steps"], seeds, _study_root(per_seed))

    out += ["## Pretraining (source task)", ""]
    rows = []
    for name in names:
        top1 = by_seed(per_seed, "runs", name, "final_top1").values()
        loss = by_seed(per_seed, "runs", name, "final_loss").values()
        seconds = by_seed(per_seed, "runs", name, "seconds").values()
        rows.append((name, format_mean_sd(top1), format_mean_sd(loss, 4), format_mean_sd(seconds, 0)))
    out += _table(["arm", "final test top-1 (%)", "last logged training loss", "seconds"], rows)
    out += [finding_line(r, "Final source test top-1") for r in _records(findings, "final_source")]
    out += [
        finding_line(r, "Rise of the source top-1, late minus early window") for r in _records(findings, "source_rise")
    ]
    out += ["", "Source test top-1 (%) per evaluated epoch:", ""] + _epoch_table(
        source_over_seeds(per_seed, names), names
    )
    out += [f"![source accuracy]({SOURCE_PLOT})", ""]

    out += ["## Temporal transferability", ""]
    if first["transfer"]:
        row = first["transfer"][0]
        draws = row.get("draws", 1)
        out += [
            f"A linear probe on frozen features of `{row.get('target', '')}` for every probed checkpoint (backbone in "
            f"eval mode), trained on {row.get('train_images', 'n/a')} and tested on {row.get('test_images', 'n/a')} "
            f"images; {draws} probe draw{'s' * (draws > 1)} per checkpoint"
            + (f", probe seed {row['probe_seed']} for every training seed." if "probe_seed" in row else "."),
            "",
        ]
        curves = curves_over_seeds({s: n["transfer"] for s, n in per_seed.items()}, "top1")
        out += ["Target test top-1 (%) per epoch:", ""] + _epoch_table(curves, names)
        out += [f"![temporal transferability]({TRANSFER_PLOT})", ""]
        out += noise_lines(findings)
        out += [finding_line(r, "Transfer at the end") for r in _records(findings, "final_transfer")]
        out += [finding_line(r, "Late fall of the transfer") for r in _records(findings, "late_fall")]
        out += [""] + best_transfer_lines(findings, names)

    mi_rows = {s: n["mi"] for s, n in per_seed.items()}
    if any(mi_rows.values()):
        out += ["## Information plane (MINE)", ""]
        xt, ty = curves_over_seeds(mi_rows, "I_XT"), curves_over_seeds(mi_rows, "I_TY")
        rows = [
            (run, e, format_mean_sd(v), format_mean_sd(ty[run][e])) for run in xt for e, v in sorted(xt[run].items())
        ]
        out += _table(["arm", "epoch", "I(X;T) (nats)", "I(T;Y) (nats)"], rows)
        out += [f"![information plane]({PLANE_PLOT})", ""]

    out += _conversion_section(per_seed, names)

    for name, task in task_descriptors(results).items():
        if any(numbers.get(name) for numbers in per_seed.values()):
            out += task_section(findings, per_seed, name, task, results["inits"])

    out += ["## What this run can and cannot show", ""]
    out += [caveats(per_seed, names, findings, task_descriptors(results)), ""]
    return "\n".join(out)


def _first_runs(per_seed: Mapping[int, Mapping[str, Any]], names: Sequence[str]) -> Dict[str, Mapping[str, Any]]:
    """arm -> its run summary in the first seed that has it (a study still running may lack some)."""
    runs: Dict[str, Mapping[str, Any]] = {}
    for seed in sorted(per_seed):
        for name in names:
            if name in per_seed[seed]["runs"] and name not in runs:
                runs[name] = per_seed[seed]["runs"][name]
    return runs


def _conversion_section(per_seed, names: Sequence[str]) -> List[str]:
    conversions = {}
    for seed in sorted(per_seed):
        for network, targets in per_seed[seed]["conversion"].items():
            for target, figures in targets.items():
                outputs, worst = conversions.get((network, target), (sorted(figures), 0.0))
                conversions[(network, target)] = (outputs, max([worst, *figures.values()]))
    if not conversions:
        return []

    def in_arm_order(item):  # results.json keeps its keys sorted; the report keeps the study's order
        (network, target), _ = item
        return (names.index(network) if network in names else len(names), network, target)

    out = ["## Conversion of the pretrained networks", ""]
    out += [
        "Largest relative difference between the source network and the converted one on the same input, over "
        "the compared outputs and the seeds:",
        "",
    ]
    return out + _table(
        ["network", "target", "outputs", "max relative difference"],
        [(n, t, ", ".join(o), f"{d:.1e}") for (n, t), (o, d) in sorted(conversions.items(), key=in_arm_order)],
    )


def _study_root(per_seed: Mapping[int, Mapping[str, Any]]) -> str:
    """The folder an older study ran in, from its runs' absolute paths ("" when they are relative)."""
    for numbers in per_seed.values():
        for run in numbers["runs"].values():
            path = str(run.get("output_dir", ""))
            if os.path.isabs(path) and f"{os.sep}seed_" in path:
                return path.rsplit(f"{os.sep}seed_", 1)[0] + os.sep
    return ""


def _steps_table(steps: Sequence[Mapping[str, Any]], seeds: Sequence[int], root: str = "") -> List[str]:
    """One row per step: its command (the first seed's; the others differ in paths and ``SEED``) and
    its seconds for every seed. ``root``: an older study's folder, shown as relative paths."""
    rows: Dict[str, Dict[str, Any]] = {}
    for step in steps:
        seed_tag, _, name = step["name"].partition("_")
        command = step["command"].replace(root, "") if root else step["command"]
        row = rows.setdefault(name, {"command": command, "seconds": {}})
        row["seconds"][int(seed_tag[len("seed") :])] = step["seconds"]
    header = ["step", "command (first seed)"] + [f"seconds, seed {seed}" for seed in seeds]
    return _table(
        header,
        [
            [name, f"`{row['command']}`"] + [row["seconds"].get(s, float("nan")) for s in seeds]
            for name, row in rows.items()
        ],
    )


def network_of(run: Mapping[str, Any]) -> str:
    """An arm's network in words (results from before networks were recorded: their ResNet depth and stem)."""
    if "network" in run:
        return run["network"]
    depth, stem = run["model"]
    return f"ResNet-{depth} ({'CIFAR' if stem == 'cifar' else 'ImageNet'} stem)"


def caveats(per_seed: Mapping[int, Mapping[str, Any]], names: Sequence[str], findings: Mapping[str, Any],
            tasks: Mapping[str, Mapping[str, Any]]) -> str:  # fmt: skip
    """What the run's scale and design allow one to conclude, from its own sizes."""
    seeds = sorted(per_seed)
    runs = _first_runs(per_seed, names)
    if len(seeds) >= MIN_SEEDS_TO_JUDGE:
        judged = (
            f"{len(seeds)} seeds ({', '.join(map(str, seeds))}). A line that shows no difference is no evidence "
            "that there is none: its interval says how large a difference these seeds cannot rule out."
        )
        if findings["post_hoc"]:
            judged += " The analysis is post hoc, so every finding is exploratory and needs a confirmatory study."
    else:
        judged = f"{len(seeds)} seed{'s' * (len(seeds) > 1)}, so no difference above is judged."
    sizes = sorted({(r["total_epochs"], r["images"]) for r in runs.values()})
    scale = "; ".join(f"{epochs} epochs on {images} training images" for epochs, images in sizes)
    networks = sorted({f"{network_of(r)} on {r['input_size']}x{r['input_size']} inputs" for r in runs.values()})
    text = (
        f"{judged} The network{'s are' if len(networks) > 1 else ' is'} {'; '.join(networks)}, {scale}. "
        "The appendix's Figures 1-3 (CIFAR-100 to STL-10, ResNet-18, 300 epochs) show the "
        "baseline's transfer accuracy flattening or falling late in training while its source accuracy keeps "
        "rising, and CTC's second stage lifting it again; the late-fall lines above test, on pre-set windows of "
        "this run's own curves, whether that regime was reached here."
    )
    downstream = []  # only the runs that ran
    for name in tasks:
        rows = [r for numbers in per_seed.values() for r in numbers.get(name, {}).values()]
        registered = _registered(name)
        phrase = registered.scale(rows) if registered and rows else ""
        if name == "detection" and rows and "iterations" not in rows[0]:  # results from before tasks were recorded
            iterations = next(iter(per_seed.values())).get("detection_iters")
            phrase = f"the Mask R-CNN runs train for {iterations} iterations" if iterations else ""
        downstream += [phrase] if phrase else []
    if downstream:
        runs = " and ".join(downstream)
        text += f" {runs[0].upper()}{runs[1:]}, so their scores compare the initialisations at that scale only."
    return text
