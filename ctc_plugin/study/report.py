"""A study's report.md: what ran, how long it took, every number the steps computed, and what they show.

Every judged sentence comes from a record of ``findings.study_findings`` (``findings.json`` holds
the same records): a paired t-test across seeds with its 95% interval and p, Holm-adjusted over the
study's family unless it is the primary comparison the study declared before its seeds ran.
``results.json`` beside the report holds each number by seed. The demo's results (two arms, before
arms were named) read the same way.
"""

import os
from typing import Any, Dict, List, Mapping, Sequence

from .committed import committed_section
from .findings import study_findings
from .findings_text import best_transfer_lines, finding_line, findings_section, noise_lines, plan_section, records_of
from .inference import MIN_SEEDS_TO_JUDGE
from .judge import arm_names, reference_name, task_descriptors
from .markdown import epoch_table, init_name, table
from .plots import PLANE_PLOT, SOURCE_PLOT, TRANSFER_PLOT, per_seed_of, source_over_seeds, write_plots
from .summary import by_seed, curves_over_seeds, format_mean_sd
from .task import get_task

__all__ = ["build_report", "write_plots"]


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
    rows = [
        [init_name(init)] + [format_mean_sd(by_seed(per_seed, name, init, key).values()) for key in keys]
        for init in inits
    ]
    out += table(["initialisation"] + [task["metrics"][key][1] for key in keys], rows)
    for metric, shown in task["metrics"].values():
        if metric is not None:
            out += [finding_line(r, shown, downstream=True) for r in records_of(findings, metric)]
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
    out += committed_section(results.get("committed_study"), findings)

    out += ["## Arms", ""]
    settings = results.get("pretrain_settings", "")
    out += [f"Overrides of every arm: {settings}.", ""] if settings else []
    runs = _first_runs(per_seed, names)
    out += table(
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
    out += _stepstable(results["steps"], seeds, _study_root(per_seed))

    out += ["## Pretraining (source task)", ""]
    rows = []
    for name in names:
        top1 = by_seed(per_seed, "runs", name, "final_top1").values()
        loss = by_seed(per_seed, "runs", name, "final_loss").values()
        seconds = by_seed(per_seed, "runs", name, "seconds").values()
        rows.append((name, format_mean_sd(top1), format_mean_sd(loss, 4), format_mean_sd(seconds, 0)))
    out += table(["arm", "final test top-1 (%)", "last logged training loss", "seconds"], rows)
    out += [finding_line(r, "Final source test top-1") for r in records_of(findings, "final_source")]
    out += [
        finding_line(r, "Rise of the source top-1, late minus early window")
        for r in records_of(findings, "source_rise")
    ]
    out += ["", "Source test top-1 (%) per evaluated epoch:", ""] + epoch_table(
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
        out += ["Target test top-1 (%) per epoch:", ""] + epoch_table(curves, names)
        out += [f"![temporal transferability]({TRANSFER_PLOT})", ""]
        out += noise_lines(findings)
        out += [finding_line(r, "Transfer at the end") for r in records_of(findings, "final_transfer")]
        out += [finding_line(r, "Late fall of the transfer") for r in records_of(findings, "late_fall")]
        out += [""] + best_transfer_lines(findings, names)

    mi_rows = {s: n["mi"] for s, n in per_seed.items()}
    if any(mi_rows.values()):
        out += ["## Information plane (MINE)", ""]
        xt, ty = curves_over_seeds(mi_rows, "I_XT"), curves_over_seeds(mi_rows, "I_TY")
        rows = [
            (run, e, format_mean_sd(v), format_mean_sd(ty[run][e])) for run in xt for e, v in sorted(xt[run].items())
        ]
        out += table(["arm", "epoch", "I(X;T) (nats)", "I(T;Y) (nats)"], rows)
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
    return out + table(
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


def _stepstable(steps: Sequence[Mapping[str, Any]], seeds: Sequence[int], root: str = "") -> List[str]:
    """One row per step: its command (the first seed's; the others differ in paths and ``SEED``) and
    its seconds for every seed. ``root``: an older study's folder, shown as relative paths."""
    rows: Dict[str, Dict[str, Any]] = {}
    for step in steps:
        seed_tag, _, name = step["name"].partition("_")
        command = step["command"].replace(root, "") if root else step["command"]
        row = rows.setdefault(name, {"command": command, "seconds": {}})
        row["seconds"][int(seed_tag[len("seed") :])] = step["seconds"]
    header = ["step", "command (first seed)"] + [f"seconds, seed {seed}" for seed in seeds]
    return table(
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
