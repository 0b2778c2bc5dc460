"""A study's report.md and its plots: what ran, how long it took, and every number the steps computed.

Over several seeds each number is shown as mean ± standard deviation, the curves get bands, and
every comparison of an arm with the reference arm says whether its seed-paired difference
exceeds the spread across seeds (``summary``). ``results.json`` beside the report holds each
number by seed. The demo's results (two arms, before arms were named) read the same way.
"""

import math
import os
from typing import Any, Dict, List, Mapping, Sequence

from ..analysis.plots import plot_information_plane, plot_temporal_transfer
from .summary import (
    arm_curves,
    by_seed,
    comparison_line,
    curves_over_seeds,
    format_mean_sd,
    late_fall,
    mean_sd,
    paired_difference,
    source_curves,
)

TRANSFER_PLOT = "temporal_transfer.png"
SOURCE_PLOT = "source_accuracy.png"
PLANE_PLOT = "information_plane.png"
RANDOM_NAME = "random initialisation"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def _per_seed(results: Mapping[str, Any]) -> Dict[int, Mapping[str, Any]]:
    return {int(seed): numbers for seed, numbers in results["per_seed"].items()}


def arm_names(results: Mapping[str, Any]) -> List[str]:
    """The arms in their order (a demo's results.json from before arms were named: its runs)."""
    if results.get("arms"):
        return [arm["name"] for arm in results["arms"]]
    return list(next(iter(results["per_seed"].values()))["runs"])


def reference_name(results: Mapping[str, Any]) -> str:
    return results.get("reference") or arm_names(results)[0]


def _init_name(init: str) -> str:
    return RANDOM_NAME if init == "random" else f"{init} weights"


def _epoch_table(curves: Dict[str, Dict[int, List[float]]], runs: Sequence[str]) -> List[str]:
    epochs = sorted({e for curve in curves.values() for e in curve})
    rows = [[e] + [format_mean_sd(curves.get(run, {}).get(e, [])) for run in runs] for e in epochs]
    return _table(["epoch"] + list(runs), rows)


def _mean_curves(curves: Dict[str, Dict[int, List[float]]]):
    means = {run: [(e, mean_sd(v)[0]) for e, v in sorted(c.items())] for run, c in curves.items()}
    spread = {run: [(e, mean_sd(v)[1]) for e, v in sorted(c.items()) if len(v) > 1] for run, c in curves.items()}
    return means, spread


def _source_over_seeds(per_seed, names: Sequence[str]) -> Dict[str, Dict[int, List[float]]]:
    curves: Dict[str, Dict[int, List[float]]] = {}
    for name in names:
        for by_epoch in source_curves(per_seed, name).values():
            for epoch, value in by_epoch.items():
                curves.setdefault(name, {}).setdefault(epoch, []).append(value)
    return curves


def _stage_boundary(per_seed, names: Sequence[str]):
    """The IAS -> IRS epoch when every two-stage arm shares one, else None."""
    first = next(iter(per_seed.values()))["runs"]
    boundaries = {int(first[n]["epochs"].split("+")[0]) for n in names if int(first[n]["epochs"].split("+")[1]) > 0}
    return boundaries.pop() if len(boundaries) == 1 else None


