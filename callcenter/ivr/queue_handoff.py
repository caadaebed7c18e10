"""Which queue a caller is handed to, and how long and how high they wait there.

The queues are kept in the database (``hcrm_core.services.queues``): ``0`` (the agent key,
pressed anywhere, or the IVR giving up) leads to the active queue whose menu key is ``0``; other
keys of the main menu lead to theirs. Past a queue's maximum wait the caller moves to its
overflow queue, or (overflow "message") to the IVR's message menu (``flows/overflow.py``), which
reads the identified patient back from ``CALLCENTER_PATIENT``. An identified VIP or
chronic-care patient waits at a higher priority (``QUEUE_PRIO``: Asterisk answers higher
priorities first, whatever the order they came in). A site that keeps no queues in its
database gets the old hand-off: the appointments queue, no limit, no priority.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callcenter.agi import prompts as kit_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import ToAgent
from callcenter.asterisk.const import QUEUE_OVERFLOW_MESSAGE
from hcrm_core.db import Database
from hcrm_core.models import Patient
from hcrm_core.services.queues import QueueView, caller_priority, list_queues

AGENT_KEY = "0"
DEFAULT_QUEUE = "appointments"
QUEUE_VARIABLE = "CALLCENTER_QUEUE"
# Read by the dialplan's callcenter-queues (extensions.conf) on the AGI channel itself.
PRIORITY_VARIABLE = "QUEUE_PRIO"
MAX_WAIT_VARIABLE = "CALLCENTER_QUEUE_MAXWAIT"
OVERFLOW_VARIABLE = "CALLCENTER_QUEUE_OVERFLOW"
# The identified patient, for the message overflow's request (read back by its AGI route).
PATIENT_VARIABLE = "CALLCENTER_PATIENT"


_SLUG = re.compile(r"[^a-z0-9]+")


def queue_prompt(name: str) -> str:
    """The sound name of a queue's spoken display name (``prompts build`` renders it)."""
    slug = _SLUG.sub("-", name.lower()).strip("-")[:40] or "unnamed"
    return f"{kit_prompts.PREFIX}queue-{slug}"


def menu_choices(keys: dict[str, str]) -> list[str]:
    """What the main menu adds for its queue keys: "For <queue>, press <key>", by key."""
    segments: list[str] = []
    for digit, name in sorted(keys.items()):
        segments += [kit_prompts.FOR, queue_prompt(name), kit_prompts.PRESS[int(digit)]]
    return segments


class ToQueue(ToAgent):
    """The caller chose a queue by its key in the main menu."""

    def __init__(self, queue: str, step: str) -> None:
        super().__init__(f"caller chose queue {queue}", step)
        self.queue = queue


@dataclass(frozen=True, slots=True)
class Handoff:
    queue: str
    max_wait_seconds: int = 0
    # Where callers go past the maximum wait: another queue, or the message overflow's
    # extension (QUEUE_OVERFLOW_MESSAGE); None: the dialplan's after-queue.
    overflow_queue: str | None = None
    priority: int = 0
    patient_id: int | None = None

    async def tell_dialplan(self, agi: AgiChannel) -> None:
        """Set the channel variables the dialplan's queue extension reads."""
        await agi.set_variable(QUEUE_VARIABLE, self.queue)
        if self.priority:
            await agi.set_variable(PRIORITY_VARIABLE, str(self.priority))
        if self.max_wait_seconds:
            await agi.set_variable(MAX_WAIT_VARIABLE, str(self.max_wait_seconds))
            if self.overflow_queue:
                await agi.set_variable(OVERFLOW_VARIABLE, self.overflow_queue)
            if self.overflow_queue == QUEUE_OVERFLOW_MESSAGE and self.patient_id is not None:
                await agi.set_variable(PATIENT_VARIABLE, str(self.patient_id))


class QueueRouting:
    """The active queues, read for each caller (a change in the console applies at once)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def menu_keys(self) -> dict[str, str]:
        """Main-menu keys (other than the agent key) -> queue name."""
        queues = await list_queues(self._database, active_only=True)
        return {q.menu_digit: q.name for q in queues if q.menu_digit not in (None, AGENT_KEY)}

    async def handoff(self, transfer: ToAgent, patient: Patient | None) -> Handoff:
        """Where ``transfer`` leads: the chosen queue, else the agent key's."""
        queues = await list_queues(self._database, active_only=True)
        wanted = transfer.queue if isinstance(transfer, ToQueue) else None
        queue = _pick(queues, wanted)
        priority = caller_priority(patient.vip, patient.chronic_care) if patient else 0
        if queue is None:
            return Handoff(DEFAULT_QUEUE, priority=priority)
        overflow = _OVERFLOWS.get(queue.overflow, queue.overflow_queue)
        patient_id = patient.id if patient else None
        return Handoff(queue.name, queue.max_wait_seconds, overflow, priority, patient_id)


# Overflow kinds with a fixed destination ("queue" goes to the queue's overflow_queue).
_OVERFLOWS: dict[str, str | None] = {"hangup": None, "message": QUEUE_OVERFLOW_MESSAGE}


def _pick(queues: list[QueueView], wanted: str | None) -> QueueView | None:
    for queue in queues:
        if queue.name == wanted:
            return queue
    for queue in queues:
        if queue.menu_digit == AGENT_KEY:
            return queue
    return None
