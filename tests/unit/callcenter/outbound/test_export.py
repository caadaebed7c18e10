"""The results CSV never hands a spreadsheet a formula: not in a cell, not in the header."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from callcenter.outbound.export import results_csv
from hcrm_core.models import Campaign, CampaignKind


def _row(answer: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "attempt_id": 1,
        "patient_id": 2,
        "mrn": "MRN-1",
        "attempt_no": 1,
        "status": "completed",
        "detail": "",
        "scheduled_for": "",
        "dialled_at": "",
        "ended_at": "",
        "answers": {"q": answer},
    }
    row.update(values)
    return row


def _parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_defused_in_cells(start: str) -> None:
    campaign = Campaign(kind=CampaignKind.SURVEY, settings={"questions": [{"key": "q"}]})
    payload = f'{start}HYPERLINK("http://evil.example")'
    rows = _parsed(results_csv(campaign, [_row(payload, detail=payload)]))
    header, line = rows
    assert line[header.index("q")] == "'" + payload
    assert line[header.index("detail")] == "'" + payload


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_the_header_row_is_guarded_too(start: str) -> None:
    key = f"{start}cmd|' /C calc'!A0"
    campaign = Campaign(kind=CampaignKind.SURVEY, settings={"questions": [{"key": key}]})
    header, _line = _parsed(results_csv(campaign, [_row("yes", answers={key: "yes"})]))
    assert header[-1] == "'" + key
    assert header[0] == "attempt_id"  # plain names are untouched


def test_plain_values_are_left_alone() -> None:
    campaign = Campaign(kind=CampaignKind.SURVEY, settings={"questions": [{"key": "q"}]})
    _header, line = _parsed(results_csv(campaign, [_row("yes, twice a day")]))
    assert line[-1] == "yes, twice a day"
