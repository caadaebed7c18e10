"""A segment's definition as data: which tags, attributes and RFM groups its patients have.

Stored in ``segments.definition`` (JSON) and validated here whenever it is written. Every
filter given must hold (lists inside one filter are alternatives, except ``tags``: a member
carries every tag listed). Refusals are :class:`~hcrm_core.errors.FieldErrors` naming the field
by its path under ``definition`` (``definition.rfm.r_min``), as the console's forms expect.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hcrm_core.errors import FieldErrors, ValidationFailed
from hcrm_core.services.campaigns_config import plain_message
from hcrm_core.services.rfm import RFM_GROUPS

# Age bands in whole years, inclusive; None: no upper end.
AGE_BANDS: Final[dict[str, tuple[int, int | None]]] = {
    "0-17": (0, 17),
    "18-39": (18, 39),
    "40-64": (40, 64),
    "65-79": (65, 79),
    "80+": (80, None),
}
TAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_CONDITION = re.compile(r"^[A-Z][0-9A-Z.]{0,15}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
SCORES: Final = ("r", "f", "m")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RfmBounds(_Model):
    """Score ranges (1-5, both ends included) each member's R, F and M must fall in."""

    r_min: int | None = Field(default=None, ge=1, le=5)
    r_max: int | None = Field(default=None, ge=1, le=5)
    f_min: int | None = Field(default=None, ge=1, le=5)
    f_max: int | None = Field(default=None, ge=1, le=5)
    m_min: int | None = Field(default=None, ge=1, le=5)
    m_max: int | None = Field(default=None, ge=1, le=5)

    def bounds(self, score: str) -> tuple[int | None, int | None]:
        return getattr(self, f"{score}_min"), getattr(self, f"{score}_max")

    def given(self) -> bool:
        return any(value is not None for value in self.model_dump().values())


class Definition(_Model):
    tags: list[str] = Field(default_factory=list, max_length=20)
    conditions: list[str] = Field(default_factory=list, max_length=20)
    age_bands: list[str] = Field(default_factory=list, max_length=len(AGE_BANDS))
    languages: list[str] = Field(default_factory=list, max_length=20)
    vip: bool | None = None
    chronic_care: bool | None = None
    # The last attended visit: within the last N days, or longer ago than N days (and ever).
    last_visit_within_days: int | None = Field(default=None, ge=1, le=3650)
    no_visit_for_days: int | None = Field(default=None, ge=1, le=3650)
    rfm_groups: list[str] = Field(default_factory=list, max_length=len(RFM_GROUPS))
    rfm: RfmBounds = Field(default_factory=RfmBounds)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for name in value:
            if not TAG_NAME.match(name):
                raise ValueError(f"{name!r} is not a tag name (lower-case letters, digits, -)")
        return sorted(set(value))

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: list[str]) -> list[str]:
        codes = [code.strip().upper() for code in value]
        for code in codes:
            if not _CONDITION.match(code):
                raise ValueError(f"{code!r} is not an ICD-10 code (e.g. E11 or I10)")
        return sorted(set(codes))

    @field_validator("age_bands")
    @classmethod
    def _age_bands(cls, value: list[str]) -> list[str]:
        unknown = [band for band in value if band not in AGE_BANDS]
        if unknown:
            raise ValueError(f"unknown age band {unknown[0]!r}: use {', '.join(AGE_BANDS)}")
        return [band for band in AGE_BANDS if band in value]

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for code in value:
            if not _LANGUAGE.match(code):
                raise ValueError(f"{code!r} is not a language code (e.g. en, zh)")
        return sorted(set(value))

    @field_validator("rfm_groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        unknown = [group for group in value if group not in RFM_GROUPS]
        if unknown:
            raise ValueError(f"unknown RFM group {unknown[0]!r}: use {', '.join(RFM_GROUPS)}")
        return [group for group in RFM_GROUPS if group in value]

    def is_empty(self) -> bool:
        return self == Definition()


def parse_definition(raw: Any) -> Definition:
    """A valid definition, or :class:`FieldErrors` naming each field (``definition.<path>``)."""
    if not isinstance(raw, dict):
        raise ValidationFailed("definition", "give an object of filters")
    try:
        definition = Definition.model_validate(raw)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            path = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
            errors.setdefault(f"definition.{path}".rstrip("."), plain_message(error))
        raise FieldErrors(errors) from exc
    errors = _bound_errors(definition)
    within, beyond = definition.last_visit_within_days, definition.no_visit_for_days
    if within and beyond and beyond >= within:
        errors["definition.no_visit_for_days"] = (
            "must be fewer days than the last visit's 'within' (no patient could match)"
        )
    if errors:
        raise FieldErrors(errors)
    if definition.is_empty():
        raise ValidationFailed("definition", "give at least one filter (a tag, attribute or group)")
    return definition


def _bound_errors(definition: Definition) -> dict[str, str]:
    errors = {}
    for score in SCORES:
        low, high = definition.rfm.bounds(score)
        if low is not None and high is not None and low > high:
            errors[f"definition.rfm.{score}_max"] = f"must be at least the lowest score ({low})"
    return errors


def stored(definition: Definition) -> dict[str, Any]:
    """The JSON kept in ``segments.definition``: only the filters given."""
    return definition.model_dump(mode="json", exclude_defaults=True)


def birth_dates(band: str, today: date) -> tuple[date | None, date]:
    """(born after, born on or before) for the patients whose age today is in ``band``."""
    youngest, oldest = AGE_BANDS[band]
    latest = _years_before(today, youngest)
    earliest = None if oldest is None else _years_before(today, oldest + 1)
    return earliest, latest


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def age_band(born: date, today: date) -> str:
    """The band of :data:`AGE_BANDS` a person born on ``born`` is in on ``today``."""
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return next(
        name
        for name, (low, high) in AGE_BANDS.items()
        if age >= low and (high is None or age <= high)
    )
