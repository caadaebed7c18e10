"""The review-and-cancel dialog's branches against a scripted channel and a stand-in service.

The database side (a real cancellation, the cut-off, a hang-up) is exercised through the real
Asterisk and database in tests/integration/callcenter/ivr/test_ivr_cancel_asterisk.py; these
cover the menu's paging, going back and keeping an appointment, quickly.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.ivr import prompts
from callcenter.ivr.flows.cancel import CancelServices, review_and_cancel
from hcrm_core.errors import AppointmentNotActive, PatientInactive
from hcrm_core.models import Appointment, Department, Patient
from hcrm_core.services.appointments import AppointmentService


class ScriptedAgi:
    def __init__(self, keys: list[str | None]) -> None:
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

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        self.played.append(f"digits:{digits}")
        return None

    async def say_datetime(self, epoch: int, **_: Any) -> str | None:
        self.played.append("datetime")
        return None

    async def say_number(self, number: int, escape_digits: str = "") -> None:
        self.played.append(f"number:{number}")


class StandInAppointments:
    """Upcoming appointments and a cancel that records (or raises ``error``)."""

    def __init__(self, count: int, *, cutoff: timedelta = timedelta(hours=24)) -> None:
        start = datetime.now(UTC) + timedelta(days=3)
        self.upcoming = [
            Appointment(
                id=n,
                starts_at=start + timedelta(days=n),
                doctor_id=1,
                department=Department(code="CARD", name="Cardiology"),
            )
            for n in range(1, count + 1)
        ]
        self.cutoff = cutoff
        self.cancelled: list[int] = []
        self.error: Exception | None = None

    async def upcoming_for_patient(self, patient_id: int) -> list[Appointment]:
        return self.upcoming

    def cancellation_deadline(self, appointment: Appointment) -> datetime:
        return appointment.starts_at - self.cutoff

    async def cancel(self, appointment_id: int, **_: Any) -> None:
        if self.error is not None:
            raise self.error
        self.cancelled.append(appointment_id)


def _run(
    keys: list[str | None], service: StandInAppointments
) -> tuple[ScriptedAgi, LocalisedIvr, CancelServices]:
    agi = ScriptedAgi(keys)
    bus = SimpleNamespace(publish=lambda item: None)
    ivr = LocalisedIvr(cast(AgiChannel, agi), CallContext("1.1", cast(EventBus, bus)))
    return agi, ivr, CancelServices(cast(AppointmentService, service), "UTC")


PATIENT = Patient(id=5)


async def test_nine_turns_the_page_and_the_last_page_wraps_round() -> None:
    service = StandInAppointments(4)
    agi, ivr, services = _run(["9", "9", "9", "1", "1"], service)
    cancelled = await review_and_cancel(ivr, services, PATIENT)
    # Pages: 1-3, 4, 1-3 again, then 4 (option 1 of the second page).
    assert cancelled is not None and cancelled.id == 4 and service.cancelled == [4]
    assert agi.asked == [prompts.REVIEW_MENU] * 4 + [prompts.CONFIRM_CANCEL]
    assert agi.played[-1] == prompts.CANCELLED


async def test_keeping_it_goes_back_to_the_list_and_eight_to_the_main_menu() -> None:
    service = StandInAppointments(2)
    agi, ivr, services = _run(["2", "2", "8"], service)
    assert await review_and_cancel(ivr, services, PATIENT) is None
    assert agi.asked == [prompts.REVIEW_MENU, prompts.CONFIRM_CANCEL, prompts.REVIEW_MENU]
    assert service.cancelled == []


async def test_past_the_cutoff_is_explained_with_the_hours_and_not_confirmed() -> None:
    service = StandInAppointments(1, cutoff=timedelta(days=30))
    agi, ivr, services = _run(["1"], service)
    assert await review_and_cancel(ivr, services, PATIENT) is None
    assert agi.asked == [prompts.REVIEW_MENU]
    explained = agi.played.index(prompts.CUTOFF_BEFORE)
    assert agi.played[explained : explained + 3] == [
        prompts.CUTOFF_BEFORE,
        "number:720",
        prompts.CUTOFF_AFTER,
    ]
    assert service.cancelled == []


async def test_cancelled_meanwhile_is_said_and_nothing_else_fails() -> None:
    service = StandInAppointments(1)
    service.error = AppointmentNotActive("this appointment was cancelled a moment ago")
    agi, ivr, services = _run(["1", "1"], service)
    assert await review_and_cancel(ivr, services, PATIENT) is None
    assert agi.played[-1] == prompts.ALREADY_CANCELLED


async def test_another_domain_error_reaches_an_agent() -> None:
    service = StandInAppointments(1)
    service.error = PatientInactive("this patient record is closed")
    agi, ivr, services = _run(["1", "1"], service)
    with pytest.raises(ToAgent) as raised:
        await review_and_cancel(ivr, services, PATIENT)
    assert raised.value.step == "cancel-commit" and agi.played[-1] == prompts.CANCEL_FAILED


async def test_nothing_upcoming_says_so() -> None:
    agi, ivr, services = _run([], StandInAppointments(0))
    assert await review_and_cancel(ivr, services, PATIENT) is None
    assert agi.played == [prompts.NO_UPCOMING] and agi.asked == []
