"""120 days with the clock moved night by night: the IVR still books on day 100.

The nightly job (:class:`SlotHorizon`) runs as the server runs it, its sleep replaced by a
clock jump; on day 100 the real booking dialog (callcenter.ivr.flows.book) books through the
real services over the test database, on a scripted channel. Without the nightly runs the
slots made at start-up end on day 90 and the dialog would find none.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import func, select

from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.ivr.flows.book import BookingServices, book
from callcenter.slots.plugin import SlotHorizon
from hcrm_core.models import Appointment, Channel, Slot
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.scheduling import SchedulingService
from tests.support.factories import make_patient
from tests.support.slot_clock import Clock, kept_hospital

DAYS = 120
BOOKING_DAY = 100


class ScriptedAgi:
    """Presses the given keys at each prompt; plays nothing."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = deque(keys)
        self.env = SimpleNamespace(caller_id="")

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        return self.keys.popleft()

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return None

    async def say_datetime(self, epoch: int, **_: Any) -> str | None:
        return None

    async def say_number(self, number: int, escape_digits: str = "") -> None:
        return None


class _Done(Exception):
    pass


async def test_nightly_runs_keep_the_ivr_booking_on_day_100(database, policy):
    clock = Clock()
    start_day = clock().astimezone(policy.timezone).date()
    kept = await kept_hospital(database, policy, clock)
    patient = await make_patient(database, policy)
    services = BookingServices(
        scheduling=SchedulingService(database, policy, clock=clock),
        appointments=AppointmentService(database, policy, clock=clock),
        timezone=str(policy.timezone),
    )
    wake_ups: list[Any] = []
    booked: list[Appointment] = []

    async def night_passes(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))
        local = clock().astimezone(policy.timezone)
        wake_ups.append(local)
        day = (local.date() - start_day).days
        if day == BOOKING_DAY:
            # Mid-morning on day 100 a patient calls: cardiology (1), first available (1),
            # the first time offered (1), confirmed (1).
            clock.advance(timedelta(hours=8))
            agi = ScriptedAgi(["1", "1", "1", "1"])
            bus = SimpleNamespace(publish=lambda item: None)
            ivr = LocalisedIvr(cast(AgiChannel, agi), CallContext("1.100", cast(EventBus, bus)))
            booked.append(await book(ivr, services, patient))
            clock.advance(timedelta(hours=-8))
        if day > DAYS:
            raise _Done

    horizon = SlotHorizon(kept.keeper, sleep=night_passes)
    with pytest.raises(_Done):
        await horizon.run_forever()

    # Start-up, then one run each night at 02:00 local (03:00 on the spring-forward night).
    assert horizon.runs == 1 + DAYS
    assert len(wake_ups) == DAYS + 1
    assert all(moment.hour in (2, 3) and moment.minute == 0 for moment in wake_ups)
    (appointment,) = booked
    assert appointment.channel is Channel.IVR
    booked_day = appointment.starts_at.astimezone(policy.timezone).date()
    # Beyond what the start-up run made (day 90): only the nightly runs made that slot.
    assert (booked_day - start_day).days >= BOOKING_DAY > policy.horizon_days
    async with database.session() as session:
        furthest = await session.scalar(select(func.max(Slot.local_date)))
        dupes = await session.scalar(
            select(func.count()).select_from(
                select(Slot.doctor_id, Slot.starts_at)
                .group_by(Slot.doctor_id, Slot.starts_at)
                .having(func.count() > 1)
                .subquery()
            )
        )
    assert (furthest - start_day).days >= DAYS + policy.horizon_days - 3
    assert dupes == 0
