"""Result tables of the analysis tools: rows of flat dicts written as CSV or JSON, atomically."""

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
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


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


def read_table(path: str) -> List[Dict[str, Any]]:
    """Rows written by ``write_table`` (CSV cells that spell numbers read as numbers)."""
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
    return [{key: _value(text) if text else text for key, text in row.items()} for row in rows]
