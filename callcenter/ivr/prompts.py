"""The IVR's prompt catalogue: sound name -> what ``callcenter prompts build`` speaks, per language.

The IVR's own menus are here; the languages, :class:`Spoken` and the dialogue kit's generic
prompts (invalid choice, press N, to an agent, goodbye...) are :mod:`callcenter.agi.prompts`, re-
exported here so that a flow reads every prompt as ``prompts.NAME``. :data:`TEXTS` and
:func:`catalogue` are the full catalogue: the kit's prompts and the IVR's.

Names are relative to Asterisk's language sounds directory (``<sounds>/<lang>/callcenter/...``)
and must pass :func:`callcenter.agi.channel.sound`. One name serves every language: the dialog sets
the channel's language (``CHANNEL(language)``) and Asterisk picks ``<sounds>/zh/...`` or
``<sounds>/en/...`` itself. Numbers, dates and times are never recorded: the dialogs say them
with Asterisk's own ``SAY`` commands and core sounds (for Mandarin, built from
:mod:`callcenter.agi.core_sounds_zh`). Department and doctor names come from the database:
:func:`department_prompt` and :func:`doctor_prompt` name their files and ``prompts build``
renders them in each language.
"""

from __future__ import annotations

from typing import Final

from callcenter.agi import prompts as kit
from callcenter.agi.prompts import BOOKING_FAILED as BOOKING_FAILED
from callcenter.agi.prompts import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from callcenter.agi.prompts import ENGLISH as ENGLISH
from callcenter.agi.prompts import FOR as FOR
from callcenter.agi.prompts import GOODBYE as GOODBYE
from callcenter.agi.prompts import INVALID as INVALID
from callcenter.agi.prompts import LANGUAGES as LANGUAGES
from callcenter.agi.prompts import MANDARIN as MANDARIN
from callcenter.agi.prompts import MORE_CHOICES as MORE_CHOICES
from callcenter.agi.prompts import PREFIX as _PREFIX
from callcenter.agi.prompts import PRESS as PRESS
from callcenter.agi.prompts import SLOT_TAKEN as SLOT_TAKEN
from callcenter.agi.prompts import TO_AGENT as TO_AGENT
from callcenter.agi.prompts import TOO_MANY_TRIES as TOO_MANY_TRIES
from callcenter.agi.prompts import Spoken as Spoken
from callcenter.agi.prompts import department_prompt as department_prompt
from callcenter.agi.prompts import doctor_prompt as doctor_prompt
from callcenter.agi.prompts import supported as supported

WELCOME: Final = _PREFIX + "welcome"
CHOOSE_ENGLISH: Final = _PREFIX + "choose-english"
CHOOSE_MANDARIN: Final = _PREFIX + "choose-mandarin"
MAIN_MENU: Final = _PREFIX + "main-menu"
ASK_DOB: Final = _PREFIX + "ask-dob"
ASK_MRN: Final = _PREFIX + "ask-mrn"
IDENTIFY_FAILED: Final = _PREFIX + "identify-failed"
NOT_RECOGNISED: Final = _PREFIX + "not-recognised"
IDENTIFIED: Final = _PREFIX + "identified"
DEPARTMENTS_INTRO: Final = _PREFIX + "departments-intro"
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
UPCOMING: Final = _PREFIX + "upcoming"
NO_UPCOMING: Final = _PREFIX + "no-upcoming"
REVIEW_MENU: Final = _PREFIX + "review-menu"
CONFIRM_CANCEL: Final = _PREFIX + "confirm-cancel"
CANCELLED: Final = _PREFIX + "cancelled"
CUTOFF_BEFORE: Final = _PREFIX + "cutoff-before"
CUTOFF_AFTER: Final = _PREFIX + "cutoff-after"
ALREADY_CANCELLED: Final = _PREFIX + "already-cancelled"
CANCEL_FAILED: Final = _PREFIX + "cancel-failed"
RECORDING_CONSENT: Final = _PREFIX + "recording-consent"


