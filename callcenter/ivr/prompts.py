"""The IVR's prompt catalogue: sound name -> the English text ``callcenter prompts build`` speaks.

Names are relative to Asterisk's language sounds directory (``<sounds>/en/callcenter/...``) and
must pass :func:`callcenter.ivr.agi.sound`. Numbers, dates and times are never recorded: the
dialogs say them with Asterisk's own ``SAY`` commands and core sounds. Department names come from
the database: :func:`department_prompt` names their files and ``prompts build`` renders them.
"""

from __future__ import annotations

import re
from typing import Final

_PREFIX: Final = "callcenter/"

WELCOME: Final = _PREFIX + "welcome"
MAIN_MENU: Final = _PREFIX + "main-menu"
ASK_DOB: Final = _PREFIX + "ask-dob"
ASK_MRN: Final = _PREFIX + "ask-mrn"
IDENTIFY_FAILED: Final = _PREFIX + "identify-failed"
NOT_RECOGNISED: Final = _PREFIX + "not-recognised"
IDENTIFIED: Final = _PREFIX + "identified"
DEPARTMENTS_INTRO: Final = _PREFIX + "departments-intro"
FOR: Final = _PREFIX + "for"
MORE_CHOICES: Final = _PREFIX + "more-choices"
DOCTOR_MENU: Final = _PREFIX + "doctor-menu"
DOCTOR_MENU_INTRO: Final = _PREFIX + "doctor-menu-intro"
WITH_DOCTOR: Final = _PREFIX + "with-doctor"
NEXT_SLOTS: Final = _PREFIX + "next-slots"
OPTION: Final = _PREFIX + "option"
SLOT_MENU: Final = _PREFIX + "slot-menu"
NO_SLOTS: Final = _PREFIX + "no-slots"
CONFIRM_SLOT: Final = _PREFIX + "confirm-slot"
BOOKED: Final = _PREFIX + "booked"
CODE_IS: Final = _PREFIX + "code-is"
SLOT_TAKEN: Final = _PREFIX + "slot-taken"
BOOKING_FAILED: Final = _PREFIX + "booking-failed"
NOT_YET_AVAILABLE: Final = _PREFIX + "not-yet-available"
INVALID: Final = _PREFIX + "invalid"
TOO_MANY_TRIES: Final = _PREFIX + "too-many-tries"
TO_AGENT: Final = _PREFIX + "to-agent"
GOODBYE: Final = _PREFIX + "goodbye"
PRESS: Final = tuple(_PREFIX + f"press-{n}" for n in range(10))

CATALOGUE: Final[dict[str, str]] = {
    WELCOME: "Welcome to the hospital appointment line.",
    MAIN_MENU: (
        "To book an appointment, press 1. To review or cancel an appointment, press 2. "
        "To speak to an agent, press 0 at any time. To hear this again, press star."
    ),
    ASK_DOB: (
        "To protect your privacy, please enter your date of birth: two digits for the day, "
        "two for the month and four for the year. For example, for the second of April "
        "nineteen sixty one, enter 0 2 0 4 1 9 6 1."
    ),
    ASK_MRN: ("Please enter the digits of your medical record number, then press the hash key."),
    IDENTIFY_FAILED: "Sorry, those details do not match our records.",
    NOT_RECOGNISED: "We could not find your record from the number you are calling from.",
    IDENTIFIED: "Thank you, your identity is confirmed.",
    DEPARTMENTS_INTRO: "Please choose a department.",
    FOR: "For",
    MORE_CHOICES: "For more choices, press 9.",
    DOCTOR_MENU: "For the first available doctor, press 1. To choose a doctor, press 2.",
    DOCTOR_MENU_INTRO: "Please choose a doctor.",
    WITH_DOCTOR: "with doctor",
    NEXT_SLOTS: "The next free appointments are:",
    OPTION: "Option",
    SLOT_MENU: "Press the option number to choose it, or press 9 to hear later appointments.",
    NO_SLOTS: "Sorry, there are no more free appointments to offer.",
    CONFIRM_SLOT: "To confirm this appointment, press 1. To choose another one, press 2.",
    BOOKED: "Your appointment is booked.",
    CODE_IS: "Your confirmation code is",
    SLOT_TAKEN: "Sorry, that appointment has just been taken. Here are the next ones.",
    BOOKING_FAILED: "Sorry, we could not book that appointment.",
    NOT_YET_AVAILABLE: "This service is not yet available by phone.",
    INVALID: "Sorry, that is not a valid choice.",
    TOO_MANY_TRIES: "Sorry, we did not get that.",
    TO_AGENT: "Please hold while we connect you to an agent.",
    GOODBYE: "Thank you for calling. Goodbye.",
    **{PRESS[n]: f"press {n}." for n in range(10)},
}

_SLUG_RE = re.compile(r"[^a-z0-9]+")


def department_prompt(code: str) -> str:
    """The sound name of a department's spoken name (rendered from the database)."""
    slug = _SLUG_RE.sub("-", code.lower()).strip("-")[:40] or "unnamed"
    return f"{_PREFIX}department-{slug}"


def doctor_prompt(doctor_id: int) -> str:
    """The sound name of a doctor's spoken name (rendered from the database)."""
    return f"{_PREFIX}doctor-{int(doctor_id)}"
