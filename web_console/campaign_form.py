"""The campaign form: fields in, settings out, and every refusal back at its field.

A campaign's settings are data (:mod:`hcrm_core.services.campaigns_config`); the console edits
them with plain fields whose names are the settings' own dotted paths (``window.start``,
``retries.busy.max_attempts``, ``questions.0.text.en``), so a refusal from the validation,
which names the same path, lands next to the field that caused it. The form's text is kept as
typed (:class:`FormState`), so a refused form comes back with everything still in it.

Questions are blocks numbered by the form; a block left empty is ignored (the page always
offers one blank block for a new question) and one marked "remove" is dropped. Answers are the
keys 1-8 (0 reaches an agent, 9 opts out), each with its stored value and whether it needs a
person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hcrm_core.services.campaigns_config import CHOICE, NPS, RETRYABLE

ANSWER_KEYS: Final = "12345678"
LANGUAGES: Final = (("en", "English"), ("zh", "Mandarin"))
WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RETRY_STATUSES: Final = tuple(status.value for status in RETRYABLE)
# Whole numbers of the pacing section, and the optional whole numbers of the targets.
PACING_INTS: Final = (
    "max_concurrent",
    "max_calls_per_patient_per_day",
    "ring_timeout_seconds",
    "followup_day",
)
TARGET_INTS: Final = ("targets.department_id", "targets.not_contacted_days", "targets.segment_id")
TARGET_DATES: Final = (
    "targets.appointment_from",
    "targets.appointment_to",
    "targets.discharged_from",
    "targets.discharged_to",
)
CHECKBOXES: Final = ("amd", "machine_message")
# Every setting the form edits; a setting it does not know is kept as stored when it saves.
FORM_SETTINGS: Final = frozenset(
    {*PACING_INTS, *CHECKBOXES, "mode", "agent_queue", "calls_per_second", "max_abandon_rate"}
    | {"recording", "window", "retries", "targets", "questions"}
)
_QUESTION_FIELD = re.compile(r"^questions\.(\d{1,2})\.")
_SPLIT = re.compile(r"[\s,;]+")
_SHORT_HOUR = re.compile(r"^\d:\d\d$")  # 9:00 is 09:00
MRNS: Final = "targets.patient_mrns"


@dataclass
class FormState:
    """The form as typed: ``values`` by field name, the question blocks' numbers, errors."""

    values: dict[str, str] = field(default_factory=dict)
    questions: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def checked(self, name: str) -> bool:
        return self.values.get(name, "") not in ("", "0", "false")

    def next_question(self) -> int:
        return max(self.questions, default=-1) + 1


# -- settings -> form ------------------------------------------------------------------------------


def form_from_settings(settings: Mapping[str, Any], mrns: list[str]) -> FormState:
    """The form showing stored ``settings`` (``mrns``: the record numbers of its patient list)."""
    values: dict[str, str] = {"mode": str(settings.get("mode", "automated"))}
    for name in (*PACING_INTS, "agent_queue", "calls_per_second"):
        values[name] = _text(settings.get(name))
    values["max_abandon_rate"] = _percent(settings.get("max_abandon_rate"))
    values["recording"] = _text(settings.get("recording"))
    for name in CHECKBOXES:
        values[name] = "on" if settings.get(name) else ""
    window = settings.get("window") or {}
    values["window.start"] = _text(window.get("start"))[:5]
    values["window.end"] = _text(window.get("end"))[:5]
    for day in window.get("weekdays") or []:
        values[f"window.weekdays.{day}"] = "on"
    values["window.holidays"] = ", ".join(window.get("holidays") or [])
    for status, rule in (settings.get("retries") or {}).items():
        for part in ("retry_delay_minutes", "max_attempts"):
            values[f"retries.{status}.{part}"] = _text(rule.get(part))
    targets = settings.get("targets") or {}
    for name in (*TARGET_INTS, *TARGET_DATES, "targets.condition_code"):
        values[name] = _text(targets.get(name.removeprefix("targets.")))
    values[MRNS] = "\n".join(mrns)
    state = FormState(values)
    for number, question in enumerate(settings.get("questions") or []):
        state.questions.append(number)
        values.update(_question_values(number, question))
    return state


def _question_values(number: int, question: Mapping[str, Any]) -> dict[str, str]:
    prefix = f"questions.{number}."
    values = {
        prefix + "key": _text(question.get("key")),
        prefix + "kind": _text(question.get("kind") or CHOICE),
        prefix + "escalate_at_or_below": _text(question.get("escalate_at_or_below")),
        prefix + "escalation_reason": _text(question.get("escalation_reason")),
    }
    for language, _ in LANGUAGES:
        values[f"{prefix}text.{language}"] = _text((question.get("text") or {}).get(language))
    escalate = set(question.get("escalate_on") or [])
    for key, value in (question.get("options") or {}).items():
        values[f"{prefix}options.{key}"] = str(value)
        values[f"{prefix}escalate.{key}"] = "on" if value in escalate else ""
    return values


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _percent(value: object) -> str:
    if value is None:
        return ""
    return f"{float(str(value)) * 100:g}"


