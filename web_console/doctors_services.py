"""The doctors' services for one request: who edits, in which role, with the slot keeper."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from hcrm_core.services.doctors_admin import DoctorsAdmin, Editor
from hcrm_core.services.doctors_schedules import ScheduleAdmin
from hcrm_core.services.slot_keeper import SlotKeeper
from web_console.access import actor_for, require_session
from web_console.keys import DATABASE, SETTINGS


@dataclass(frozen=True, slots=True)
class DoctorServices:
    doctors: DoctorsAdmin
    week: ScheduleAdmin
    tz: ZoneInfo
    editor: Editor


def doctor_services(request: web.Request) -> DoctorServices:
    settings, database = request.app[SETTINGS], request.app[DATABASE]
    policy = settings.booking_policy()
    # The keeper holds no state of its own: one per request refreshes inside our transaction.
    keeper = SlotKeeper(database, policy)
    editor = Editor(actor_for(request), require_session(request).role)
    return DoctorServices(
        DoctorsAdmin(database, keeper),
        ScheduleAdmin(database, keeper, policy),
        policy.timezone,
        editor,
    )
