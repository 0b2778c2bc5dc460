"""Result tables of the analysis tools: rows of flat dicts written as CSV or JSON, atomically.

A cell may hold a list of numbers (``temporal_transfer``'s ``top1_draws``): a JSON table holds the
list itself, a CSV cell the numbers separated by single spaces (``"71.25 70.8 71.1"``), read back
as a list for the columns the reader names in ``list_columns``.
"""

import csv
import io
import json
import os
from typing import Any, Dict, List, Sequence

from ..utils.errors import UserError
from ..utils.io import atomic_write_json, atomic_write_text

__all__ = ["write_table", "read_table", "FORMATS"]

FORMATS = ("csv", "json")


def write_table(path: str, rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` to ``path``; the format follows the extension (.csv or .json)."""
    if path.endswith(".json"):
        atomic_write_json(path, [{c: row.get(c) for c in columns} for row in rows])
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _csv_cell(value) for key, value in row.items()} for row in rows)
    atomic_write_text(path, buffer.getvalue())


def _csv_cell(value: Any) -> Any:
    """A list as its items separated by single spaces; anything else as it is."""
    return " ".join(str(item) for item in value) if isinstance(value, (list, tuple)) else value


def _value(text: str) -> Any:
    """A CSV cell as the number it spells, or the text."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_table(path: str, list_columns: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Rows written by ``write_table``: CSV cells that spell numbers read as numbers, and the cells of
    ``list_columns`` as lists of numbers (an empty cell, or a row without the column, is left as it is)."""
    if not os.path.isfile(path):
        return []
    try:
        if path.endswith(".json"):
            with open(path) as f:
                rows = json.load(f)
            if not isinstance(rows, list):
                raise ValueError("not a list of rows")
            return rows
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read previous results {path}: {e}") from None
    lists = set(list_columns)
    return [{key: _cell(text, key in lists) for key, text in row.items()} for row in rows]


def _cell(text: str, is_list: bool) -> Any:
    """A CSV cell as the number it spells (or the list of numbers, ``is_list``), or the text; "" stays ""."""
    if not text:
        return text
    return [_value(item) for item in text.split()] if is_list else _value(text)
