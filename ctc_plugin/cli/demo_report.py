"""demo_output/report.md and its plots: what ran, how long it took, and every number the run computed.

Over several seeds each number is shown as mean ± standard deviation, the curves get bands, and
every comparison between runs says whether its difference exceeds the spread across seeds
(``demo_summary``). ``results.json`` beside the report holds each number by seed.
"""

import math
import os
from typing import Any, Dict, List, Mapping, Sequence

from ..analysis.plots import plot_information_plane, plot_temporal_transfer
from .demo_summary import by_seed, comparison_line, curves_over_seeds, format_mean_sd, mean_sd, paired_difference

Row = Dict[str, Any]
TRANSFER_PLOT = "temporal_transfer.png"
PLANE_PLOT = "information_plane.png"
INIT_NAMES = {"ctc": "CTC weights", "baseline": "baseline weights", "random": "random initialisation"}


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


def _epoch_table(curves: Dict[str, Dict[int, List[float]]], runs: Sequence[str]) -> List[str]:
    epochs = sorted({e for curve in curves.values() for e in curve})
    rows = [[e] + [format_mean_sd(curves.get(run, {}).get(e, [])) for run in runs] for e in epochs]
    return _table(["epoch"] + list(runs), rows)


def _mean_curves(curves: Dict[str, Dict[int, List[float]]]):
    means = {run: [(e, mean_sd(v)[0]) for e, v in sorted(c.items())] for run, c in curves.items()}
    spread = {run: [(e, mean_sd(v)[1]) for e, v in sorted(c.items()) if len(v) > 1] for run, c in curves.items()}
    return means, spread


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
    """The temporal-transfer curves (bands: +-sd over seeds) and the information plane (error bars)."""
    per_seed = _per_seed(results)
    transfer = curves_over_seeds({s: n["transfer"] for s, n in per_seed.items()}, "top1")
    means, spread = _mean_curves(transfer)
    first = next(iter(per_seed.values()))
    boundary = int(first["runs"]["ctc"]["epochs"].split("+")[0])
    seeds = len(per_seed)
    title = "Temporal transferability" + (f" (mean ± sd over {seeds} seeds)" if seeds > 1 else "")
    plot_temporal_transfer(means, os.path.join(folder, TRANSFER_PLOT), title=title, boundary=boundary, spread=spread)
    rows = {s: n["mi"] for s, n in per_seed.items()}
    xt, ty = curves_over_seeds(rows, "I_XT"), curves_over_seeds(rows, "I_TY")
    plane = {run: [(e, mean_sd(v)[0], mean_sd(ty[run][e])[0]) for e, v in sorted(c.items())] for run, c in xt.items()}
    plane_spread = {
        run: [(e, mean_sd(v)[1], mean_sd(ty[run][e])[1]) for e, v in sorted(c.items()) if len(v) > 1]
        for run, c in xt.items()
    }
    title = "Information plane" + (f" (mean ± sd over {seeds} seeds)" if seeds > 1 else "")
    plot_information_plane(plane, os.path.join(folder, PLANE_PLOT), title=title, spread=plane_spread)


def _downstream(per_seed, section: str, metrics: Sequence[str], inits: Sequence[str], names: Mapping[str, str]):
    rows = []
    for init in inits:
        rows.append([INIT_NAMES.get(init, init)] + [format_mean_sd(by_seed(per_seed, section, init, m).values())
                                                     for m in metrics])  # fmt: skip
    lines = _table(["initialisation"] + [names[m] for m in metrics], rows)
    pairs = [
        (a, b) for a, b in (("ctc", "baseline"), ("ctc", "random"), ("baseline", "random")) if {a, b} <= set(inits)
    ]
    for metric in metrics:
        for a, b in pairs:
            difference = paired_difference(by_seed(per_seed, section, a, metric), by_seed(per_seed, section, b, metric))
            lines.append(comparison_line(names[metric], INIT_NAMES[a], INIT_NAMES[b], difference, " points"))
    return lines + [""]


