"""What the campaign dialogs say, in English and Mandarin, and the names of question prompts.

Fixed prompts live here (``callcenter/outbound/...`` sound names); the hospital's name is part
of the greeting, so the patient hears who calls in the first seconds. Survey questions are data
(``campaigns.settings``): each is rendered to ``callcenter/campaign-<id>-<key>`` in every
language it has a text for (English is the fallback) by ``callcenter campaign prompts``.
Numbers and dates are said by Asterisk (``SAY``), as in the IVR.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from callcenter.agi.prompts import ENGLISH, LANGUAGES, MANDARIN, Spoken
from hcrm_core.models import Campaign
from hcrm_core.services.campaigns import config_of

_PREFIX: Final = "callcenter/outbound/"

HELLO: Final = _PREFIX + "hello"
MACHINE_MESSAGE: Final = _PREFIX + "machine-message"
REMINDER_INTRO: Final = _PREFIX + "reminder-intro"
ON: Final = _PREFIX + "on"
REMINDER_MENU: Final = _PREFIX + "reminder-menu"
CONFIRMED: Final = _PREFIX + "confirmed"
CANCELLED: Final = _PREFIX + "cancelled"
CANCEL_FAILED: Final = _PREFIX + "cancel-failed"
SURVEY_INTRO: Final = _PREFIX + "survey-intro"
OPT_OUT_HINT: Final = _PREFIX + "opt-out-hint"
OPTED_OUT: Final = _PREFIX + "opted-out"
THANKS: Final = _PREFIX + "thanks"
CHANGED_MOVED: Final = _PREFIX + "changed-moved"
CHANGED_CANCELLED: Final = _PREFIX + "changed-cancelled"
CHANGED_CANCELLED_MENU: Final = _PREFIX + "changed-cancelled-menu"
AGENTS_CLOSED: Final = _PREFIX + "agents-closed"

_ENGLISH: Final[dict[str, str]] = {
    HELLO: "Hello, this is {hospital} calling.",
    MACHINE_MESSAGE: (
        "Hello, this is {hospital}, with a message for you. Please call us back at your "
        "convenience. Thank you."
    ),
    REMINDER_INTRO: "This is a reminder of your appointment in",
    ON: "on",
    REMINDER_MENU: (
        "To confirm this appointment, press 1. To cancel it, press 2. To speak to someone, "
        "press 3. To stop receiving calls from us, press 9."
    ),
    CONFIRMED: "Thank you, your appointment is confirmed.",
    CANCELLED: "Your appointment is cancelled.",
    CANCEL_FAILED: "Sorry, we could not cancel that appointment.",
    SURVEY_INTRO: (
        "We would like to ask you a few short questions about your care. To answer, press 1. "
        "To stop receiving calls from us, press 9."
    ),
    OPT_OUT_HINT: "To stop receiving calls from us, press 9.",
    OPTED_OUT: "You will not receive any more calls from us. Goodbye.",
    THANKS: "Thank you for your time. Goodbye.",
    CHANGED_MOVED: (
        "The doctor's schedule has changed, and we have had to move your appointment. "
        "Your new appointment is in"
    ),
    CHANGED_CANCELLED: (
        "We are sorry: the doctor is not available, and we have had to cancel your appointment in"
    ),
    CHANGED_CANCELLED_MENU: (
        "To book a new time with one of our staff, press 3. To stop receiving calls from us, "
        "press 9."
    ),
    AGENTS_CLOSED: (
        "Our office is closed at the moment. We will call you back when we open. Goodbye."
    ),
}

_MANDARIN: Final[dict[str, str]] = {
    HELLO: "您好，这里是{hospital}。",
    MACHINE_MESSAGE: "您好，这里是{hospital}，有消息通知您。请方便时回电。谢谢。",
    REMINDER_INTRO: "提醒您，您预约了",
    ON: "时间是",
    REMINDER_MENU: "确认预约，请按1。取消预约，请按2。人工服务，请按3。不再接听我们的来电，请按9。",
    CONFIRMED: "谢谢，您的预约已确认。",
    CANCELLED: "您的预约已取消。",
    CANCEL_FAILED: "抱歉，我们无法取消该预约。",
    SURVEY_INTRO: "我们想请您回答几个关于就诊的简短问题。回答请按1。不再接听我们的来电，请按9。",
    OPT_OUT_HINT: "不再接听我们的来电，请按9。",
    OPTED_OUT: "您将不会再收到我们的来电。再见。",
    THANKS: "感谢您的时间。再见。",
    CHANGED_MOVED: "医生的出诊时间有变，我们不得不调整您的预约。您的新预约是",
    CHANGED_CANCELLED: "很抱歉，医生无法出诊，我们不得不取消您的预约，原预约是",
    CHANGED_CANCELLED_MENU: "如需由工作人员为您重新预约，请按3。不再接听我们的来电，请按9。",
    AGENTS_CLOSED: "我们现在不在服务时间，开放后会给您回电。再见。",
}

TEXTS: Final[dict[str, dict[str, str]]] = {ENGLISH: _ENGLISH, MANDARIN: _MANDARIN}


def question_prompt(campaign_id: int, key: str) -> str:
    """The sound name of one survey question (``key`` passed the settings' slug rule)."""
    return f"callcenter/campaign-{int(campaign_id)}-{key.replace('_', '-')}"


def catalogue(language: str, hospital_name: str) -> dict[str, Spoken]:
    """The fixed prompts of ``language`` with the hospital's name filled in."""
    texts = TEXTS[language]
    return {
        name: Spoken(text.format(hospital=hospital_name), language) for name, text in texts.items()
    }


def campaign_prompts(language: str, campaigns: Iterable[Campaign]) -> dict[str, Spoken]:
    """Every question of ``campaigns`` in ``language`` (English text where it has none)."""
    result: dict[str, Spoken] = {}
    for campaign in campaigns:
        for question in config_of(campaign).questions:
            text = question.text.get(language)
            spoken = Spoken(text, language) if text else Spoken(question.text[ENGLISH], ENGLISH)
            result[question_prompt(campaign.id, question.key)] = spoken
    return result


def all_prompts(hospital_name: str, campaigns: Iterable[Campaign]) -> dict[str, dict[str, Spoken]]:
    """language -> prompts, for every prompt language."""
    chosen = list(campaigns)
    return {
        language: catalogue(language, hospital_name) | campaign_prompts(language, chosen)
        for language in LANGUAGES
    }
