"""Phone numbers to E.164, the single form stored and matched.

Callers present numbers every way there is (national with trunk prefix, international with +
or 00, spaces and dashes, an extension), and patients give them the same way; normalising both
sides with one region-aware parser is what makes "any stored format finds them" hold.
"""

from __future__ import annotations

import re

import phonenumbers

from hcrm_core.errors import InvalidPhoneNumber

MAX_RAW_LENGTH = 64
# E.164: '+', a country code that does not start with 0, at most 15 digits in all. The lower
# bound of 7 is ours: shorter "numbers" are service codes, never a patient or the hospital.
_E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(value: str) -> bool:
    """``value`` is exactly '+' and 7-15 digits (so safe to put in a dial string)."""
    return _E164_RE.fullmatch(value) is not None


def to_e164(raw: str, region: str) -> str:
    """Return the E.164 form of ``raw`` read in ``region``; raise InvalidPhoneNumber."""
    text = (raw or "").strip()
    if not text or len(text) > MAX_RAW_LENGTH:
        raise InvalidPhoneNumber(f"not a phone number: {text[:MAX_RAW_LENGTH]!r}")
    if text.startswith("00"):
        # International access code used in most of Europe and Asia.
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {text!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"not a possible phone number: {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def lookup_keys(raw: str, region: str) -> list[str]:
    """E.164 candidates for a presented number, for matching against stored numbers.

    Caller ID often arrives without the trunk prefix or country code; the parse in the
    hospital's region covers those. Returns an empty list when nothing parses.
    """
    try:
        return [to_e164(raw, region)]
    except InvalidPhoneNumber:
        return []
