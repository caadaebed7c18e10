"""The appointment-changed call: a moved appointment is said with the reminder's menu, a
cancelled one offers an agent to rebook (scripted channel, stand-in services)."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.outbound import prompts
from callcenter.outbound.dialogs import DialogServices, appointment_changed
from callcenter.outbound.errors import OptedOut
from hcrm_core.models import CampaignKind
from hcrm_core.services.campaigns_answers import DialogInfo
from hcrm_core.services.campaigns_config import parse_config


class ScriptedAgi:
    def __init__(self, keys: list[str]) -> None:
        self.keys = deque(keys)
        self.played: list[str] = []
        self.asked: list[str] = []
        self.env = SimpleNamespace(caller_id="")

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self.played.append(prompt)
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        self.asked.append(prompt)
        return self.keys.popleft()

    async def say_datetime(self, epoch: int, **_: Any) -> str | None:
        self.played.append("datetime")
        return None


class StandInAnswers:
    def __init__(self) -> None:
        self.stored: list[tuple[str, str]] = []

    async def store_answer(self, info: DialogInfo, key: str, value: str) -> None:
        self.stored.append((key, value))


def _info(*, cancelled: bool) -> DialogInfo:
    return DialogInfo(
        attempt_id=7,
        campaign_id=3,
        kind=CampaignKind.APPOINTMENT_CHANGED,
        config=parse_config(CampaignKind.APPOINTMENT_CHANGED, {}),
        patient_id=5,
        language="en",
        appointment_id=11,
        appointment_starts_at=datetime(2027, 1, 5, 14, 30, tzinfo=UTC),
        department_code="CARD",
        appointment_cancelled=cancelled,
    )


def _run(keys: list[str]) -> tuple[ScriptedAgi, LocalisedIvr, DialogServices, StandInAnswers]:
    agi = ScriptedAgi(keys)
    bus = SimpleNamespace(publish=lambda item: None)
    ivr = LocalisedIvr(cast(AgiChannel, agi), CallContext("1.1", cast(EventBus, bus)))
    answers = StandInAnswers()
    services = DialogServices(
        attempts=cast(Any, None),
        answers=cast(Any, answers),
        appointments=cast(Any, None),
        bus=cast(EventBus, bus),
        timezone="America/New_York",
        channel_prefix="cc",
    )
    return agi, ivr, services, answers


async def test_a_moved_appointment_is_said_and_confirmed() -> None:
    agi, ivr, services, answers = _run(["1"])
    assert await appointment_changed(ivr, _info(cancelled=False), services) == "confirmed"
    assert agi.played[0] == prompts.CHANGED_MOVED
    assert agi.asked == [prompts.REMINDER_MENU]
    assert answers.stored == [("reminder", "confirmed")]


async def test_a_cancelled_appointment_offers_an_agent_or_opt_out() -> None:
    agi, ivr, services, _ = _run(["3"])
    with pytest.raises(ToAgent):
        await appointment_changed(ivr, _info(cancelled=True), services)
    assert agi.played[0] == prompts.CHANGED_CANCELLED
    assert agi.asked == [prompts.CHANGED_CANCELLED_MENU]
    _, ivr, services, _ = _run(["9"])
    with pytest.raises(OptedOut):
        await appointment_changed(ivr, _info(cancelled=True), services)


def test_every_new_prompt_is_said_in_both_languages() -> None:
    for name in (prompts.CHANGED_MOVED, prompts.CHANGED_CANCELLED, prompts.CHANGED_CANCELLED_MENU):
        assert name in prompts.catalogue("en", "General") and name in prompts.catalogue("zh", "G")
