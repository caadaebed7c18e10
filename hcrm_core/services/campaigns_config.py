"""A campaign's settings as data: targets, pacing, calling window, retries and questions.

Stored in ``campaigns.settings`` (JSON) and validated here whenever they are written, so the
dialer and the dialogs only ever read settings that passed these rules. Admins edit questions,
answer keys and escalation thresholds without a code change. Validation errors become
:class:`~hcrm_core.errors.ValidationFailed` naming the field (``window.start``...).
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from hcrm_core.errors import FieldErrors, ValidationFailed
from hcrm_core.models import AttemptStatus, CampaignKind

# The strictest common rule (TCPA and most national codes): 08:00-21:00 in the patient's local
# time. A campaign may narrow its window, never widen it past these.
EARLIEST_CALL = time(8, 0)
LATEST_CALL = time(21, 0)
NPS: Final = "nps"
CHOICE: Final = "choice"
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VALUE_RE = re.compile(r"^[a-z0-9_]{1,64}$")
# Keys a question may not use: 0 is the agent, 9 the opt-out, * repeats (callcenter.outbound).
RESERVED_KEYS = frozenset({"0", "9", "*", "#"})

# Outcomes that may be retried, and their defaults.
RETRYABLE = (
    AttemptStatus.BUSY,
    AttemptStatus.NO_ANSWER,
    AttemptStatus.FAILED,
    AttemptStatus.MACHINE,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Question(_Model):
    """One question: its spoken text per language, the keys that answer it, when to escalate.

    ``choice``: ``options`` maps a key to the stored answer value; ``escalate_on`` lists the
    values that need a person. ``nps``: the answer is 0-10 (keys, ``#`` ends "10");
    ``escalate_at_or_below`` is the score that needs a person (detractors are 0-6).
    """

    key: str
    kind: Literal["choice", "nps"] = "choice"
    text: dict[str, str]
    options: dict[str, str] = Field(default_factory=dict)
    escalate_on: list[str] = Field(default_factory=list)
    escalate_at_or_below: int | None = Field(default=None, ge=0, le=10)
    escalation_reason: str = Field(default="", max_length=120)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY_RE.match(value):
            raise ValueError("use lower-case letters, digits and _ (starting with a letter)")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value or not value["en"].strip():
            raise ValueError("an English text is required (the fallback language)")
        for language, text in value.items():
            if not re.match(r"^[a-z]{2,3}$", language) or not 0 < len(text) <= 400:
                raise ValueError(f"bad text for language {language!r}")
        return value

    @model_validator(mode="after")
    def _answers(self) -> Question:
        if self.kind == NPS:
            if self.options or self.escalate_on:
                raise ValueError("an nps question takes no options (its answer is 0-10)")
            return self
        if not self.options:
            raise ValueError("a choice question needs options (key -> answer value)")
        for key, value in self.options.items():
            if len(key) != 1 or not key.isdigit() or key in RESERVED_KEYS:
                raise ValueError(f"option key {key!r}: use one digit 1-8 (0 agent, 9 opt-out)")
            if not _VALUE_RE.match(value):
                raise ValueError(f"option value {value!r}: lower-case letters, digits and _")
        unknown = set(self.escalate_on) - set(self.options.values())
        if unknown:
            raise ValueError(f"escalate_on names values no option gives: {sorted(unknown)}")
        if self.escalate_at_or_below is not None:
            raise ValueError("escalate_at_or_below is for nps questions")
        return self

    def parse(self, keys: str) -> str | None:
        """The answer value for the keys pressed, or None when they answer nothing."""
        if self.kind == NPS:
            digits = keys.rstrip("#")
            if digits.isdigit() and 0 <= int(digits) <= 10:
                return str(int(digits))
            return None
        return self.options.get(keys)

    def escalates(self, value: str) -> bool:
        if self.kind == NPS:
            return self.escalate_at_or_below is not None and int(value) <= self.escalate_at_or_below
        return value in self.escalate_on


class RetryRule(_Model):
    retry_delay_minutes: int = Field(ge=1, le=7 * 24 * 60)
    max_attempts: int = Field(ge=1, le=10)


class CallingWindow(_Model):
    """Hours in the hospital's time zone; the patient's own 08:00-21:00 applies on top."""

    start: time = EARLIEST_CALL
    end: time = LATEST_CALL
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5])  # Monday = 0
    holidays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _strict(self) -> CallingWindow:
        if not self.start < self.end:
            raise ValueError("start must be before end")
        if self.start < EARLIEST_CALL or self.end > LATEST_CALL:
            raise ValueError("calls are allowed only between 08:00 and 21:00")
        if not self.weekdays or any(not 0 <= day <= 6 for day in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday), at least one")
        return self


class Targets(_Model):
    """Who is called; every filter given must hold. Consent and do-not-call always apply."""

    department_id: int | None = None
    condition_code: str | None = Field(default=None, max_length=16)
    appointment_from: date | None = None
    appointment_to: date | None = None
    discharged_from: date | None = None
    discharged_to: date | None = None
    # Skip patients any campaign has dialled in the last N days.
    not_contacted_days: int | None = Field(default=None, ge=1, le=3650)
    patient_ids: list[int] | None = Field(default=None, max_length=100_000)
    # Only the members of this saved segment (hcrm_core.services.segments), as it is when
    # the campaign starts and at each enrolment sweep.
    segment_id: int | None = Field(default=None, ge=1)


def _default_retries() -> dict[AttemptStatus, RetryRule]:
    return {
        AttemptStatus.BUSY: RetryRule(retry_delay_minutes=15, max_attempts=3),
        AttemptStatus.NO_ANSWER: RetryRule(retry_delay_minutes=120, max_attempts=3),
        AttemptStatus.FAILED: RetryRule(retry_delay_minutes=30, max_attempts=2),
        AttemptStatus.MACHINE: RetryRule(retry_delay_minutes=240, max_attempts=2),
    }


class CampaignConfig(_Model):
    mode: Literal["automated", "progressive"] = "automated"
    # Progressive calls, and "3 reaches an agent" in reminders, go to this queue.
    agent_queue: str = Field(default="appointments", pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    max_concurrent: int = Field(default=5, ge=1, le=500)
    calls_per_second: float = Field(default=1.0, gt=0, le=100)
    max_calls_per_patient_per_day: int = Field(default=3, ge=1, le=10)
    ring_timeout_seconds: int = Field(default=30, ge=5, le=120)
    # Progressive mode: stop dialling while abandoned answered calls exceed this share.
    max_abandon_rate: float = Field(default=0.03, ge=0, le=0.03)
    window: CallingWindow = Field(default_factory=CallingWindow)
    retries: dict[AttemptStatus, RetryRule] = Field(default_factory=_default_retries)
    amd: bool = False  # run Asterisk's AMD() on answer
    # Recording of calls that reach an agent (progressive, or "3" in a reminder); None: the
    # agent queue's policy, else the site default (docs/recordings.md).
    recording: Literal["always", "never", "on_demand"] | None = None
    machine_message: bool = True  # leave a short message on a machine (else hang up)
    followup_day: int = Field(default=2, ge=0, le=365)  # post-discharge: day N after
    targets: Targets = Field(default_factory=Targets)
    questions: list[Question] = Field(default_factory=list, max_length=20)

    @field_validator("retries")
    @classmethod
    def _retryable(cls, value: dict[AttemptStatus, RetryRule]) -> dict[AttemptStatus, RetryRule]:
        bad = [str(status) for status in value if status not in RETRYABLE]
        if bad:
            raise ValueError(f"only {', '.join(map(str, RETRYABLE))} can be retried: {bad}")
        return {**_default_retries(), **value}

    @model_validator(mode="after")
    def _unique_keys(self) -> CampaignConfig:
        keys = [question.key for question in self.questions]
        if len(keys) != len(set(keys)):
            raise ValueError("question keys must be unique")
        return self

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)


def _choice(
    key: str, text: tuple[str, str], options: dict[str, str], escalate: list[str]
) -> dict[str, Any]:
    english, mandarin = text
    return {
        "key": key,
        "text": {"en": english, "zh": mandarin},
        "options": options,
        "escalate_on": escalate,
    }


# Kinds whose calls say something fixed rather than ask the campaign's questions.
QUESTIONLESS_KINDS = frozenset({CampaignKind.REMINDER, CampaignKind.APPOINTMENT_CHANGED})

# Starting questions per kind; admins change them per campaign.
DEFAULT_QUESTIONS: dict[CampaignKind, list[dict[str, Any]]] = {
    CampaignKind.REMINDER: [],
    # The call says what changed and offers an agent: no questions (callcenter.outbound).
    CampaignKind.APPOINTMENT_CHANGED: [],
    CampaignKind.POST_DISCHARGE: [
        _choice(
            "feeling",
            (
                "How are you feeling since you left hospital? If well, press 1. "
                "If poorly, press 2.",
                "出院后您感觉如何？感觉良好，请按1。感觉不好，请按2。",
            ),
            {"1": "well", "2": "poorly"},
            ["poorly"],
        ),
        _choice(
            "new_symptom",
            (
                "Do you have any new symptom? If yes, press 1. If no, press 2.",
                "您是否有新的症状？有，请按1。没有，请按2。",
            ),
            {"1": "yes", "2": "no"},
            ["yes"],
        ),
    ],
    CampaignKind.ADHERENCE: [
        _choice(
            "medication",
            (
                "Are you taking your medication as prescribed? If yes, press 1. "
                "If you have stopped taking it, press 2.",
                "您是否按医嘱服药？是，请按1。如已停药，请按2。",
            ),
            {"1": "taking", "2": "stopped"},
            ["stopped"],
        ),
    ],
    CampaignKind.SURVEY: [
        {
            "key": "nps",
            "kind": NPS,
            "text": {
                "en": "On a scale from 0 to 10, how likely are you to recommend our hospital "
                "to a friend? Enter a number, then press the hash key.",
                "zh": "从0到10分，您有多大可能向朋友推荐我们医院？请输入分数，然后按井号键。",
            },
            "escalate_at_or_below": 6,
            "escalation_reason": "low satisfaction score",
        }
    ],
}


def parse_config(kind: CampaignKind, raw: dict[str, Any]) -> CampaignConfig:
    """Validate settings for a campaign of ``kind``; missing questions get the kind's defaults."""
    values = dict(raw)
    if "questions" not in values:
        values["questions"] = DEFAULT_QUESTIONS[kind]
    try:
        config = CampaignConfig.model_validate(values)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            errors.setdefault(field, plain_message(error))
        raise FieldErrors(errors) from exc
    if kind not in QUESTIONLESS_KINDS and not config.questions:
        raise ValidationFailed("questions", "this kind of campaign needs at least one question")
    return config


def plain_message(error: ErrorDetails) -> str:
    """Pydantic's message in the words of the console's other refusals."""
    ctx = error.get("ctx") or {}
    kind = error["type"]
    wording = {
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "time_parsing": "must be a time like 08:30",
        "time_type": "must be a time like 08:30",
        "date_parsing": "must be a date like 2026-12-25",
        "date_from_datetime_parsing": "must be a date like 2026-12-25",
        "date_type": "must be a date like 2026-12-25",
        "missing": "is required",
        "extra_forbidden": "unknown field",
        "string_too_long": f"at most {ctx.get('max_length')} characters",
        "too_long": f"at most {ctx.get('max_length')} items",
        "string_pattern_mismatch": "use lower-case letters, digits, - and _",
        "literal_error": f"choose one of {ctx.get('expected')}",
    }.get(kind)
    if wording is not None:
        return wording
    return str(error["msg"]).removeprefix("Value error, ")


def stored(config: CampaignConfig) -> dict[str, Any]:
    """The JSON form kept in ``campaigns.settings``."""
    return config.model_dump(mode="json")
