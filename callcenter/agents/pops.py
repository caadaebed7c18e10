"""Screen pops: when a signed-in agent's phone rings for a queue call, their caller's card.

Who the caller is: the identity confirmed in the IVR wins; otherwise the caller ID is looked up
in every format it may be stored in. One match gives the card, several a pick list, none a
new-patient form prefilled with the number. The pop is sent at once (ringing, caller ID, queue
wait) and again when the card is assembled; it then follows the call (answered, ended) and
stays with the agent until they save the call's disposition. Building a card is a view of a
patient record and is audited under the agent's name.

With several server processes each one keeps the pops of every signed-in agent from its own
AMI events (any process serves the desk's requests), and the process where the agent's browser
is connected builds and audits their cards (:attr:`ScreenPops.shows`: one card built per view,
not one per process; an agent with no browser open anywhere, by the leader); a browser that
connects later gets the cards of the pops already open (:meth:`ScreenPops.show_cards`). What
the agent does to a pop (saves it, picks the patient) and call control's marks (hold,
consultation, transfer) are announced as :class:`DeskChanged` and applied by the others
(:meth:`ScreenPops.apply_change`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from callcenter.agents.errors import PopNotFound
from callcenter.agents.notifier import AgentNotifier, DeskChange, DeskChanged
from callcenter.agents.pop_card import candidate_view, patient_card
from callcenter.agents.services import AgentService
from callcenter.calls.channel_ids import is_callback_call
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded, IvrProgress
from callcenter.calls.tracker import CallTracker
from callcenter.tasks import BackgroundTasks
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DomainError
from hcrm_core.models import AuditAction, Patient
from hcrm_core.services.audit import record_audit
from hcrm_core.services.contact_history import CardHistory, ContactHistory
from hcrm_core.services.patients import PatientService

_LOG = logging.getLogger(__name__)

RINGING, ANSWERED, ENDED = "ringing", "answered", "ended"
# The agent sent the call on (call control): it is over for them, the disposition still due.
TRANSFERRED = "transferred"
# The call is still going on: no disposition yet (how it ended is not known).
LIVE_PHASES = frozenset({RINGING, ANSWERED})
# The pop goes away without a disposition: nobody here talked to the caller.
MISSED, TAKEN_ELSEWHERE, GONE = "missed", "answered_elsewhere", "caller_left"
_FINAL_WITHOUT_CALL = frozenset({MISSED, TAKEN_ELSEWHERE, GONE})
_T = TypeVar("_T")


async def _ready(value: _T) -> _T:
    return value


@dataclass
class Pop:
    """One screen pop of one call for one agent."""

    linkedid: str
    username: str
    user_id: int
    queue: str
    interface: str
    caller_number: str | None
    caller_name: str | None
    waited_seconds: float | None
    rang_at: float
    phase: str = RINGING
    ivr: dict[str, Any] = field(default_factory=dict)
    match: str = "pending"  # ivr, caller_id, agent, several, unknown, pending
    patient: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    prefill: dict[str, Any] | None = None
    phase_at: float = 0.0
    # Since when the caller is on hold (call control), None while talking.
    held_at: float | None = None
    # An attended transfer's consultation: whom, and how it goes (calling, talking, hung_up).
    consult: dict[str, str] | None = None

    def view(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            # A callback the caller asked for while waiting: the agent's call rings the patient.
            "callback": is_callback_call(self.linkedid),
            "queue": self.queue,
            "phase": self.phase,
            "phase_at": self.phase_at,
            "held_at": self.held_at,
            "consult": self.consult,
            "rang_at": self.rang_at,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "waited_seconds": self.waited_seconds,
            "ivr": self.ivr,
            "match": self.match,
            "patient": self.patient,
            "candidates": self.candidates,
            "prefill": self.prefill,
        }


class ScreenPops:
    """Open pops by agent; fed by bus_consume, read and closed by the console."""

    def __init__(
        self,
        *,
        agents: AgentService,
        calls: CallTracker,
        patients: PatientService,
        history: ContactHistory,
        database: Database,
        notifier: AgentNotifier,
        timezone: ZoneInfo,
    ) -> None:
        self._agents = agents
        self._calls = calls
        self._patients = patients
        self._history = history
        self._db = database
        self._notifier = notifier
        self._tz = timezone
        self._pops: dict[str, dict[str, Pop]] = {}
        self._tasks = BackgroundTasks("screen-pops", on_error=_assembly_failed)
        # Whether this process builds (and audits) the agent's cards: where their browser is
        # connected, when several processes share the desk; always with one.
        self.shows: Callable[[str], bool] = lambda username: True
        # username -> the other processes where the agent has a browser open (announced).
        self._browsers: dict[str, set[str]] = {}

    # -- queries -----------------------------------------------------------------------------

    def open_pops(self, username: str) -> list[Pop]:
        return sorted(self._pops.get(username, {}).values(), key=lambda p: p.rang_at)

    def get(self, username: str, linkedid: str) -> Pop:
        pop = self._pops.get(username, {}).get(linkedid)
        if pop is None:
            raise PopNotFound("that call is not on your desk")
        return pop

    # -- call notices ------------------------------------------------------------------------

    def on_ringing(self, notice: AgentRinging) -> None:
        status = self._agents.by_interface(notice.interface)
        if status is None:
            return
        pops = self._pops.setdefault(status.username, {})
        pop = pops.get(notice.linkedid)
        if pop is not None:  # rung again after a retry: same pop, same card
            self._move(pop, RINGING)
            return
        pop = Pop(
            linkedid=notice.linkedid,
            username=status.username,
            user_id=status.user_id,
            queue=notice.queue,
            interface=notice.interface,
            caller_number=notice.caller_number,
            caller_name=notice.caller_name,
            waited_seconds=notice.waited_seconds,
            rang_at=notice.at.timestamp(),
            phase_at=notice.at.timestamp(),
        )
        pops[notice.linkedid] = pop
        self._notifier.pop_changed(pop.username, pop.view())
        if self.shows(pop.username):
            self._tasks.spawn(self._assemble(pop), "assemble")

    async def show_cards(self, username: str) -> None:
        """The agent's browser connected here: build the cards of their pops not built here."""
        pending = [p for p in self.open_pops(username) if p.match == "pending"]
        if pending:
            await asyncio.gather(*(self._assemble(p) for p in pending), return_exceptions=True)

    def on_answered(self, notice: CallAnswered) -> None:
        for pop in self._pops_of_call(notice.linkedid):
            if notice.interface == pop.interface:
                self._move(pop, ANSWERED)
            elif pop.phase == RINGING:
                self._move(pop, TAKEN_ELSEWHERE)

    def on_ended(self, notice: CallEnded) -> None:
        for pop in self._pops_of_call(notice.linkedid):
            pop.held_at = None
            if pop.phase != TRANSFERRED:
                self._move(pop, ENDED if pop.phase == ANSWERED else GONE)

    def on_ivr(self, progress: IvrProgress) -> None:
        """An IVR step that arrives after the phone rang: the call's open pops show it.

        With several server processes the dialog may have run on another one, and its last
        steps travel through the database (callcenter/cluster/relay.py) while Asterisk already
        rings the agent."""
        for pop in self._pops_of_call(progress.linkedid):
            pop.ivr = {
                "last_step": progress.step,
                "context": {**pop.ivr.get("context", {}), **progress.context},
            }
            self._notifier.pop_changed(pop.username, pop.view())
            # A card already shown from a caller-ID guess gives way to the IVR's identity (a
            # card still being assembled checks again when it is done).
            if pop.match not in ("pending", "ivr", "agent") and _ivr_patient(pop) is not None:
                self._tasks.spawn(self._confirm(pop), "confirm")

    def on_ring_no_answer(self, interface: str, linkedid: str) -> None:
        for pop in self._pops_of_call(linkedid):
            if pop.interface == interface and pop.phase == RINGING:
                self._move(pop, MISSED)

    def set_hold(self, username: str, linkedid: str, since: float | None) -> None:
        """Call control put the call on hold (``since``) or took it off (None)."""
        self._set_hold(username, linkedid, since)
        self._announce(DeskChange.POP_HOLD, username, linkedid, {"since": since})

    def _set_hold(self, username: str, linkedid: str, since: float | None) -> None:
        pop = self._pops.get(username, {}).get(linkedid)
        if pop is not None and pop.held_at != since:
            pop.held_at = since
            self._notifier.pop_changed(username, pop.view())

    def find(self, username: str, linkedid: str) -> Pop | None:
        return self._pops.get(username, {}).get(linkedid)

    def set_consult(
        self, username: str, linkedid: str, state: str | None, target: str | None = None
    ) -> None:
        """Call control's consultation on this call: started, answered, over (None)."""
        self._set_consult(username, linkedid, state, target)
        self._announce(
            DeskChange.POP_CONSULT, username, linkedid, {"state": state, "target": target}
        )

    def _set_consult(
        self, username: str, linkedid: str, state: str | None, target: str | None
    ) -> None:
        pop = self.find(username, linkedid)
        if pop is None:
            return
        if state is None:
            pop.consult = None
        else:
            pop.consult = {
                "target": target or (pop.consult or {}).get("target", ""),
                "state": state,
            }
        self._notifier.pop_changed(username, pop.view())

    def transferred(self, username: str, linkedid: str) -> None:
        """Call control sent the call on: it leaves this agent (the disposition is due)."""
        self._transferred(username, linkedid)
        self._announce(DeskChange.POP_TRANSFERRED, username, linkedid)

    def _transferred(self, username: str, linkedid: str) -> None:
        pop = self._pops.get(username, {}).get(linkedid)
        if pop is not None:
            pop.held_at, pop.consult = None, None
            self._move(pop, TRANSFERRED)

    def dismiss(self, username: str, linkedid: str) -> None:
        """The agent saved the disposition: the pop leaves their desk."""
        self._dismiss(username, linkedid)
        self._announce(DeskChange.POP_DISMISSED, username, linkedid)

    def _dismiss(self, username: str, linkedid: str) -> None:
        pop = self._pops.get(username, {}).pop(linkedid, None)
        if pop is not None:
            pop.phase = "closed"
            self._notifier.pop_changed(username, pop.view())

    async def choose_patient(self, username: str, linkedid: str, patient_id: int) -> Pop:
        """The agent picked the caller from the list (or registered them): show their card."""
        pop = self.get(username, linkedid)
        await self._show_card(pop, patient_id, "agent")
        self._notifier.pop_changed(pop.username, pop.view())
        self._announce(DeskChange.PATIENT_CHOSEN, username, linkedid, {"patient_id": patient_id})
        return pop

    def browser_here(self, username: str, is_open: bool) -> None:
        """The agent's first browser opened on this process (or their last one closed)."""
        self._announce(DeskChange.BROWSER, username, "", {"open": is_open})

    def browsers_elsewhere(self, username: str) -> bool:
        """Whether another process said it has a browser of the agent open."""
        return bool(self._browsers.get(username))

    def apply_change(self, change: DeskChanged) -> None:
        """Apply what another process did to a pop (that process audited and acted on it);
        idempotent; this process's own changes are skipped."""
        if self._notifier.is_own(change):
            return
        kind, username, linkedid, data = change.kind, change.username, change.linkedid, change.data
        if kind is DeskChange.BROWSER:
            at = self._browsers.setdefault(username, set())
            if data.get("open"):
                at.add(change.origin)
            else:
                at.discard(change.origin)
        elif kind is DeskChange.POP_DISMISSED:
            self._dismiss(username, linkedid)
        elif kind is DeskChange.POP_TRANSFERRED:
            self._transferred(username, linkedid)
        elif kind is DeskChange.POP_HOLD:
            since = data.get("since")
            self._set_hold(username, linkedid, float(since) if since is not None else None)
        elif kind is DeskChange.POP_CONSULT:
            state, target = data.get("state"), data.get("target")
            self._set_consult(
                username,
                linkedid,
                None if state is None else str(state),
                None if target is None else str(target),
            )
        elif kind is DeskChange.PATIENT_CHOSEN:
            pop = self.find(username, linkedid)
            patient_id = data.get("patient_id")
            if pop is not None and isinstance(patient_id, int) and self.shows(username):
                self._tasks.spawn(self._chosen_elsewhere(pop, patient_id), "chosen")

    async def _chosen_elsewhere(self, pop: Pop, patient_id: int) -> None:
        patient = pop.patient or {}
        if pop.match == "agent" and patient.get("id") == patient_id:
            return  # shown already
        await self._show_card(pop, patient_id, "agent", audit=False)
        self._notifier.pop_changed(pop.username, pop.view())

    def _announce(
        self, kind: DeskChange, username: str, linkedid: str, data: dict[str, Any] | None = None
    ) -> None:
        self._notifier.desk_changed(kind, username, linkedid=linkedid, data=data)

    async def stop(self) -> None:
        # A pop still being assembled is of no use once the desk stops.
        await self._tasks.cancel_all()

    # -- assembly ----------------------------------------------------------------------------

    async def _assemble(self, pop: Pop) -> None:
        started = time.perf_counter()
        call = self._calls.get(pop.linkedid)
        # Steps that reached the pop itself (on_ivr) are at least as new as the tracker's.
        early = pop.ivr
        ivr_context = {**(call.ivr_context if call is not None else {}), **early.get("context", {})}
        pop.ivr = {
            "last_step": early.get("last_step") or (call.ivr_last_step if call else None),
            "context": ivr_context,
        }
        try:
            await self._identify(pop, ivr_context.get("patient_id"))
            confirmed = _ivr_patient(pop)
            if pop.match != "ivr" and confirmed is not None:  # arrived while assembling
                await self._show_card(pop, confirmed, "ivr")
        except DomainError as exc:
            # The database is away (or the IVR's patient vanished): the agent still gets the
            # call with its caller ID, and a search box.
            _LOG.warning("screen pop linkedid=%s without card: %s", pop.linkedid, exc.code)
            pop.match = "error"
        self._notifier.pop_changed(pop.username, pop.view())
        _LOG.info(
            "screen pop for %s linkedid=%s match=%s in %.1f ms",
            pop.username,
            pop.linkedid,
            pop.match,
            (time.perf_counter() - started) * 1000,
        )

    async def _confirm(self, pop: Pop) -> None:
        """Show the card of the patient the IVR identified (learnt after the pop was built)."""
        confirmed = _ivr_patient(pop)
        if confirmed is None or pop.match == "ivr":
            return
        try:
            await self._show_card(pop, confirmed, "ivr")
        except DomainError as exc:
            _LOG.warning("screen pop linkedid=%s keeps its card: %s", pop.linkedid, exc.code)
            return
        self._notifier.pop_changed(pop.username, pop.view())

    async def _identify(self, pop: Pop, confirmed: object) -> None:
        if isinstance(confirmed, int):
            await self._show_card(pop, confirmed, "ivr")
        elif pop.caller_number:
            found = await self._patients.find_by_phone(pop.caller_number, card=True)
            await self._show_matches(pop, found)
        else:
            pop.match, pop.prefill = "unknown", {"phone": None}

    async def _show_matches(self, pop: Pop, found: list[Patient]) -> None:
        if len(found) == 1:
            await self._show_card(pop, found[0].id, "caller_id", found[0])
            return
        if not found:
            pop.match, pop.prefill = "unknown", {"phone": pop.caller_number}
            return
        today = datetime.now(self._tz).date()
        pop.match = "several"
        pop.candidates = [candidate_view(p, today) for p in found]
        await record_audit(
            self._db,
            self._actor(pop),
            AuditAction.VIEW,
            "patient_search",
            detail={
                "via": "screen_pop",
                "linkedid": pop.linkedid,
                "patient_ids": [p.id for p in found],
            },
        )

    async def _show_card(
        self,
        pop: Pop,
        patient_id: int,
        match: str,
        patient: Patient | None = None,
        *,
        audit: bool = True,
    ) -> None:
        """Fill the pop with the patient's card; the card is shown only once its view is audited.

        The record, its history and the audit row are independent: they run at once (three
        connections, not six sequential round trips), so the card costs the slowest of them.
        ``audit``: False for a card another process audited.
        """
        results = await asyncio.gather(
            self._patients.get(patient_id) if patient is None else _ready(patient),
            self._history.for_card(patient_id, exclude_linkedid=pop.linkedid),
            record_audit(
                self._db,
                self._actor(pop),
                AuditAction.VIEW,
                "patient",
                patient_id,
                patient_id=patient_id,
                detail={"via": "screen_pop", "linkedid": pop.linkedid, "match": match},
            )
            if audit
            else _ready(None),
            return_exceptions=True,  # wait for all: no write left running behind a failure
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        record, history = cast(Patient, results[0]), cast(CardHistory, results[1])
        pop.patient = patient_card(
            record,
            appointments=history.appointments,
            calls=history.calls,
            complaints=history.complaints,
            followups=history.followups,
            tz=self._tz,
            today=datetime.now(self._tz).date(),
        )
        pop.match, pop.candidates, pop.prefill = match, [], None

    # -- helpers -----------------------------------------------------------------------------

    def _actor(self, pop: Pop) -> Actor:
        return Actor.user(pop.user_id, pop.username, source=pop.linkedid)

    def _pops_of_call(self, linkedid: str) -> list[Pop]:
        return [p for pops in self._pops.values() if (p := pops.get(linkedid)) is not None]

    def _move(self, pop: Pop, phase: str) -> None:
        if pop.phase == phase:
            return
        pop.phase, pop.phase_at = phase, time.time()
        self._notifier.pop_changed(pop.username, pop.view())
        if phase in _FINAL_WITHOUT_CALL:
            self._pops.get(pop.username, {}).pop(pop.linkedid, None)


def _ivr_patient(pop: Pop) -> int | None:
    patient_id = pop.ivr.get("context", {}).get("patient_id")
    return patient_id if isinstance(patient_id, int) else None


def _assembly_failed(_task: asyncio.Task[Any], exc: BaseException) -> None:
    # The type only: the message may quote the caller's details.
    _LOG.error("screen pop assembly failed: %s", type(exc).__name__)
