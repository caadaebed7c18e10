"""The agents signed in as this server process knows them, and the queues each answers.

Every process keeps its own roster: the one that served a sign-in, a sign-out or a pause
changes it after telling Asterisk and the database, the others from the announced
:class:`~callcenter.agents.notifier.DeskChanged` (:mod:`callcenter.agents.desk_apply`). What
changes here is this process's view only: nothing is sent to Asterisk or stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.state import AgentStatus
from callcenter.agents.wrapup import WrapUps

_LOG = logging.getLogger(__name__)


class Roster:
    """username -> :class:`AgentStatus` of the signed-in agents, with the queues of each."""

    def __init__(
        self,
        queues: tuple[str, ...],
        notifier: AgentNotifier,
        wrapups: WrapUps,
        clock: Callable[[], float],
    ) -> None:
        # The queues of an agent whose own are not known: every configured queue.
        self.default_queues = queues
        self._notifier = notifier
        self._wrapups = wrapups
        self._clock = clock
        self._by_user: dict[str, AgentStatus] = {}
        # username -> the queues this agent was added to (their skills' queues, or all).
        self._member_of: dict[str, tuple[str, ...]] = {}

    def get(self, username: str) -> AgentStatus | None:
        return self._by_user.get(username)

    def __contains__(self, username: object) -> bool:
        return username in self._by_user

    def all(self) -> list[AgentStatus]:
        """The signed-in agents, in sign-in order (a copy: safe to change the roster over)."""
        return list(self._by_user.values())

    def by_interface(self, interface: str) -> AgentStatus | None:
        for status in self._by_user.values():
            if status.interface == interface:
                return status
        return None

    def queues_of(self, username: str) -> tuple[str, ...]:
        return self._member_of.get(username, self.default_queues)

    def set_queues(self, username: str, queues: tuple[str, ...]) -> None:
        self._member_of[username] = queues

    def drop_queues(self, username: str) -> None:
        self._member_of.pop(username, None)

    def add(self, status: AgentStatus, *, session_bound: bool) -> None:
        """``status`` is signed in here, in the queues noted for it (:meth:`set_queues`)."""
        self._by_user[status.username] = status
        status.signed_in, status.session_bound = True, session_bound
        status.queues.update(self.queues_of(status.username))

    def forget(self, status: AgentStatus) -> None:
        """The agent is signed out here (Asterisk and the database are done with)."""
        username = status.username
        del self._by_user[username]
        self._member_of.pop(username, None)
        self._wrapups.forget(username)
        status.held = False
        status.signed_in = False
        status.queues.clear()
        status.since = self._clock()
        _LOG.info("agent %s signed out from %s", username, status.interface)
        self._notifier.state_changed(status)

    def set_pause(
        self, status: AgentStatus, paused: bool, reason: str, at: float | None = None
    ) -> None:
        """``at``: when the pause changed (another process's announcement), else now."""
        before = status.state
        status.paused, status.pause_reason = paused, reason
        status.pause_at = max(status.pause_at, self._clock() if at is None else at)
        if status.state is not before:
            status.since = self._clock()
        self._notifier.state_changed(status)
