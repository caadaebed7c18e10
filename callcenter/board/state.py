"""The supervisor board's state: queues, agents and today's hourly figures. Pure logic, no I/O.

Inputs are the call tracker's notices (what happened to a call: queued, ringing an agent,
answered, ended), the typed queue events of :mod:`callcenter.board.queue_events` (who waits
where, each member's device state and pause) and a ``QueueStatus`` snapshot after every AMI
(re)connect. ``snapshot()`` renders the whole board as plain JSON-able data; times are
wall-clock epoch seconds, so a browser shows durations without asking again.

"Today" is the hospital's local day; totals count calls by the hour they started. A call
counts as answered within the service level when its queue wait was at most the queue's
``servicelevel`` seconds (60 by default); the service level is that count over answered plus
abandoned calls (Asterisk's own ``ServicelevelPerf`` leaves abandoned calls out, which flatters
a queue nobody answers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.board.agents import AgentCall, AgentView, agent_state, by_name, extension_of
from callcenter.board.queue_events import (
    AgentCallDone,
    BoardInput,
    CallerJoined,
    CallerLeft,
    MemberUpdate,
    QueueParams,
)
from callcenter.calls.state import (
    AgentRinging,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
    Notice,
)
from callcenter.settings import BoardSettings

DEFAULT_SERVICE_LEVEL = 60


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One of today's calls as the database has it (for the totals after a restart)."""

    started_at: datetime
    queue: str | None
    answered: bool
    abandoned: bool
    queue_wait_seconds: float | None
    ended: bool
    inbound: bool


@dataclass
class QueueTotals:
    answered: int = 0
    answered_within_sl: int = 0
    abandoned: int = 0


@dataclass
class HourTotals:
    calls: int = 0
    answered: int = 0
    abandoned: int = 0


@dataclass
class AgentTotals:
    """One agent's calls handled today: answered queue calls that ended, and the time they
    took from the answer to the end of wrap-up (the handle time)."""

    handled: int = 0
    handle_seconds: float = 0.0


@dataclass
class _LiveCall:
    started_at: float
    queue: str | None = None
    inbound: bool = False
    # A campaign call: its survey dialog runs on our FastAGI too, but it is not an inbound call.
    outbound: bool = False


def _epoch(at: datetime) -> float:
    return at.timestamp()