def build_report(results: Dict[str, Any]) -> str:
    """The markdown of the report; ``results`` is what the demo collected (``results.json``)."""
    per_seed = _per_seed(results)
    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    names = list(first["runs"])
    baseline, ctc = names[0], names[-1]
    several = len(seeds) > 1
    out = ["# ctc_plugin demo report", ""]
    out += [
        f"Config: `{results['config']}`. Commit `{results['commit']}`, {results['date']}. Machine: "
        f"{results['machine']}. Seeds: {', '.join(map(str, seeds))}. Total time {results['total_seconds']:.0f} s.",
        "",
    ]
    if results.get("report_commit", results["commit"]) != results["commit"]:
        out += [f"This report was rebuilt from `results.json` at commit `{results['report_commit']}`.", ""]
    if several:
        out += [
            f"Every number is the mean ± standard deviation over the {len(seeds)} seeds; `results.json` holds each "
            "seed's. A difference between two runs is taken seed by seed, and called larger than the spread "
            "across seeds when its mean exceeds the standard deviation of those paired differences.",
            "",
        ]

    out += ["## What ran", ""]
    out += _steps_table(results["steps"], seeds)

    out += ["## Pretraining (source task)", ""]
    out += [f"Settings: {results['pretrain_settings']}", ""]
    rows = []
    for name in names:
        run = first["runs"][name]
        top1 = by_seed(per_seed, "runs", name, "final_top1").values()
        seconds = by_seed(per_seed, "runs", name, "seconds").values()
        rows.append((name, f"`{run['config']}`", run["epochs"], format_mean_sd(top1), format_mean_sd(seconds, 0)))
    out += _table(["run", "config", "epochs (IAS + IRS)", "final test top-1 (%)", "seconds"], rows)
    difference = paired_difference(
        by_seed(per_seed, "runs", ctc, "final_top1"), by_seed(per_seed, "runs", baseline, "final_top1")
    )
    out += [comparison_line("Final source test top-1", ctc, baseline, difference, " points"), ""]
    source = {
        name: {
            int(e): [float(per_seed[s]["runs"][name]["top1_per_epoch"][e]) for s in seeds
                     if e in per_seed[s]["runs"][name]["top1_per_epoch"]]
            for e in first["runs"][name]["top1_per_epoch"]
        }
        for name in names
    }  # fmt: skip
    out += ["Source test top-1 (%) per epoch:", ""] + _epoch_table(source, names)

    out += ["## Temporal transferability", ""]
    transfer_rows = {s: n["transfer"] for s, n in per_seed.items()}
    if first["transfer"]:
        target = first["transfer"][0].get("target", "")
        out += [
            f"A linear probe on frozen features of `{target}` for every epoch's checkpoint (backbone in eval mode).",
            "",
        ]
        curves = curves_over_seeds(transfer_rows, "top1")
        out += ["Target test top-1 (%) per epoch:", ""] + _epoch_table(curves, names)
        out += [f"![temporal transferability]({TRANSFER_PLOT})", ""]
        out += transfer_findings(curves, per_seed, baseline, ctc)

    out += ["## Information plane (MINE)", ""]
    if first["mi"]:
        mi_rows = {s: n["mi"] for s, n in per_seed.items()}
        xt, ty = curves_over_seeds(mi_rows, "I_XT"), curves_over_seeds(mi_rows, "I_TY")
        rows = [
            (run, e, format_mean_sd(v), format_mean_sd(ty[run][e])) for run in xt for e, v in sorted(xt[run].items())
        ]
        out += _table(["run", "epoch", "I(X;T) (nats)", "I(T;Y) (nats)"], rows)
        out += [f"![information plane]({PLANE_PLOT})", ""]

    out += ["## Conversion of the pretrained networks", ""]
    out += [
        "Largest relative difference between the source network and the converted one on the same input, over the "
        "compared outputs and the seeds:",
        "",
    ]
    rows = {}
    for seed in seeds:
        for network, targets in per_seed[seed]["conversion"].items():
            for target, figures in targets.items():
                key = (network, target)
                outputs, worst = rows.get(key, (sorted(figures), 0.0))
                rows[key] = (outputs, max([worst, *figures.values()]))
    out += _table(
        ["network", "target", "outputs", "max relative difference"],
        [(n, t, ", ".join(o), f"{d:.1e}") for (n, t), (o, d) in rows.items()],
    )

    inits = results["inits"]
    out += ["## Detectron2: Mask R-CNN FPN", ""]
    out += [results["detection_note"] + " Every initialisation trains with the same recipe and seed.", ""]
    names_ap = {"bbox/AP": "box AP", "segm/AP": "mask AP"}
    out += _downstream(per_seed, "detection", list(names_ap), inits, names_ap)

    out += ["## timm: fine-grained fine-tuning", ""]
    note = results["fgvc_note"] + " Every initialisation trains with the same recipe and seed."
    classes = [r.get("num_classes", 0) for s in seeds for r in per_seed[s]["fgvc"].values()]
    metrics = ["top1", "top5"]
    if classes and 0 < min(classes) <= 5:  # top-5 of five classes or fewer is 100% by construction
        metrics = ["top1"]
        note += f" Top-5 is not shown: with {min(classes)} classes it is 100% whatever the network."
    out += [note, ""]
    out += _downstream(per_seed, "fgvc", metrics, inits, {"top1": "test top-1 (%)", "top5": "test top-5 (%)"})

    out += ["## What this run can and cannot show", ""]
    out += [caveats(per_seed), ""]
    return "\n".join(out)


