"""Wrap-up: the time after a call when the agent records what it was about.

With ``wrapup_until_disposition`` (the default) wrap-up lasts until the agent saves the call's
disposition, and the phone is held out of the queues meanwhile (paused with
:data:`~callcenter.agents.state.WRAPUP_HOLD_REASON`); without it, wrap-up ends on a timer and
nothing is sent. Only the leader sends the hold and its release when several processes share
the desk; every process follows the state itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from callcenter.agents.errors import TelephonyUnavailable
from callcenter.agents.member_actions import QueueMembers
from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.state import WRAPUP_HOLD_REASON, AgentState, AgentStatus, end_wrap_up
from callcenter.settings import AgentsSettings
from callcenter.tasks import BackgroundTasks

_LOG = logging.getLogger(__name__)


class WrapUps:
    """The agents' wrap-ups on this process: their holds, releases and timers."""

    def __init__(
        self,
        settings: AgentsSettings,
        members: QueueMembers,
        notifier: AgentNotifier,
        clock: Callable[[], float],
        *,
        leads: Callable[[], bool],
        status_of: Callable[[str], AgentStatus | None],
    ) -> None:
        self._settings = settings
        self._members = members
        self._notifier = notifier
        self._clock = clock
        self._leads = leads
        # The agent signed in on this process under that username, if any.
        self._status_of = status_of
        # username -> (linkedid in wrap-up, timer that ends it)
        self._timers: dict[str, tuple[str, asyncio.TimerHandle]] = {}
        # Wrap-up holds and releases sent to Asterisk, one after the other per agent.
        self._tasks = BackgroundTasks("agents")
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_task: dict[str, asyncio.Task[None]] = {}
        # username -> the call whose disposition was saved before its AgentComplete arrived
        # (the tracker's end of the call may come first): its wrap-up ends as it begins.
        self._done_early: dict[str, str] = {}

    def enter(self, status: AgentStatus) -> None:
        """The agent's call ended: wrap-up until the disposition (held out of the queues), or
        on the old timer when ``wrapup_until_disposition`` is off."""
        if self._done_early.get(status.username) == status.linkedid:
            del self._done_early[status.username]
            if end_wrap_up(status, status.linkedid, self._clock()):
                self._notifier.state_changed(status)
            return
        if not self._settings.wrapup_until_disposition:
            self._schedule_end(status)
            return
        if status.held:
            return
        status.held = True
        if self._leads():
            self._in_turn(status, self._hold(status))

    def end(self, username: str, linkedid: str) -> None:
        """The agent's wrap-up of ``linkedid`` ends (or is noted to end as it begins)."""
        status = self._status_of(username)
        if status is not None and status.state is not AgentState.WRAP_UP:
            self._done_early[username] = linkedid
        if status is not None and end_wrap_up(status, linkedid, self._clock()):
            self._cancel_timer(username)
            if status.held:
                status.held = False
                if self._leads():
                    self._in_turn(status, self._release(status))
            self._notifier.state_changed(status)

    def forget(self, username: str) -> None:
        """The agent signed out: their timer and early disposition go."""
        self._cancel_timer(username)
        self._done_early.pop(username, None)

    async def settled(self, username: str, within: float) -> None:
        task = self._last_task.get(username)
        if task is not None and not task.done():
            await asyncio.wait((task,), timeout=within)

    async def stop(self) -> None:
        await self._tasks.wait(within=2.0)

    def _in_turn(self, status: AgentStatus, work: Awaitable[None]) -> None:
        username = status.username
        lock = self._locks.setdefault(username, asyncio.Lock())

        async def in_turn() -> None:
            async with lock:
                await work

        self._last_task[username] = self._tasks.spawn(in_turn(), "wrap-up")

    async def _hold(self, status: AgentStatus) -> None:
        if not status.held or status.paused:
            return  # released already, or paused by the agent (Asterisk offers nothing then)
        try:
            await self._members.pause(status, paused=True, reason=WRAPUP_HOLD_REASON)
        except TelephonyUnavailable as exc:
            # The link is down; the restore after the reconnect pauses the phone again.
            _LOG.warning("wrap-up hold of agent %s not sent: %s", status.username, exc.message)

    async def _release(self, status: AgentStatus) -> None:
        if status.held or self._status_of(status.username) is None:
            return  # a new wrap-up began meanwhile, or the agent signed out
        try:
            await self._members.pause(
                status, paused=status.paused, reason=status.pause_reason if status.paused else ""
            )
        except TelephonyUnavailable as exc:
            _LOG.warning("wrap-up release of agent %s not sent: %s", status.username, exc.message)

    def _schedule_end(self, status: AgentStatus) -> None:
        username, linkedid = status.username, status.linkedid
        pending = self._timers.get(username)
        if pending is not None and pending[0] == linkedid:
            return
        self._cancel_timer(username)
        handle = asyncio.get_running_loop().call_later(
            self._settings.wrapup_seconds, self._expired, username, linkedid
        )
        self._timers[username] = (linkedid, handle)

    def _expired(self, username: str, linkedid: str) -> None:
        # Every process runs this timer for its own state: nothing to announce.
        self._timers.pop(username, None)
        self.end(username, linkedid)

    def _cancel_timer(self, username: str) -> None:
        pending = self._timers.pop(username, None)
        if pending is not None:
            pending[1].cancel()
