"""demo_output/report.md: what ran, how long it took, and every number the run computed."""

import math
from typing import Any, Dict, List, Optional, Sequence

Row = Dict[str, Any]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def _by_run(rows: Sequence[Row], key: str) -> Dict[str, Dict[int, float]]:
    curves: Dict[str, Dict[int, float]] = {}
    for row in rows:
        curves.setdefault(row["run"], {})[int(row["epoch"])] = float(row[key])
    return curves


def _epoch_table(curves: Dict[str, Dict[int, float]], runs: Sequence[str]) -> List[str]:
    epochs = sorted({e for curve in curves.values() for e in curve})
    rows = [[e] + [curves.get(run, {}).get(e, float("nan")) for run in runs] for e in epochs]
    return _table(["epoch"] + [f"{run}" for run in runs], rows)


def transfer_findings(curves: Dict[str, Dict[int, float]], baseline: str, ctc: str) -> List[str]:
    """Plain sentences computed from the transfer curves (no number is typed in)."""
    lines = []
    for run in (baseline, ctc):
        curve = curves.get(run, {})
        if not curve:
            continue
        best_epoch = max(curve, key=curve.get)
        last_epoch = max(curve)
        drop = curve[best_epoch] - curve[last_epoch]
        lines.append(
            f"- {run}: best transfer {curve[best_epoch]:.2f}% at epoch {best_epoch}, "
            f"{curve[last_epoch]:.2f}% at the last epoch {last_epoch} ({drop:.2f} points below its best)."
        )
    if curves.get(baseline) and curves.get(ctc):
        gap = curves[ctc][max(curves[ctc])] - curves[baseline][max(curves[baseline])]
        lines.append(f"- Final transfer accuracy, CTC minus baseline: {gap:+.2f} points.")
    return lines + [""]


def build_report(results: Dict[str, Any]) -> str:
    """The markdown of the report; ``results`` is what tools/demo.py collected."""
    runs: Dict[str, Row] = results["runs"]
    names = list(runs)
    baseline, ctc = names[0], names[-1]
    out = ["# ctc_plugin demo report", ""]
    out += [
        f"Config: `{results['config']}`. Machine: {results['machine']}. Total time {results['total_seconds']:.0f} s.",
        "",
    ]

    out += ["## What ran", ""]
    out += _table(
        ["step", "command", "seconds"], [(s["name"], f"`{s['command']}`", s["seconds"]) for s in results["steps"]]
    )

    out += ["## Pretraining (source task)", ""]
    out += [f"Settings: {results['pretrain_settings']}", ""]
    out += _table(
        ["run", "config", "epochs (IAS + IRS)", "final test top-1 (%)", "seconds"],
        [(n, f"`{r['config']}`", r["epochs"], r["final_top1"], r["seconds"]) for n, r in runs.items()],
    )
    out += ["Source test top-1 (%) per epoch:", ""]
    out += _epoch_table({n: r["top1_per_epoch"] for n, r in runs.items()}, names)

    transfer: Optional[List[Row]] = results.get("transfer")
    out += ["## Temporal transferability", ""]
    if transfer:
        target = transfer[0].get("target", "")
        out += [
            f"A linear probe on frozen features of `{target}` for every epoch's checkpoint (backbone in eval mode).",
            "",
        ]
        curves = _by_run(transfer, "top1")
        out += ["Target test top-1 (%) per epoch:", ""] + _epoch_table(curves, names)
        out += ["![temporal transferability](temporal_transfer/temporal_transfer.png)", ""]
        out += transfer_findings(curves, baseline, ctc)

    mi: Optional[List[Row]] = results.get("mi")
    out += ["## Information plane (MINE)", ""]
    if mi:
        rows = [(r["run"], r["epoch"], r["I_XT"], r["I_TY"]) for r in mi]
        out += _table(["run", "epoch", "I(X;T) (nats)", "I(T;Y) (nats)"], rows)
        out += ["![information plane](mutual_information/information_plane.png)", ""]

    out += ["## Conversion of the CTC network", ""]
    conversion: Dict[str, Dict[str, float]] = results.get("conversion", {})
    rows = [(target, output, f"{d:.1e}") for target, figures in conversion.items() for output, d in figures.items()]
    out += ["Largest relative difference between the source network and the converted one on the same input:", ""]
    out += _table(["target", "output", "max relative difference"], rows)

    detection = results.get("detection")
    out += ["## Detectron2: Mask R-CNN FPN", ""]
    if detection:
        out += [detection["dataset_note"], ""]
        out += _table(["metric", "value"], [(k, v) for k, v in detection["metrics"].items()])

    fgvc = results.get("fgvc")
    out += ["## timm: fine-grained fine-tuning", ""]
    if fgvc:
        out += [fgvc["dataset_note"], ""]
        out += _table(["metric", "value"], [(k, v) for k, v in fgvc["metrics"].items()])

    out += ["## What this run can and cannot show", ""]
    out += [results["caveats"], ""]
    return "\n".join(out)
