"""A campaign's results as CSV: one row per attempt, one column per question's answer."""

from __future__ import annotations

import csv
import io
from typing import Any

from hcrm_core.models import Campaign

FIXED = ("attempt_id", "patient_id", "mrn", "attempt_no", "status", "detail")
TIMES = ("scheduled_for", "dialled_at", "ended_at")


# What makes a spreadsheet read a cell as a formula: =, +, -, @ start one, and a leading tab
# or carriage return is skipped by some (Excel, LibreOffice) before they look for them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula: one that could start one gets a '."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def results_csv(campaign: Campaign, rows: list[dict[str, Any]]) -> str:
    """``rows`` as :meth:`CampaignService.results` returns them."""
    keys = [str(q["key"]) for q in campaign.settings.get("questions", [])]
    if any("reminder" in row["answers"] for row in rows):
        keys.append("reminder")
    out = io.StringIO()
    writer = csv.writer(out)
    # Question keys are campaign settings, written by people: the header is guarded too.
    writer.writerow([_cell(name) for name in (*FIXED, *TIMES, *keys)])
    for row in rows:
        values = [row[name] for name in (*FIXED, *TIMES)]
        values += [row["answers"].get(key, "") for key in keys]
        writer.writerow([_cell(value) for value in values])
    return out.getvalue()
