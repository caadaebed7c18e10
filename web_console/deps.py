"""What the console needs from the running server, as typed values (no service locator).

The server's composition root (``callcenter.server.root``) fills a :class:`ConsoleDeps` and
hands it to :func:`web_console.app.create_app`, which stores each field under its own
``web.AppKey`` (:mod:`web_console.keys`). The console never sees the AMI bridge or the FastAGI
server themselves, only their health; it places calls through the desk's click-to-dial and
the monitoring service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from callcenter.agents.plugin import AgentDesk
from callcenter.board.services import BoardService
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.tracker import CallTracker
from callcenter.monitoring.services import MonitorService
from callcenter.outbound.question_prompts import QuestionPrompts
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService


class HealthSource(Protocol):
    """A part that reports its state as plain data (the AMI bridge, the FastAGI server)."""

    def health(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ConsoleDeps:
    settings: Settings
    database: Database
    bus: EventBus
    patients: PatientService
    scheduling: SchedulingService
    appointments: AppointmentService
    desk: AgentDesk
    # Live calls (link a patient, find the call to monitor) and the call log behind them
    # (flushed before a disposition updates the row; its counters go to /metrics).
    calls: CallTracker
    call_log: CallLogWriter
    board: BoardService
    monitoring: MonitorService
    campaigns: CampaignService
    ami_health: HealthSource
    agi_health: HealthSource
    # The recording processor: running, encrypting, or refused (a missing or wrong key).
    recordings_health: HealthSource
    # Renders a saved campaign's question prompts (None: no sounds directory to write to).
    campaign_prompts: QuestionPrompts | None = None
    # The leader election (is_leader, epoch) for /healthz and /metrics; None in tests.
    leadership_health: HealthSource | None = None
    # The event relay between processes (counters, listening) for /metrics; None in tests.
    relay_health: HealthSource | None = None