def _steps_table(steps: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> List[str]:
    """One row per step: its command (the first seed's; the others differ in paths and ``SEED``) and
    its seconds for every seed."""
    rows: Dict[str, Dict[str, Any]] = {}
    for step in steps:
        seed_tag, _, name = step["name"].partition("_")
        row = rows.setdefault(name, {"command": step["command"], "seconds": {}})
        row["seconds"][int(seed_tag[len("seed") :])] = step["seconds"]
    header = ["step", "command (first seed)"] + [f"seconds, seed {seed}" for seed in seeds]
    return _table(
        header,
        [
            [name, f"`{row['command']}`"] + [row["seconds"].get(s, float("nan")) for s in seeds]
            for name, row in rows.items()
        ],
    )


def write_plots(results: Mapping[str, Any], folder: str) -> None:
    """Transfer and source curves (bands: +-sd over seeds) and the information plane (error bars)."""
    per_seed = _per_seed(results)
    names = arm_names(results)
    seeds = len(per_seed)
    over = f" (mean ± sd over {seeds} seeds)" if seeds > 1 else ""
    boundary = _stage_boundary(per_seed, names)
    transfer = curves_over_seeds({s: n["transfer"] for s, n in per_seed.items()}, "top1")
    means, spread = _mean_curves({name: transfer[name] for name in names if name in transfer})
    plot_temporal_transfer(
        means, os.path.join(folder, TRANSFER_PLOT), title="Temporal transferability" + over, boundary=boundary,
        spread=spread,
    )  # fmt: skip
    means, spread = _mean_curves(_source_over_seeds(per_seed, names))
    plot_temporal_transfer(
        means, os.path.join(folder, SOURCE_PLOT), title="Source test accuracy" + over, boundary=boundary,
        spread=spread, ylabel="source top-1 accuracy (%)",
    )  # fmt: skip
    rows = {s: n["mi"] for s, n in per_seed.items()}
    if not any(rows.values()):
        return
    xt, ty = curves_over_seeds(rows, "I_XT"), curves_over_seeds(rows, "I_TY")
    plane = {run: [(e, mean_sd(v)[0], mean_sd(ty[run][e])[0]) for e, v in sorted(c.items())] for run, c in xt.items()}
    plane_spread = {
        run: [(e, mean_sd(v)[1], mean_sd(ty[run][e])[1]) for e, v in sorted(c.items()) if len(v) > 1]
        for run, c in xt.items()
    }
    plot_information_plane(
        plane, os.path.join(folder, PLANE_PLOT), title="Information plane" + over, spread=plane_spread
    )


def _downstream(per_seed, section: str, metrics: Sequence[str], inits: Sequence[str], names: Mapping[str, str],
                reference: str) -> List[str]:  # fmt: skip
    rows = [
        [_init_name(init)] + [format_mean_sd(by_seed(per_seed, section, init, m).values()) for m in metrics]
        for init in inits
    ]
    lines = _table(["initialisation"] + [names[m] for m in metrics], rows)
    arms = [init for init in inits if init != "random"]
    pairs = [(arm, reference) for arm in arms if arm != reference and reference in arms]
    pairs += [(arm, "random") for arm in arms if "random" in inits]
    for metric in metrics:
        for a, b in pairs:
            difference = paired_difference(by_seed(per_seed, section, a, metric), by_seed(per_seed, section, b, metric))
            lines.append(comparison_line(names[metric], _init_name(a), _init_name(b), difference, " points"))
    return lines + [""]


def build_report(results: Dict[str, Any]) -> str:
    """The markdown of the report; ``results`` is what the study collected (``results.json``)."""
    per_seed = _per_seed(results)
    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    names = arm_names(results)
    reference = reference_name(results)
    others = [name for name in names if name != reference]
    several = len(seeds) > 1
    out = ["# ctc_plugin study report", ""]
    out += [
        f"Config: `{results['config']}`. Commit `{results['commit']}`, {results['date']}. Machine: "
        f"{results['machine']}. Seeds: {', '.join(map(str, seeds))}. Arms: {', '.join(names)} (reference: "
        f"{reference}). Time on this machine: {results['total_seconds']:.0f} s, the steps' own time summed over "
        "every invocation of the study.",
        "",
    ]
    if results.get("report_commit", results["commit"]) != results["commit"]:
        out += [f"This report was rebuilt from `results.json` at commit `{results['report_commit']}`.", ""]
    if several:
        out += [
            f"Every number is the mean ± standard deviation over the {len(seeds)} seeds; `results.json` holds each "
            "seed's. A difference between two arms is taken seed by seed, and called larger than the spread "
            "across seeds when its mean exceeds the standard deviation of those paired differences.",
            "",
        ]

    out += ["## Arms", ""]
    settings = results.get("pretrain_settings", "")
    out += [f"Overrides of every arm: {settings}.", ""] if settings else []
    out += _table(
        ["arm", "config", "its overrides", "epochs (IAS + IRS)", "training images"],
        [
            (n, f"`{first['runs'][n]['config']}`", " ".join(first["runs"][n].get("opts", [])) or "none",
             first["runs"][n]["epochs"], first["runs"][n]["images"])
            for n in names
        ],
    )  # fmt: skip

    out += ["## What ran", ""]
    out += _steps_table(results["steps"], seeds)

    out += ["## Pretraining (source task)", ""]
    rows = []
    for name in names:
        top1 = by_seed(per_seed, "runs", name, "final_top1").values()
        loss = by_seed(per_seed, "runs", name, "final_loss").values()
        seconds = by_seed(per_seed, "runs", name, "seconds").values()
        rows.append((name, format_mean_sd(top1), format_mean_sd(loss, 4), format_mean_sd(seconds, 0)))
    out += _table(["arm", "final test top-1 (%)", "last logged training loss", "seconds"], rows)
    for name in others:
        difference = paired_difference(
            by_seed(per_seed, "runs", name, "final_top1"), by_seed(per_seed, "runs", reference, "final_top1")
        )
        out.append(comparison_line("Final source test top-1", name, reference, difference, " points"))
    source = _source_over_seeds(per_seed, names)
    out += ["", "Source test top-1 (%) per evaluated epoch:", ""] + _epoch_table(source, names)
    out += [f"![source accuracy]({SOURCE_PLOT})", ""]

    out += ["## Temporal transferability", ""]
    if first["transfer"]:
        target = first["transfer"][0].get("target", "")
        out += [
            f"A linear probe on frozen features of `{target}` for every measured epoch's checkpoint (backbone in "
            "eval mode).",
            "",
        ]
        curves = curves_over_seeds({s: n["transfer"] for s, n in per_seed.items()}, "top1")
        out += ["Target test top-1 (%) per epoch:", ""] + _epoch_table(curves, names)
        out += [f"![temporal transferability]({TRANSFER_PLOT})", ""]
        out += transfer_findings(per_seed, names, reference)

    mi_rows = {s: n["mi"] for s, n in per_seed.items()}
    if any(mi_rows.values()):
        out += ["## Information plane (MINE)", ""]
        xt, ty = curves_over_seeds(mi_rows, "I_XT"), curves_over_seeds(mi_rows, "I_TY")
        rows = [
            (run, e, format_mean_sd(v), format_mean_sd(ty[run][e])) for run in xt for e, v in sorted(xt[run].items())
        ]
        out += _table(["arm", "epoch", "I(X;T) (nats)", "I(T;Y) (nats)"], rows)
        out += [f"![information plane]({PLANE_PLOT})", ""]

    conversions = {}
    for seed in seeds:
        for network, targets in per_seed[seed]["conversion"].items():
            for target, figures in targets.items():
                outputs, worst = conversions.get((network, target), (sorted(figures), 0.0))
                conversions[(network, target)] = (outputs, max([worst, *figures.values()]))

    def in_arm_order(item):  # results.json keeps its keys sorted; the report keeps the study's order
        (network, target), _ = item
        return (names.index(network) if network in names else len(names), network, target)

    if conversions:
        out += ["## Conversion of the pretrained networks", ""]
        out += [
            "Largest relative difference between the source network and the converted one on the same input, over "
            "the compared outputs and the seeds:",
            "",
        ]
        out += _table(
            ["network", "target", "outputs", "max relative difference"],
            [(n, t, ", ".join(o), f"{d:.1e}") for (n, t), (o, d) in sorted(conversions.items(), key=in_arm_order)],
        )

    inits = results["inits"]
    if any(n["detection"] for n in per_seed.values()):
        out += ["## Detectron2: Mask R-CNN FPN", ""]
        out += [results["detection_note"] + " Every initialisation trains with the same recipe and seed.", ""]
        names_ap = {"bbox/AP": "box AP", "segm/AP": "mask AP"}
        out += _downstream(per_seed, "detection", list(names_ap), inits, names_ap, reference)
    if any(n["fgvc"] for n in per_seed.values()):
        out += ["## timm: fine-grained fine-tuning", ""]
        note = results["fgvc_note"] + " Every initialisation trains with the same recipe and seed."
        classes = [r.get("num_classes", 0) for s in seeds for r in per_seed[s]["fgvc"].values()]
        metrics = ["top1", "top5"]
        if classes and 0 < min(classes) <= 5:  # top-5 of five classes or fewer is 100% by construction
            metrics = ["top1"]
            note += f" Top-5 is not shown: with {min(classes)} classes it is 100% whatever the network."
        out += [note, ""]
        metric_names = {"top1": "test top-1 (%)", "top5": "test top-5 (%)"}
        out += _downstream(per_seed, "fgvc", metrics, inits, metric_names, reference)

    out += ["## What this run can and cannot show", ""]
    out += [caveats(per_seed, names), ""]
    return "\n".join(out)


def caveats(per_seed: Mapping[int, Mapping[str, Any]], names: Sequence[str]) -> str:
    """What the run's scale allows one to conclude, from its own sizes."""
    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    run = first["runs"][names[-1]]
    depth, stem = run["model"]
    if len(seeds) > 1:
        judged = (
            f"{len(seeds)} seeds ({', '.join(map(str, seeds))}). The comparison lines above say, for each "
            "difference, whether it exceeds its own spread across seeds; one within it is no evidence either way."
        )
    else:
        judged = "One seed, so no difference above can be judged against a spread across seeds."
    sizes = sorted({(r["total_epochs"], r["images"]) for r in first["runs"].values()})
    scale = "; ".join(f"{epochs} epochs on {images} training images" for epochs, images in sizes)
    text = (
        f"{judged} The network is a ResNet-{depth} ({stem} stem) on {run['input_size']}x{run['input_size']} "
        f"inputs, {scale}. The appendix's Figures 1-3 (CIFAR-100 to STL-10, ResNet-18, 300 epochs) show the "
        "baseline's transfer accuracy flattening or falling late in training while its source accuracy keeps "
        "rising, and CTC's second stage lifting it again; the late-fall lines above say, from this run's own "
        "curves, whether that regime was reached here."
    )
    downstream = []  # only the runs that ran
    if any(first["detection"].values()):
        downstream.append(f"the Mask R-CNN runs train for {first['detection_iters']} iterations")
    if any(first["fgvc"].values()):
        test_images = next((r.get("num_images") for r in first["fgvc"].values()), "a few")
        downstream.append(f"the fine-tunes are scored on {test_images} test images")
    if downstream:
        runs = " and ".join(downstream)
        text += f" {runs[0].upper()}{runs[1:]}, so their scores compare the initialisations at that scale only."
    return text


def transfer_findings(per_seed, names: Sequence[str], reference: str) -> List[str]:
    """Sentences computed from the transfer curves (no number is typed in)."""
    lines = []
    falls = {}
    for name in names:
        test_images = max((int(r.get("test_images") or 0) for n in per_seed.values() for r in n["transfer"]), default=0)
        fall = falls[name] = late_fall(arm_curves(per_seed, name), source_curves(per_seed, name), test_images)
        if not fall["seeds"]:
            continue
        n = len(fall["seeds"])
        drop = fall["fall"]
        verdict = (
            "no spread to judge it by (one seed)"
            if drop["exceeds_spread"] is None
            else ("a late fall larger than the spread across seeds and the probe's own error "
                  f"({fall['probe_error']:.2f})" if fall["falls"] else "no late fall beyond the spread across seeds "
                  f"and the probe's own error ({fall['probe_error']:.2f})")
        )  # fmt: skip
        spread = "" if math.isnan(drop["sd"]) else f" ± {drop['sd']:.2f}"
        rise = "not evaluated after the peak"
        if fall["source_rise"]:
            sd = fall["source_rise_sd"]
            rise = f"{fall['source_rise_mean']:+.2f}{'' if math.isnan(sd) else f' ± {sd:.2f}'} points after the peak"
        lines.append(
            f"- {name}: mean transfer peaks at epoch {fall['peak_epoch']} ({fall['peak_mean']:.2f}%) and ends at "
            f"{fall['last_mean']:.2f}% at epoch {fall['last_epoch']}; peak minus last, seed by seed: "
            f"{drop['mean']:+.2f}{spread} points over {n} seed{'s' * (n > 1)}: {verdict}. Source top-1 {rise}."
        )
    lines.append("")
    rows = []
    for name in names:
        fall = falls[name]
        if fall["seeds"]:
            best_minus_final = format_mean_sd(fall["best_minus_final"].values())
            rows.append(
                (name, best_minus_final, "yes" if fall["falls"] else "no", "yes" if fall["source_rises"] else "no")
            )
    lines += _table(
        ["arm", "best minus final transfer, each seed's own best (points)",
         "late fall beyond the spread and the probe's error", "source top-1 rises after the peak"],
        rows,
    )  # fmt: skip
    for name in names:
        if name == reference or not falls[name]["seeds"] or not falls[reference]["seeds"]:
            continue
        mine, theirs = arm_curves(per_seed, name), arm_curves(per_seed, reference)
        final = {s: c[max(c)] for s, c in mine.items() if c}, {s: c[max(c)] for s, c in theirs.items() if c}
        best = {s: max(c.values()) for s, c in mine.items() if c}, {s: max(c.values()) for s, c in theirs.items() if c}
        lines.append(comparison_line("Final transfer accuracy", name, reference, paired_difference(*final), " points"))
        lines.append(comparison_line("Best transfer accuracy", name, reference, paired_difference(*best), " points"))
        lines.append(
            comparison_line(
                "Best minus final transfer", name, reference,
                paired_difference(falls[name]["best_minus_final"], falls[reference]["best_minus_final"]), " points",
            )
        )  # fmt: skip
    return lines + [""]
