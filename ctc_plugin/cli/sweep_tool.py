"""The analysis tools (ctc-temporal-transfer, ctc-estimate-mi): one command line and one tail.

Each measures every selected checkpoint of ``--run`` folders into a table (``analysis.sweep.Sweep``)
and draws a curve per run from it, both rewritten after every checkpoint. Torch only: no
Detectron2.
"""

import argparse
import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ..analysis.results import FORMATS
from ..analysis.sweep import Row, Sweep
from .common import ArgumentParser, int_list

# A run's curve: one point per measured checkpoint; what a plot function draws, per run label.
Point = Tuple[Any, ...]
Curves = Dict[str, List[Point]]


def sweep_parser(description: str, output_dir: str) -> Tuple[ArgumentParser, argparse._ArgumentGroup]:
    """The analysis tools' command line: the runs, the table, and (the returned group) checkpoints and compute."""
    parser = ArgumentParser(description)
    parser.add_argument("--run", action="append", required=True, metavar="DIR", help="pretraining run (repeatable)")
    parser.add_argument("--label", action="append", default=[], help="legend name of each --run (default: its folder)")
    parser.add_argument("--output-dir", default=output_dir)
    parser.add_argument("--format", choices=FORMATS, default="csv", help="table format (default csv)")
    parser.add_argument("--resume", action="store_true", help="keep an existing table's rows, skip their checkpoints")
    compute = parser.add_argument_group("checkpoints and compute")
    compute.add_argument("--epochs", default="", help="comma-separated epochs (default all)")
    compute.add_argument("--every", type=int, default=1, help="every k-th checkpoint (the last always)")
    compute.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    compute.add_argument("--feature-batch-size", type=int, default=256)
    compute.add_argument("--num-workers", type=int, default=2)
    return parser, compute


def open_sweep(args: argparse.Namespace, table: str, columns: Sequence[str], list_columns: Sequence[str] = ()) -> Sweep:
    """The runs and checkpoints the flags select, measured into ``OUTPUT_DIR/<table>.<format>``."""
    table_path = os.path.join(args.output_dir, f"{table}.{args.format}")
    epochs = int_list(args.epochs, "--epochs")
    return Sweep(args.run, args.label, epochs, args.every, table_path, columns, args.resume, list_columns)


def measure_and_plot(
    sweep: Sweep,
    measure: Callable[[int, Any, Any], Row],
    point: Callable[[Row], Point],
    plot: Callable[[Curves, str], None],
    plot_path: str,
) -> None:
    """Measure every checkpoint (``Sweep.run``); after each, ``plot`` the runs' curves of ``point``
    per row to ``plot_path`` (runs with no row yet left out). Says where the table and plot are."""

    def draw(rows: List[Row]) -> None:
        curves = {label: [point(row) for row in rows if row["run"] == label] for label in sweep.labels}
        plot({label: points for label, points in curves.items() if points}, plot_path)

    sweep.run(measure, draw)
    print(f"Wrote {sweep.table_path} and {plot_path}", flush=True)
