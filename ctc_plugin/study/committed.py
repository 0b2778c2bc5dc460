"""A committed study read beside this one (``COMMITTED_STUDY``): where its primary comparison stands,
and this study's seeds beside the same seeds there.

The demo runs one seed, which can judge nothing; the committed study (its ``findings.json``) is
where the question is settled, or not yet. Its records are copied into this study's
``results.json`` when the study runs, so a report rebuilt elsewhere says the same.
"""

import json
import logging
import os
from typing import Any, Dict, List, Mapping, Optional

from ..utils.errors import UserError
from .findings import FINDINGS
from .findings_text import finding_line
from .judge import metric_name
from .markdown import table

logger = logging.getLogger(__name__)

# The project's checkout, where a relative COMMITTED_STUDY is also looked for (an editable install).
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_committed_study(path: str) -> Optional[Dict[str, Any]]:
    """What this study keeps of the committed study in ``path``: its folder, seeds, plan and records.

    A relative ``path`` is looked for here, then in the project's checkout. None (with a warning)
    when neither has its ``findings.json``: the report then leaves the section out.

    Raises:
        UserError: the ``findings.json`` is there but is not a study's findings.
    """
    if not path:
        return None
    candidates = [path] if os.path.isabs(path) else [path, os.path.join(_CHECKOUT, path)]
    found = next((os.path.join(c, FINDINGS) for c in candidates if os.path.isfile(os.path.join(c, FINDINGS))), None)
    if found is None:
        logger.warning("COMMITTED_STUDY %s: no %s there; the report leaves that study out", path, FINDINGS)
        return None
    try:
        with open(found) as f:
            findings = json.load(f)
        return {
            "path": path,
            "seeds": list(findings["seeds"]),
            "planned_seeds": list(findings.get("planned_seeds") or findings["seeds"]),
            "plan": dict(findings["plan"]),
            "post_hoc": bool(findings["post_hoc"]),
            "findings": list(findings["findings"]),
        }
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"COMMITTED_STUDY {path}: {found} is not a study's findings.json ({e})") from None


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def primary_record(committed: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    return next((r for r in committed["findings"] if r["primary"]), None)


def standing_line(committed: Mapping[str, Any]) -> str:
    """One sentence: the committed study's primary comparison and how it stands."""
    primary = primary_record(committed)
    seeds = ", ".join(map(str, committed["seeds"]))
    planned = len(committed.get("planned_seeds") or committed["seeds"])
    of_planned = f", {len(committed['seeds'])} of the {planned} planned" if planned > len(committed["seeds"]) else ""
    where = f"The committed study `{committed['path']}` (seeds {seeds}{of_planned})"
    if primary is None:
        return f"{where} declares no primary comparison; its lines are exploratory."
    what = _sentence_case(metric_name(primary["metric"]))
    return f"{where}, its pre-registered primary comparison:\n{finding_line(primary, what)}"


def committed_section(committed: Optional[Mapping[str, Any]], findings: Mapping[str, Any]) -> List[str]:
    """The report's section: where the committed study stands, and this study's seeds beside the same seeds there."""
    if not committed:
        return []
    out = ["## Beside the committed study", "", standing_line(committed), ""]
    theirs = {(r["metric"], r["arm"], r["reference"]): r for r in committed["findings"]}
    rows = []
    for record in findings["findings"]:
        other = theirs.get((record["metric"], record["arm"], record["reference"]))
        if other is None:
            continue
        # An arm's own endpoint (its late fall, its source rise), or its difference from the reference.
        subject = record["arm"] if record["reference"] is None else f"{record['arm']} minus {record['reference']}"
        committed_values = {str(seed): v for seed, v in other["differences"].items()}
        for seed, value in record["differences"].items():
            if str(seed) in committed_values:
                there = committed_values[str(seed)]
                rows.append((record["metric"], subject, str(seed), f"{value:+.2f}", f"{there:+.2f}"))
    if rows:
        out += ["The same numbers for the seeds both studies ran (same arms, same seed):", ""]
        out += table(["metric", "of", "seed", "this run", "committed study"], rows)
    elif findings["findings"]:
        out += [
            "This study shares no arm pair and seed with it: its numbers are not the committed study's to compare.",
            "",
        ]
    return out