# -- form -> settings ------------------------------------------------------------------------------


def form_from_post(post: Mapping[str, Any]) -> FormState:
    """The submitted form as typed (strings only; files and unknown names are dropped)."""
    values = {str(name): str(value) for name, value in post.items() if isinstance(value, str)}
    numbers = sorted(
        {int(found.group(1)) for name in values if (found := _QUESTION_FIELD.match(name))}
    )
    return FormState(values, numbers)


@dataclass
class Parsed:
    """Settings read from a form, the patients' record numbers to resolve, and what failed."""

    settings: dict[str, Any]
    mrns: list[str]
    errors: dict[str, str]
    # Position in settings["questions"] -> the form's block number (refusals name positions).
    question_blocks: list[int]

    def form_field(self, path: str) -> str:
        """The form field (or block) a refusal naming the settings path ``path`` belongs to."""
        if path == "settings":
            return "questions"  # the one rule across the settings: unique question names
        parts = path.split(".")
        if parts[0] == "questions" and len(parts) > 1 and parts[1].isdigit():
            position = int(parts[1])
            if position < len(self.question_blocks):
                parts[1] = str(self.question_blocks[position])
            if parts[2:] == ["text"]:
                parts.append("en")
            if parts[2:3] in (["options"], ["escalate_on"]):
                parts = [*parts[:2], "options"]
        if parts[:2] == ["targets", "patient_ids"]:
            return MRNS
        if parts[0] == "retries" and len(parts) > 3:
            parts = parts[:3]
        return ".".join(parts)


def settings_from_form(state: FormState) -> Parsed:
    """Typed settings for :func:`~hcrm_core.services.campaigns_config.parse_config`; text that
    is not even a number or a list is refused here, at its field."""
    errors: dict[str, str] = {}
    values = state.values
    settings: dict[str, Any] = {"mode": values.get("mode") or "automated"}
    for name in PACING_INTS:
        _put(settings, name, _whole(values, name, errors))
    _put(settings, "agent_queue", values.get("agent_queue", "").strip() or None)
    _put(settings, "calls_per_second", _number(values, "calls_per_second", errors))
    rate = _number(values, "max_abandon_rate", errors)
    _put(settings, "max_abandon_rate", None if rate is None else round(rate / 100, 6))
    recording = values.get("recording", "")
    settings["recording"] = recording or None
    for name in CHECKBOXES:
        settings[name] = state.checked(name)
    settings["window"] = _window(state, errors)
    settings["retries"] = _retries(values, errors)
    targets: dict[str, Any] = {}
    for name in TARGET_INTS:
        _put(targets, name.removeprefix("targets."), _whole(values, name, errors))
    for name in TARGET_DATES:
        _put(targets, name.removeprefix("targets."), values.get(name, "").strip() or None)
    code = values.get("targets.condition_code", "").strip().upper()
    _put(targets, "condition_code", code or None)
    settings["targets"] = targets
    mrns = [mrn for mrn in _SPLIT.split(values.get(MRNS, "")) if mrn]
    questions, blocks = _questions(state)
    settings["questions"] = questions
    return Parsed(settings, mrns, errors, blocks)


def _put(target: dict[str, Any], name: str, value: object) -> None:
    if value is not None:
        target[name] = value