_ENGLISH: Final[dict[str, str]] = kit.TEXTS[ENGLISH] | {
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
    ASK_MRN: "Please enter the digits of your medical record number, then press the hash key.",
    IDENTIFY_FAILED: "Sorry, those details do not match our records.",
    NOT_RECOGNISED: "We could not find your record from the number you are calling from.",
    IDENTIFIED: "Thank you, your identity is confirmed.",
    DEPARTMENTS_INTRO: "Please choose a department.",
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
    UPCOMING: "Your upcoming appointments are:",
    NO_UPCOMING: "You have no upcoming appointments.",
    REVIEW_MENU: (
        "To cancel an appointment, press its option number. To hear more, press 9. "
        "To go back to the main menu, press 8."
    ),
    CONFIRM_CANCEL: "To cancel this appointment, press 1. To keep it, press 2.",
    CANCELLED: "Your appointment is cancelled.",
    CUTOFF_BEFORE: (
        "Sorry, this appointment can no longer be cancelled by phone. "
        "Appointments can be cancelled up to"
    ),
    CUTOFF_AFTER: "hours before they start. To speak to an agent, press 0.",
    ALREADY_CANCELLED: "This appointment has already been cancelled.",
    CANCEL_FAILED: "Sorry, we could not cancel that appointment.",
    RECORDING_CONSENT: (
        "This call may be recorded for quality and training. Press 1 to allow recording, "
        "or 2 if you do not want to be recorded."
    ),
}

_MANDARIN: Final[dict[str, str]] = kit.TEXTS[MANDARIN] | {
    WELCOME: "欢迎致电医院预约热线。",
    MAIN_MENU: "预约挂号，请按1。查询或取消预约，请按2。人工服务，请随时按0。重听，请按星号键。",
    ASK_DOB: (
        "为保护您的隐私，请输入您的出生日期：两位日，两位月，四位年。"
        "例如，一九六一年四月二日出生，请输入 0 2 0 4 1 9 6 1。"
    ),
    ASK_MRN: "请输入您病历号中的数字，然后按井号键。",
    IDENTIFY_FAILED: "抱歉，您输入的信息与我们的记录不符。",
    NOT_RECOGNISED: "我们无法根据您的来电号码找到您的记录。",
    IDENTIFIED: "谢谢，您的身份已确认。",
    DEPARTMENTS_INTRO: "请选择科室。",
    DOCTOR_MENU: "预约最早有空的医生，请按1。选择医生，请按2。",
    DOCTOR_MENU_INTRO: "请选择医生。",
    WITH_DOCTOR: "主诊医生",
    NEXT_SLOTS: "最近可预约的时间有：",
    OPTION: "选项",
    SLOT_MENU: "请按选项号码进行选择，或按9收听更晚的时间。",
    NO_SLOTS: "抱歉，没有更多可预约的时间了。",
    CONFIRM_SLOT: "确认此预约，请按1。选择其他时间，请按2。",
    BOOKED: "您的预约已成功。",
    CODE_IS: "您的确认码是",
    UPCOMING: "您即将到来的预约有：",
    NO_UPCOMING: "您目前没有即将到来的预约。",
    REVIEW_MENU: "取消预约，请按选项号码。收听更多，请按9。返回主菜单，请按8。",
    CONFIRM_CANCEL: "取消此预约，请按1。保留此预约，请按2。",
    CANCELLED: "您的预约已取消。",
    CUTOFF_BEFORE: "抱歉，此预约已无法通过电话取消。预约须在开始前",
    CUTOFF_AFTER: "小时以上取消。人工服务，请按0。",
    ALREADY_CANCELLED: "此预约已被取消。",
    CANCEL_FAILED: "抱歉，我们无法取消该预约。",
    RECORDING_CONSENT: (
        "本次通话可能会被录音，用于服务质量和培训。同意录音，请按1；不希望被录音，请按2。"
    ),
}

# The language menu is heard before a language is chosen: each part is spoken in its own
# language and installed the same in every language directory.
_LANGUAGE_MENU: Final[dict[str, Spoken]] = {
    CHOOSE_ENGLISH: Spoken("For English, press 1.", ENGLISH),
    CHOOSE_MANDARIN: Spoken("普通话服务，请按2。", MANDARIN),
}

TEXTS: Final[dict[str, dict[str, str]]] = {ENGLISH: _ENGLISH, MANDARIN: _MANDARIN}
# The English catalogue (name -> text), as before languages were added.
CATALOGUE: Final[dict[str, str]] = _ENGLISH


def catalogue(language: str) -> dict[str, Spoken]:
    """Every prompt of ``language`` with the voice that speaks it (the language menu included)."""
    spoken = {name: Spoken(text, language) for name, text in TEXTS[language].items()}
    return spoken | _LANGUAGE_MENU
