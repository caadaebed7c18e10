"""What another server process did at an agent's desk, applied to this process's roster.

Several processes share the desk. The one that served a sign-in, sign-out, pause or end of
wrap-up told Asterisk and the database, and announced it as a
:class:`~callcenter.agents.notifier.DeskChanged`; every other process applies it here (from
bus_consume, through :meth:`AgentService.apply_change
<callcenter.agents.services.AgentService.apply_change>`) so that its desk and board show the same,
sending nothing to Asterisk and storing nothing. A change of an agent's queues is announced as a
sign-in again, carrying the new queues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from callcenter.agents.notifier import AgentNotifier, DeskChange, DeskChanged
from callcenter.agents.roster import Roster
from callcenter.agents.state import AgentStatus
from callcenter.agents.wrapup import WrapUps

_LOG = logging.getLogger(__name__)


class DeskApply:
    """Applies other processes' desk changes; idempotent, this process's own are skipped."""

    def __init__(
        self,
        roster: Roster,
        wrapups: WrapUps,
        notifier: AgentNotifier,
        clock: Callable[[], float],
    ) -> None:
        self._roster = roster
        self._wrapups = wrapups
        self._notifier = notifier
        self._clock = clock

    def apply(self, change: DeskChanged) -> None:
        if self._notifier.is_own(change):
            return
        kind, username = change.kind, change.username
        status = self._roster.get(username)
        if kind is DeskChange.SIGNED_IN and change.user_id is not None:
            self._sign_in(change.user_id, username, change.data)
        elif kind is DeskChange.SIGNED_OUT and status is not None:
            self._roster.forget(status)
        elif kind is DeskChange.PAUSE and status is not None:
            paused = bool(change.data.get("paused"))
            reason = str(change.data.get("reason") or "") if paused else ""
            at = float(change.data.get("at") or 0.0)
            if at and at < status.pause_at:
                # Older than what this process already applied (Asterisk's event of it, or a
                # later pause or resume served here while it was on its way): stale.
                return
            if (status.paused, status.pause_reason) != (paused, reason):
                self._roster.set_pause(status, paused, reason, at or None)
        elif kind is DeskChange.WRAP_UP_DONE:
            self._wrapups.end(username, change.linkedid)

    def _sign_in(self, user_id: int, username: str, data: dict[str, object]) -> None:
        roster = self._roster
        interface = str(data.get("interface") or "")
        holder = roster.by_interface(interface)
        if holder is not None and holder.username != username:
            roster.forget(holder)  # the phone is this agent's now (the store keeps one per phone)
        current = roster.get(username)
        if current is not None and current.interface != interface:
            roster.forget(current)
            current = None
        queues = data.get("queues")
        roster.set_queues(
            username,
            tuple(str(q) for q in queues) if isinstance(queues, list) else roster.default_queues,
        )
        session_bound = bool(data.get("session_bound"))
        if current is not None and current.session_bound == session_bound:
            return  # known already (its queues noted above; Asterisk's events move it)
        status = current or AgentStatus(
            user_id=user_id,
            username=username,
            extension=str(data.get("extension") or ""),
            interface=interface,
            paused=bool(data.get("paused")),
            pause_reason=str(data.get("pause_reason") or ""),
            since=self._clock(),
        )
        roster.add(status, session_bound=session_bound)
        _LOG.info("agent %s signed in on %s (at another server process)", username, interface)
        self._notifier.state_changed(status)