def caveats(per_seed: Mapping[int, Mapping[str, Any]]) -> str:
    """What the run's scale allows one to conclude, from its own sizes."""
    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    ctc = first["runs"]["ctc"]
    depth, stem = ctc["model"]
    test_images = next((r.get("num_images") for r in first["fgvc"].values()), "a few")
    if len(seeds) > 1:
        judged = (
            f"{len(seeds)} seeds ({', '.join(map(str, seeds))}). The comparison lines above say, for each "
            "difference, whether it exceeds its own spread across seeds; one within it is no evidence either way."
        )
    else:
        judged = "One seed, so no difference above can be judged against a spread across seeds."
    return (
        f"{judged} The network is a ResNet-{depth} ({stem} stem) on {ctc['input_size']}x{ctc['input_size']} "
        f"inputs, {ctc['total_epochs']} epochs on {ctc['images']} training images. This scale shows that every "
        "part of the pipeline works end to end on real data and what each initialisation gives at demo size, not "
        "how CTC behaves at the paper's: the appendix's Figures 1-3 (CIFAR-100 to STL-10, ResNet-18, 300 epochs) "
        "show the baseline's transfer accuracy flattening or falling late in training while its source accuracy "
        "keeps rising, and CTC's second stage lifting it again. The Mask R-CNN runs train for "
        f"{first['detection_iters']} iterations on synthetic shapes and the fine-tunes are scored on {test_images} "
        "test images, so their AP and top-1 compare the initialisations at that scale only. "
        "`--config-file configs/demo/paper.yaml` runs the same pipeline at the paper's scale."
    )


def transfer_findings(curves: Dict[str, Dict[int, List[float]]], per_seed, baseline: str, ctc: str) -> List[str]:
    """Sentences computed from the transfer curves (no number is typed in)."""
    lines = []
    for run in (baseline, ctc):
        curve = {e: mean_sd(v)[0] for e, v in curves.get(run, {}).items()}
        if not curve:
            continue
        best_epoch, last_epoch = max(curve, key=curve.get), max(curve)
        drop = curve[best_epoch] - curve[last_epoch]
        lines.append(
            f"- {run}: best mean transfer {curve[best_epoch]:.2f}% at epoch {best_epoch}, "
            f"{curve[last_epoch]:.2f}% at the last epoch {last_epoch} ({drop:.2f} points below its best)."
        )
    final = {}
    for run in (baseline, ctc):
        final[run] = {}
        for seed, numbers in per_seed.items():
            rows = [r for r in numbers["transfer"] if r["run"] == run]
            if rows:
                final[run][seed] = float(max(rows, key=lambda r: int(r["epoch"]))["top1"])
    difference = paired_difference(final[ctc], final[baseline])
    lines.append(comparison_line("Final transfer accuracy", ctc, baseline, difference, " points"))
    return lines + [""]