def _whole(values: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 9:
        errors[name] = "enter a whole number"
        return None
    return int(text)


def _number(values: Mapping[str, str], name: str, errors: dict[str, str]) -> float | None:
    text = values.get(name, "").strip().replace(",", ".")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        errors[name] = "enter a number, such as 1 or 0.5"
        return None
    if number != number or number in (float("inf"), float("-inf")):
        errors[name] = "enter a number, such as 1 or 0.5"
        return None
    return number


def _window(state: FormState, errors: dict[str, str]) -> dict[str, Any]:
    values = state.values
    window: dict[str, Any] = {
        "weekdays": [day for day in range(7) if state.checked(f"window.weekdays.{day}")],
        "holidays": [day for day in _SPLIT.split(values.get("window.holidays", "")) if day],
    }
    for part in ("start", "end"):
        text = values.get(f"window.{part}", "").strip().replace(".", ":")
        _put(window, part, ("0" + text if _SHORT_HOUR.match(text) else text) or None)
    return window


def _retries(values: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    retries: dict[str, Any] = {}
    for status in RETRY_STATUSES:
        rule = {
            part: _whole(values, f"retries.{status}.{part}", errors)
            for part in ("retry_delay_minutes", "max_attempts")
        }
        if all(value is None for value in rule.values()):
            continue  # the default rule for this outcome
        missing = [part for part, value in rule.items() if value is None]
        for part in missing:
            errors.setdefault(f"retries.{status}.{part}", "is required with the other value")
        if not missing:
            retries[status] = rule
    return retries


def _questions(state: FormState) -> tuple[list[dict[str, Any]], list[int]]:
    questions: list[dict[str, Any]] = []
    blocks: list[int] = []
    for number in state.questions:
        prefix = f"questions.{number}."
        if state.checked(prefix + "remove") or _blank(state, prefix):
            continue
        blocks.append(number)
        questions.append(_question(state, prefix))
    return questions, blocks


def _blank(state: FormState, prefix: str) -> bool:
    typed = [
        state.get(prefix + "key"),
        *(state.get(f"{prefix}text.{language}") for language, _ in LANGUAGES),
        *(state.get(f"{prefix}options.{key}") for key in ANSWER_KEYS),
    ]
    return not any(text.strip() for text in typed)


def _question(state: FormState, prefix: str) -> dict[str, Any]:
    kind = state.get(prefix + "kind") or CHOICE
    texts = {language: state.get(f"{prefix}text.{language}").strip() for language, _ in LANGUAGES}
    question: dict[str, Any] = {
        "key": state.get(prefix + "key").strip(),
        "kind": kind,
        "text": {language: text for language, text in texts.items() if text or language == "en"},
        "escalation_reason": state.get(prefix + "escalation_reason").strip(),
    }
    if kind == NPS:
        below = state.get(prefix + "escalate_at_or_below").strip()
        question["escalate_at_or_below"] = int(below) if below.isdigit() else (below or None)
        return question
    options = {
        key: state.get(f"{prefix}options.{key}").strip()
        for key in ANSWER_KEYS
        if state.get(f"{prefix}options.{key}").strip()
    }
    question["options"] = options
    question["escalate_on"] = [
        value for key, value in options.items() if state.checked(f"{prefix}escalate.{key}")
    ]
    return question


# -- the refusals, listed above the form -----------------------------------------------------------

_LABELS: Final[dict[str, str]] = {
    "name": "Name",
    "kind": "Kind",
    "mode": "Who talks",
    "agent_queue": "Agents' queue",
    "max_concurrent": "Calls at the same time",
    "calls_per_second": "New calls per second",
    "max_calls_per_patient_per_day": "Calls per patient per day",
    "ring_timeout_seconds": "Ring for",
    "max_abandon_rate": "Most answered calls left waiting",
    "followup_day": "Day after discharge",
    "recording": "Recording",
    "window": "When to call",
    "window.start": "When to call: from",
    "window.end": "When to call: until",
    "window.weekdays": "When to call: days",
    "window.holidays": "When to call: dates",
    "retries": "Trying again",
    "questions": "Questions",
    "targets.department_id": "Department",
    "targets.condition_code": "Chronic condition",
    "targets.segment_id": "Segment",
    "targets.appointment_from": "Appointment from",
    "targets.appointment_to": "Appointment until",
    "targets.discharged_from": "Discharged from",
    "targets.discharged_to": "Discharged until",
    "targets.not_contacted_days": "Skip patients called in the last days",
    MRNS: "Only these patients",
}
_QUESTION_PARTS: Final[dict[str, str]] = {
    "key": "short name",
    "kind": "answered by",
    "text.en": "English text",
    "text.zh": "Mandarin text",
    "options": "answers",
    "escalate_at_or_below": "score for a call back",
    "escalation_reason": "why a person calls back",
}


def field_label(state: FormState, name: str) -> str:
    """The words a person sees for the field ``name`` (the error list above the form)."""
    if name in _LABELS:
        return _LABELS[name]
    parts = name.split(".")
    if parts[0] == "questions" and len(parts) > 1 and parts[1].isdigit():
        number = int(parts[1])
        position = state.questions.index(number) + 1 if number in state.questions else number + 1
        rest = ".".join(parts[2:])
        part = _QUESTION_PARTS.get(rest, rest.replace("_", " "))
        return f"Question {position}" + (f": {part}" if part else "")
    if parts[0] == "retries" and len(parts) == 3:
        what = "try again after" if parts[2] == "retry_delay_minutes" else "at most"
        return f"Trying again when {parts[1].replace('_', ' ')}: {what}"
    return name.replace("_", " ").replace(".", ": ")


def error_list(state: FormState) -> list[tuple[str, str, str]]:
    """(the field's id, its label, the message) for every refusal, in the form's order."""
    return [
        ("c-" + name.replace(".", "-"), field_label(state, name), message)
        for name, message in state.errors.items()
    ]