class BoardState:
    """Folds inputs into the board; see the module docstring."""

    def __init__(self, timezone: str, queues: Iterable[tuple[str, str]], now: float) -> None:
        self._zone = ZoneInfo(timezone)
        # The queues shown: the active ones kept in the database (name -> display name).
        self._descriptions = dict(queues)
        # Every display name seen, for a queue dropped while callers still wait in it.
        self._display_names = dict(self._descriptions)
        self._service_level: dict[str, int] = {}
        self._waiting: dict[str, dict[str, float]] = {name: {} for name in self._descriptions}
        self._totals: dict[str, QueueTotals] = {}
        self._hours: dict[int, HourTotals] = {}
        self._agents: dict[str, AgentView] = {}
        self._calls: dict[str, _LiveCall] = {}
        self._day = self._local_day(now)
        # Console users' display names by phone extension (the board service loads them).
        self.names_by_extension: dict[str, str] = {}
        # The agent desk's own view of signed-in agents (``AgentStatus.view()``) by interface:
        # it knows wrap-up and who is behind a phone, so it wins over the member events.
        self._desk: dict[str, dict[str, Any]] = {}
        # Calls handled today by interface (kept across resyncs; since the server started).
        self._agent_totals: dict[str, AgentTotals] = {}
        # When the supervisor is alerted (set by the plugin from the settings).
        self.alerts = BoardSettings()
        self.wrapup_max_seconds: float | None = None

    # -- today's totals ----------------------------------------------------------------------

    def _local_day(self, at: float) -> date:
        return datetime.fromtimestamp(at, self._zone).date()

    def _hour(self, at: float) -> HourTotals:
        return self._hours.setdefault(datetime.fromtimestamp(at, self._zone).hour, HourTotals())

    def _queue_totals(self, queue: str) -> QueueTotals:
        return self._totals.setdefault(queue, QueueTotals())

    def service_level_seconds(self, queue: str) -> int:
        return self._service_level.get(queue) or DEFAULT_SERVICE_LEVEL

    def load_today(self, records: Iterable[CallRecord]) -> None:
        """Today's finished calls from the database, so a restart does not zero the board."""
        for record in records:
            started = _epoch(record.started_at)
            if self._local_day(started) != self._day or not record.ended or not record.inbound:
                continue
            self._count_answer(record.queue, record.answered, record.queue_wait_seconds)
            self._count_end(started, record.queue, record.answered, record.abandoned)

    def _count_answer(self, queue: str | None, answered: bool, waited: float | None) -> None:
        if queue is None or not answered:
            return
        totals = self._queue_totals(queue)
        totals.answered += 1
        if waited is not None and waited <= self.service_level_seconds(queue):
            totals.answered_within_sl += 1

    def _count_end(
        self, started: float, queue: str | None, answered: bool, abandoned: bool
    ) -> None:
        hour = self._hour(started)
        hour.calls += 1
        hour.answered += int(answered)
        if abandoned and queue is not None:
            hour.abandoned += 1
            self._queue_totals(queue).abandoned += 1

    def roll_day(self, now: float) -> bool:
        """At local midnight today's totals start again; True when they did."""
        day = self._local_day(now)
        if day == self._day:
            return False
        self._day = day
        self._totals.clear()
        self._hours.clear()
        self._agent_totals.clear()
        return True

    # -- call notices ------------------------------------------------------------------------

    def apply_notice(self, notice: Notice) -> None:
        if isinstance(notice, CallStarted):
            self._calls[notice.linkedid] = _LiveCall(
                _epoch(notice.at),
                inbound=notice.direction == "inbound",
                outbound=notice.direction == "outbound",
            )
        elif isinstance(notice, CallQueued):
            call = self._call(notice.linkedid, notice.at)
            call.queue, call.inbound = notice.queue, not call.outbound
        elif isinstance(notice, AgentRinging):
            self._call(notice.linkedid, notice.at).queue = notice.queue
            agent = self._agent(notice.interface, notice.member_name)
            agent.call = AgentCall(notice.linkedid, notice.queue, "ringing", _epoch(notice.at))
            self._restate(agent, _epoch(notice.at))
        elif isinstance(notice, CallAnswered):
            self._on_answered(notice)
        elif isinstance(notice, CallEnded):
            self._on_ended(notice)

    def apply_ivr(self, linkedid: str, at: datetime) -> None:
        """The call reached our IVR: it is an inbound call even if it never queues."""
        call = self._call(linkedid, at)
        call.inbound = not call.outbound

    def _call(self, linkedid: str, at: datetime) -> _LiveCall:
        return self._calls.setdefault(linkedid, _LiveCall(_epoch(at)))

    def _on_answered(self, notice: CallAnswered) -> None:
        call = self._call(notice.linkedid, notice.at)
        queue = notice.queue or call.queue
        if queue is not None and notice.interface:
            self._count_answer(queue, True, notice.waited_seconds)
            agent = self._agent(notice.interface, notice.interface)
            agent.call = AgentCall(
                notice.linkedid, queue, "on_call", _epoch(notice.at), notice.waited_seconds
            )
            self._restate(agent, _epoch(notice.at))
            # The agent answered this call: any other phone rung for it stops ringing.
            for other in list(self._agents.values()):
                if other is not agent and other.call and other.call.linkedid == notice.linkedid:
                    self._clear_call(other, _epoch(notice.at))

    def _on_ended(self, notice: CallEnded) -> None:
        call = self._calls.pop(notice.linkedid, None)
        at = _epoch(notice.at)
        if call is not None and (call.inbound or call.queue is not None):
            answered = notice.reason == "completed" and call.queue is not None
            if self._local_day(call.started_at) == self._day:
                self._count_end(call.started_at, call.queue, answered, notice.abandoned)
        for agent in list(self._agents.values()):
            if agent.call is not None and agent.call.linkedid == notice.linkedid:
                self._clear_call(agent, at)

    # -- queue events ------------------------------------------------------------------------

    def apply_queue_event(self, item: BoardInput, at: float) -> None:
        if isinstance(item, CallerJoined):
            self._waiting.setdefault(item.queue, {})[item.uniqueid] = item.since
        elif isinstance(item, CallerLeft):
            self._waiting.get(item.queue, {}).pop(item.uniqueid, None)
        elif isinstance(item, MemberUpdate):
            self._apply_member(item, at)
        elif isinstance(item, AgentCallDone):
            agent = self._agents.get(item.interface)
            if agent is not None and agent.call and agent.call.linkedid == item.linkedid:
                self._clear_call(agent, at)

    def unnamed_agents(self) -> bool:
        """Some agent's extension has no known user (the service reloads the names then)."""
        return any(extension_of(i) not in self.names_by_extension for i in self._agents)

    def _apply_member(self, update: MemberUpdate, at: float) -> None:
        agent = self._agent(update.interface, update.name)
        if update.removed:
            agent.queues.pop(update.queue, None)
        else:
            agent.queues[update.queue] = update
        if not agent.queues and agent.call is None:
            del self._agents[update.interface]
            return
        self._restate(agent, at)

    def apply_resync(
        self,
        params: Iterable[QueueParams],
        members: Iterable[MemberUpdate],
        entries: Iterable[CallerJoined],
        taken_at: float,
    ) -> None:
        """Asterisk's ``QueueStatus`` after a (re)connect replaces the live part of the board."""
        for param in params:
            self._service_level[param.queue] = param.service_level_seconds
        self._waiting = {name: {} for name in self._descriptions}
        for entry in entries:
            self._waiting.setdefault(entry.queue, {})[entry.uniqueid] = entry.since
        calls = {i: a.call for i, a in self._agents.items() if a.call is not None}
        self._agents = {}
        for member in members:
            self._apply_member(member, taken_at)
        for interface, call in calls.items():
            agent = self._agents.get(interface)
            if agent is not None:
                agent.call = call
                self._restate(agent, taken_at)

    def set_queues(self, queues: Iterable[tuple[str, str]]) -> bool:
        """The active queues changed (created, renamed, deactivated); True when the board did.

        A queue no longer active stays on the board while callers still wait in it (Asterisk
        keeps a removed queue until its last caller leaves)."""
        descriptions = dict(queues)
        if descriptions == self._descriptions:
            return False
        self._descriptions = descriptions
        self._display_names.update(descriptions)
        for name in descriptions:
            self._waiting.setdefault(name, {})
        return True

    # -- agents ------------------------------------------------------------------------------

    def apply_desk_agent(self, view: dict[str, Any]) -> None:
        """The desk's state of one agent (``AgentStateChanged.agent``)."""
        interface = str(view.get("interface") or "")
        if not interface:
            return
        before = self._desk.get(interface)
        if (
            before is not None
            and before.get("state") == "wrap_up"
            and view.get("state") != "wrap_up"
        ):
            # Wrap-up is part of handling the call: it counts into the handle time.
            spent = float(view.get("since") or 0) - float(before.get("since") or 0)
            if spent > 0:
                self._agent_totals.setdefault(interface, AgentTotals()).handle_seconds += spent
        if view.get("state") == "signed_out":
            self._desk.pop(interface, None)
        else:
            self._desk[interface] = view

    def _agent(self, interface: str, name: str) -> AgentView:
        agent = self._agents.get(interface)
        if agent is None:
            agent = self._agents[interface] = AgentView(interface, name)
        return agent

    def _clear_call(self, agent: AgentView, at: float) -> None:
        """The agent's call is over; a phone rung without queue membership leaves the board."""
        if agent.call is not None and agent.call.state == "on_call":
            totals = self._agent_totals.setdefault(agent.interface, AgentTotals())
            totals.handled += 1
            totals.handle_seconds += max(0.0, at - agent.call.since)
            agent.last = {
                "linkedid": agent.call.linkedid,
                "queue": agent.call.queue,
                "talk_seconds": round(max(0.0, at - agent.call.since)),
                "ended_at": at,
            }
        agent.call = None
        if not agent.queues:
            self._agents.pop(agent.interface, None)
            return
        self._restate(agent, at)

    def _restate(self, agent: AgentView, at: float) -> None:
        state = agent_state(agent)
        if state != agent.state or not agent.since:
            agent.state, agent.since = state, at

    # -- output ------------------------------------------------------------------------------

    def snapshot(self, now: float) -> dict[str, Any]:
        """The whole board as plain data (the websocket message body)."""
        return {
            "at": now,
            "day": self._day.isoformat(),
            "queues": [self._queue_view(name) for name in sorted(self._all_queues())],
            "agents": [self._agent_view(a) for a in sorted(self._agents.values(), key=by_name)],
            "hours": [
                {"hour": hour, "calls": t.calls, "answered": t.answered, "abandoned": t.abandoned}
                for hour, t in sorted(self._hours.items())
            ],
            "wrapup_max_seconds": self.wrapup_max_seconds,
        }

    def _all_queues(self) -> set[str]:
        return set(self._descriptions) | {name for name, w in self._waiting.items() if w}

    def _queue_view(self, name: str) -> dict[str, Any]:
        waiting = sorted(self._waiting.get(name, {}).values())
        totals = self._totals.get(name, QueueTotals())
        offered = totals.answered + totals.abandoned
        members = [a for a in self._agents.values() if name in a.queues]
        return {
            "name": name,
            "description": self._display_names.get(name, name),
            "waiting": len(waiting),
            "waiting_since": waiting,
            "longest_wait_since": waiting[0] if waiting else None,
            "answered": totals.answered,
            "abandoned": totals.abandoned,
            "answered_within_sl": totals.answered_within_sl,
            "service_level_seconds": self.service_level_seconds(name),
            "service_level": round(100 * totals.answered_within_sl / offered, 1)
            if offered
            else None,
            "members": len(members),
            "available": sum(1 for a in members if a.state == "ready"),
            "alerts": self.alerts.alerts_for(name).model_dump(),
        }

    def _agent_view(self, agent: AgentView) -> dict[str, Any]:
        reasons = {m.paused_reason for m in agent.queues.values() if m.paused and m.paused_reason}
        call = agent.call
        desk = self._desk.get(agent.interface)
        state, since, reason = agent.state, agent.since, ", ".join(sorted(reasons)) or None
        if desk is not None:
            state, since = str(desk.get("state")), float(desk.get("since") or since)
            reason = desk.get("pause_reason") or None
        name = self.names_by_extension.get(extension_of(agent.interface), agent.name)
        totals = self._agent_totals.get(agent.interface, AgentTotals())
        return {
            "interface": agent.interface,
            "name": name,
            "username": desk.get("username") if desk else None,
            "state": state,
            "since": since,
            "paused_reason": reason,
            "queues": sorted(agent.queues),
            "handled": totals.handled,
            "average_handle_seconds": round(totals.handle_seconds / totals.handled)
            if totals.handled
            else None,
            "call": None
            if call is None
            else {
                "linkedid": call.linkedid,
                "queue": call.queue,
                "state": call.state,
                "since": call.since,
                "waited_seconds": None if call.waited is None else round(call.waited),
            },
            "last_call": agent.last,
        }
