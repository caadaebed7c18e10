"""Segment definitions as data: age bands from birth dates, what is kept, what is refused."""

from __future__ import annotations

from datetime import date

import pytest

from hcrm_core.errors import FieldErrors, ValidationFailed
from hcrm_core.services.segments_definition import (
    age_band,
    birth_dates,
    parse_definition,
    stored,
)


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (date(2008, 12, 7), "18-39"),  # 18 today
        (date(2008, 12, 8), "0-17"),  # 18 tomorrow
        (date(1961, 12, 7), "65-79"),
        (date(1946, 12, 8), "65-79"),  # 80 tomorrow
        (date(1946, 12, 7), "80+"),
    ],
)
def test_age_bands_turn_on_the_birthday(born: date, band: str) -> None:
    today = date(2026, 12, 7)
    assert age_band(born, today) == band
    after, latest = birth_dates(band, today)
    assert born <= latest and (after is None or born > after)


def test_leap_day_birthdays_have_a_band_in_common_years() -> None:
    assert birth_dates("18-39", date(2027, 2, 28))[1] == date(2009, 2, 28)


def test_definitions_are_normalised_and_stored_without_defaults() -> None:
    definition = parse_definition(
        {"conditions": [" e11 ", "E11"], "age_bands": ["80+", "0-17"], "rfm": {"r_max": 2}}
    )
    assert stored(definition) == {
        "conditions": ["E11"],
        "age_bands": ["0-17", "80+"],
        "rfm": {"r_max": 2},
    }


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "definition"),
        ({"rfm": {}}, "definition"),
        ([], "definition"),
        ({"rfm": {"m_min": 3, "m_max": 2}}, "definition.rfm.m_max"),
        ({"rfm": {"r_min": "high"}}, "definition.rfm.r_min"),
        ({"tags": ["Not A Tag"]}, "definition.tags"),
        ({"languages": ["english"]}, "definition.languages"),
        ({"last_visit_within_days": 0}, "definition.last_visit_within_days"),
    ],
)
def test_refusals_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_definition(raw)
    fields = refused.value.errors if isinstance(refused.value, FieldErrors) else {}
    assert refused.value.field == field or field in fields
