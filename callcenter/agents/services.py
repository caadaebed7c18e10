"""Queue membership: sign in, sign out, pause and resume, over the AMI bridge.

The server is the source of truth for who is signed in (queues.conf lists no members and
``persistentmembers = no``): after every AMI reconnect the bridge publishes a resync, and every
signed-in agent is added to their queues again (with their pause), because an Asterisk that
restarted has forgotten them. Agent state then follows the queue-member events Asterisk sends.

Sign-ins are also kept in the database (``agent_sign_ins``): at the first resync after the
server starts, the stored agents are signed in again (members Asterisk still has are left as
they are: QueueAdd answers "already there"). A sign-out deletes the row before touching
Asterisk, so an agent who signed out is never put back by a restart.

A resync also brings the agents' calls back: an agent talking to a caller when the server
restarted (or while the link was down) shows on that call, with its Linkedid, as soon as the
snapshot is read, not at the next member event; one whose call ended unseen goes to wrap-up.

Several server processes share the desk: each knows every signed-in agent and follows their
state from its own AMI events. What an agent does (sign in or out, pause, end wrap-up) is done
by the process that served the request and announced as a :class:`DeskChanged`; the others
apply it with :meth:`AgentService.apply_change`, sending nothing to Asterisk. The wrap-up hold
and its release are sent by the leader only (:attr:`AgentService.leads`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from callcenter.agents.errors import ExtensionInUse, NotSignedIn, TelephonyUnavailable
from callcenter.agents.member_events import MemberEvent, member_calls
from callcenter.agents.notifier import AgentNotifier, DeskChange, DeskChanged
from callcenter.agents.state import (
    WRAPUP_HOLD_REASON,
    AgentState,
    AgentStatus,
    apply_event,
    end_wrap_up,
    follow_snapshot,
    interface_for,
)
from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiActionError, AmiError, AmiNotConnected, AmiTimeout
from callcenter.ami.events import AmiSnapshot
from callcenter.ami.protocol import ActionValue
from callcenter.settings import AgentsSettings
from callcenter.tasks import BackgroundTasks
from hcrm_core.errors import StorageUnavailable, ValidationFailed
from hcrm_core.services.agent_sign_ins import AgentSignIns, SignedIn

_LOG = logging.getLogger(__name__)

Clock = Callable[[], float]
# The queues an agent answers (by user id), from the queues kept in the database; None when
# the site keeps none there (then every agent joins every configured queue, as before).
QueueLookup = Callable[[int], Awaitable[tuple[str, ...] | None]]
# Asterisk's answers when the member is already (or no longer) there: the goal is reached.
_ALREADY_THERE = "already there"
_NOT_THERE = "not there"
# Member events held until the stored agents are loaded (far more than one DB read's worth).
_HELD_EVENTS = 5_000


class AgentService:
    """Signed-in agents and their state; one instance per server."""

    def __init__(
        self,
        ami: AmiBridge,
        settings: AgentsSettings,
        queues: Iterable[str],
        notifier: AgentNotifier,
        *,
        store: AgentSignIns | None = None,
        clock: Clock = time.time,
        queues_for: QueueLookup | None = None,
    ) -> None:
        self._ami = ami
        self._store = store
        self._loaded = store is None
        self._settings = settings
        self._queues = tuple(settings.queues) or tuple(queues)
        self._queues_for = None if settings.queues else queues_for
        # username -> the queues this agent was added to (their skills' queues, or all).
        self._member_of: dict[str, tuple[str, ...]] = {}
        self._notifier = notifier
        self._clock = clock
        self._by_user: dict[str, AgentStatus] = {}
        # username -> (linkedid in wrap-up, timer that ends it)
        self._wrapups: dict[str, tuple[str, asyncio.TimerHandle]] = {}
        # Events of phones not known yet while the stored agents load: one of them may be a
        # stored agent's AgentComplete, newer than the snapshot that puts them on the call.
        self._held: deque[MemberEvent] = deque(maxlen=_HELD_EVENTS)
        # Wrap-up holds and releases sent to Asterisk, one after the other per agent.
        self._member_tasks = BackgroundTasks("agents")
        self._member_locks: dict[str, asyncio.Lock] = {}
        self._last_member_task: dict[str, asyncio.Task[None]] = {}
        # username -> the call whose disposition was saved before its AgentComplete arrived
        # (the tracker's end of the call may come first): its wrap-up ends as it begins.
        self._done_early: dict[str, str] = {}
        # Whether this process sends the wrap-up holds and releases: the leader, when several
        # processes share the desk (each would send them otherwise); always with one.
        self.leads: Callable[[], bool] = lambda: True

    # -- queries -----------------------------------------------------------------------------

    @property
    def queues(self) -> tuple[str, ...]:
        return self._queues

    @property
    def pause_reasons(self) -> tuple[str, ...]:
        return tuple(self._settings.pause_reasons)

    @property
    def wrapup_max_seconds(self) -> float:
        """After this long in wrap-up the supervisor board flags the agent."""
        return self._settings.wrapup_max_seconds

    def status(self, username: str) -> AgentStatus | None:
        return self._by_user.get(username)

    def require(self, username: str) -> AgentStatus:
        status = self._by_user.get(username)
        if status is None:
            raise NotSignedIn("sign in with your extension first")
        return status

    def by_interface(self, interface: str) -> AgentStatus | None:
        for status in self._by_user.values():
            if status.interface == interface:
                return status
        return None

    def agents(self) -> list[AgentStatus]:
        return sorted(self._by_user.values(), key=lambda s: s.username)

    # -- use cases ---------------------------------------------------------------------------

    async def sign_in(
        self, user_id: int, username: str, extension: str, *, session_bound: bool = False
    ) -> AgentStatus:
        """Add the agent's phone to their queues; signing in again moves them to ``extension``.

        ``session_bound``: signed in from a console session, and signed out when it ends.
        """
        interface = interface_for(self._settings.interface, extension)
        holder = self.by_interface(interface)
        if holder is not None and holder.username != username:
            raise ExtensionInUse(f"extension {extension} is signed in by another agent")
        current = self._by_user.get(username)
        if current is not None and current.interface != interface:
            await self.sign_out(username)
        status = self._by_user.get(username) or AgentStatus(
            user_id=user_id,
            username=username,
            extension=extension.strip(),
            interface=interface,
            since=self._clock(),
        )
        if username not in self._by_user:
            self._member_of[username] = await self._lookup_queues(user_id)
        try:
            await self._add_to_queues(status)
            await self._save(status, session_bound)
        except (TelephonyUnavailable, StorageUnavailable):
            # Half signed in would ring a phone whose desk shows nothing (or one a restart
            # forgets): undo what was done.
            if username not in self._by_user:
                await self._remove_quietly(status)
                self._member_of.pop(username, None)
            raise
        self._by_user[username] = status
        status.signed_in, status.session_bound = True, session_bound
        status.queues.update(self._queues_of(username))
        _LOG.info("agent %s signed in on %s", username, interface)
        self._notifier.state_changed(status)
        self._announce_sign_in(status)
        return status

    def _announce_sign_in(self, status: AgentStatus) -> None:
        self._notifier.desk_changed(
            DeskChange.SIGNED_IN,
            status.username,
            user_id=status.user_id,
            data={
                "extension": status.extension,
                "interface": status.interface,
                "queues": list(self._queues_of(status.username)),
                "paused": status.paused,
                "pause_reason": status.pause_reason,
                "session_bound": status.session_bound,
            },
        )

    async def sign_out(self, username: str) -> None:
        status = self.require(username)
        if self._store is not None:
            await self._store.remove(status.user_id)
        for queue in self._queues_of(username):
            await self._member_action(
                {"Action": "QueueRemove", "Queue": queue, "Interface": status.interface},
                tolerate=_NOT_THERE,
            )
        self._forget(status)
        self._notifier.desk_changed(DeskChange.SIGNED_OUT, username, user_id=status.user_id)

    def _forget(self, status: AgentStatus) -> None:
        """The agent is signed out here (Asterisk and the database are done with)."""
        username = status.username
        del self._by_user[username]
        self._member_of.pop(username, None)
        self._cancel_wrapup(username)
        self._done_early.pop(username, None)
        status.held = False
        status.signed_in = False
        status.queues.clear()
        status.since = self._clock()
        _LOG.info("agent %s signed out from %s", username, status.interface)
        self._notifier.state_changed(status)

    async def pause(self, username: str, reason: str) -> AgentStatus:
        if reason not in self._settings.pause_reasons:
            raise ValidationFailed(
                "reason", f"choose one of: {', '.join(self._settings.pause_reasons)}"
            )
        status = self.require(username)
        await self._pause_action(status, paused=True, reason=reason)
        # Asterisk confirms with QueueMemberPause; the state is set now so the desk answer is
        # already right, and the event (applied later) changes nothing.
        self._apply_pause(status, True, reason)
        await self._save_pause(status)
        self._announce_pause(status)
        return status

    async def resume(self, username: str) -> AgentStatus:
        status = self.require(username)
        # During wrap-up the phone stays out of the queues: the agent is ready once it ends.
        await self._pause_action(
            status, paused=status.held, reason=WRAPUP_HOLD_REASON if status.held else ""
        )
        self._apply_pause(status, False, "")
        await self._save_pause(status)
        self._announce_pause(status)
        return status

    def _announce_pause(self, status: AgentStatus) -> None:
        self._notifier.desk_changed(
            DeskChange.PAUSE,
            status.username,
            user_id=status.user_id,
            data={"paused": status.paused, "reason": status.pause_reason},
        )

    def wrap_up_done(self, username: str, linkedid: str) -> None:
        """The agent saved the call's disposition: wrap-up ends now.

        A phone held for wrap-up is released in the background (:meth:`settled` waits for it):
        back in the queues, or paused with the agent's own reason if they paused meanwhile.
        """
        self._end_wrap_up(username, linkedid)
        status = self._by_user.get(username)
        self._notifier.desk_changed(
            DeskChange.WRAP_UP_DONE,
            username,
            user_id=status.user_id if status is not None else None,
            linkedid=linkedid,
        )

    def _end_wrap_up(self, username: str, linkedid: str) -> None:
        status = self._by_user.get(username)
        if status is not None and status.state is not AgentState.WRAP_UP:
            self._done_early[username] = linkedid
        if status is not None and end_wrap_up(status, linkedid, self._clock()):
            self._cancel_wrapup(username)
            if status.held:
                status.held = False
                if self.leads():
                    self._member_task(status, self._release(status))
            self._notifier.state_changed(status)

    async def settled(self, username: str, within: float = 5.0) -> None:
        """Wait (up to ``within`` s) for the agent's wrap-up hold or release to reach Asterisk."""
        task = self._last_member_task.get(username)
        if task is not None and not task.done():
            await asyncio.wait((task,), timeout=within)

    async def stop(self) -> None:
        await self._member_tasks.wait(within=2.0)

    # -- changes made in another process (from bus_consume) ----------------------------------

    def apply_change(self, change: DeskChanged) -> None:
        """Apply what another process did at an agent's desk; Asterisk is not touched (that
        process did it) and the database neither. Idempotent; this process's own are skipped."""
        if self._notifier.is_own(change):
            return
        kind, username = change.kind, change.username
        status = self._by_user.get(username)
        if kind is DeskChange.SIGNED_IN and change.user_id is not None:
            self._apply_sign_in(change.user_id, username, change.data)
        elif kind is DeskChange.SIGNED_OUT and status is not None:
            self._forget(status)
        elif kind is DeskChange.PAUSE and status is not None:
            paused = bool(change.data.get("paused"))
            reason = str(change.data.get("reason") or "") if paused else ""
            if (status.paused, status.pause_reason) != (paused, reason):
                self._apply_pause(status, paused, reason)
        elif kind is DeskChange.WRAP_UP_DONE:
            self._end_wrap_up(username, change.linkedid)

    def _apply_sign_in(self, user_id: int, username: str, data: dict[str, object]) -> None:
        interface = str(data.get("interface") or "")
        holder = self.by_interface(interface)
        if holder is not None and holder.username != username:
            self._forget(holder)  # the phone is this agent's now (the store keeps one per phone)
        current = self._by_user.get(username)
        if current is not None and current.interface != interface:
            self._forget(current)
            current = None
        queues = data.get("queues")
        self._member_of[username] = (
            tuple(str(q) for q in queues) if isinstance(queues, list) else self._queues
        )
        status = current or AgentStatus(
            user_id=user_id,
            username=username,
            extension=str(data.get("extension") or ""),
            interface=interface,
            paused=bool(data.get("paused")),
            pause_reason=str(data.get("pause_reason") or ""),
            since=self._clock(),
        )
        if current is not None and status.session_bound == bool(data.get("session_bound")):
            return  # known already (its queues noted above; Asterisk's events move it)
        self._by_user[username] = status
        status.signed_in, status.session_bound = True, bool(data.get("session_bound"))
        status.queues.update(self._queues_of(username))
        _LOG.info("agent %s signed in on %s (at another server process)", username, interface)
        self._notifier.state_changed(status)

    # -- events (from bus_consume) -----------------------------------------------------------

    def on_member_event(self, event: MemberEvent) -> None:
        status = self.by_interface(event.interface)
        if status is None:
            if not self._loaded:
                self._held.append(event)
            return
        if apply_event(status, event):
            _LOG.info(
                "agent %s is %s linkedid=%s",
                status.username,
                status.state.value,
                status.linkedid or "-",
            )
            self._notifier.state_changed(status)
        if status.linkedid and status.state is AgentState.WRAP_UP:
            self._enter_wrapup(status)

    async def restore_memberships(self, snapshot: AmiSnapshot) -> None:
        """After an AMI (re)connect: agents' calls from ``snapshot``, then their queues again.

        The first time, the agents stored in the database (signed in before the server
        started) join them, already on the call the snapshot shows.
        """
        restored: list[AgentStatus] = []
        if not self._loaded:
            restored = await self._load_stored()
        self._follow_snapshot(snapshot, restored)
        for status in list(self._by_user.values()):
            try:
                await self._add_to_queues(status)
                if status.paused or status.held:
                    await self._pause_action(status, paused=True, reason=_asterisk_reason(status))
            except TelephonyUnavailable as exc:
                _LOG.warning("could not restore agent %s: %s", status.username, exc.message)
                return
            _LOG.info(
                "agent %s restored in %s",
                status.username,
                ", ".join(self._queues_of(status.username)),
            )

    async def refresh_memberships(self) -> None:
        """The queues changed (kept in the database): every signed-in agent joins the queues
        they answer now and leaves the others; callers waiting are not disturbed."""
        for status in list(self._by_user.values()):
            before = self._queues_of(status.username)
            after = await self._lookup_queues(status.user_id)
            self._member_of[status.username] = after
            try:
                await self._add_to_queues(status)
                if status.paused or status.held:
                    await self._pause_action(status, paused=True, reason=_asterisk_reason(status))
                for queue in sorted(set(before) - set(after)):
                    await self._member_action(
                        {"Action": "QueueRemove", "Queue": queue, "Interface": status.interface},
                        tolerate=_NOT_THERE,
                    )
                await self._save(status, status.session_bound)
            except (TelephonyUnavailable, StorageUnavailable) as exc:
                _LOG.warning("agent %s keeps their queues: %s", status.username, exc.message)
                continue
            if set(before) != set(after):
                _LOG.info("agent %s now answers %s", status.username, ", ".join(after))
                self._notifier.state_changed(status)
                self._announce_sign_in(status)  # the other processes restore these queues

    def _queues_of(self, username: str) -> tuple[str, ...]:
        return self._member_of.get(username, self._queues)

    async def _lookup_queues(self, user_id: int) -> tuple[str, ...]:
        if self._queues_for is None:
            return self._queues
        try:
            found = await self._queues_for(user_id)
        except StorageUnavailable:
            _LOG.warning("queues of user %s not read: the database is away; all queues", user_id)
            return self._queues
        return self._queues if found is None else found

    # -- storage -----------------------------------------------------------------------------

    def _follow_snapshot(self, snapshot: AmiSnapshot, restored: list[AgentStatus]) -> None:
        """Each agent's call as the snapshot has it; the agents in ``restored`` are announced."""
        if snapshot.queues:  # without QueueStatus rows nothing is known about the members
            members = member_calls(snapshot)
            for status in self._by_user.values():
                if follow_snapshot(status, members.get(status.interface), snapshot.taken_at):
                    _LOG.info(
                        "agent %s is %s after the resync linkedid=%s",
                        status.username,
                        status.state.value,
                        status.linkedid or "-",
                    )
                    if status not in restored:
                        self._notifier.state_changed(status)
                if status.linkedid and status.state is AgentState.WRAP_UP:
                    self._enter_wrapup(status)
        for status in restored:
            self._notifier.state_changed(status)
        held, self._held = self._held, deque(maxlen=_HELD_EVENTS)
        for event in held:
            if event.received_at > snapshot.taken_at:
                self.on_member_event(event)

    async def _load_stored(self) -> list[AgentStatus]:
        """The agents stored in the database, now signed in here (not announced yet)."""
        assert self._store is not None
        try:
            stored = await self._store.all()
        except StorageUnavailable:
            _LOG.warning("signed-in agents not restored: the database is away; next resync")
            return []
        self._loaded = True
        taken = {s.interface for s in self._by_user.values()}
        restored: list[AgentStatus] = []
        for row in stored:
            if row.username in self._by_user or row.interface in taken:
                continue  # signed in again meanwhile: this sign-in is the newer one
            self._member_of[row.username] = tuple(row.queues)
            self._by_user[row.username] = AgentStatus(
                user_id=row.user_id,
                username=row.username,
                extension=row.extension,
                interface=row.interface,
                queues=set(self._queues_of(row.username)),
                paused=row.paused,
                pause_reason=row.pause_reason,
                since=self._clock(),
                session_bound=row.session_bound,
            )
            _LOG.info("agent %s restored from the database on %s", row.username, row.interface)
            restored.append(self._by_user[row.username])
        return restored

    async def _save(self, status: AgentStatus, session_bound: bool) -> None:
        if self._store is None:
            return
        await self._store.save(
            SignedIn(
                user_id=status.user_id,
                username=status.username,
                extension=status.extension,
                interface=status.interface,
                queues=self._queues_of(status.username),
                paused=status.paused,
                pause_reason=status.pause_reason,
                session_bound=session_bound,
            )
        )

    async def _save_pause(self, status: AgentStatus) -> None:
        if self._store is None:
            return
        try:
            await self._store.set_pause(status.user_id, status.paused, status.pause_reason)
        except StorageUnavailable:
            # Asterisk has the pause and the desk shows it; only a restart would miss it.
            _LOG.warning("pause of agent %s not stored: the database is away", status.username)

    # -- AMI ---------------------------------------------------------------------------------

    async def _add_to_queues(self, status: AgentStatus) -> None:
        for queue in self._queues_of(status.username):
            headers: dict[str, ActionValue] = {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": status.interface,
                "MemberName": status.username,
                "Paused": "true" if status.paused or status.held else "false",
            }
            if status.interface.startswith("PJSIP/"):
                # Ring state of a real phone comes from its device (busy on a direct call too).
                headers["StateInterface"] = status.interface
            await self._member_action(headers, tolerate=_ALREADY_THERE)

    async def _remove_quietly(self, status: AgentStatus) -> None:
        for queue in self._queues_of(status.username):
            try:
                await self._member_action(
                    {"Action": "QueueRemove", "Queue": queue, "Interface": status.interface},
                    tolerate=_NOT_THERE,
                )
            except TelephonyUnavailable:
                return  # the link is down: Asterisk will not ring it for us anyway

    async def _pause_action(self, status: AgentStatus, *, paused: bool, reason: str) -> None:
        headers: dict[str, ActionValue] = {
            "Action": "QueuePause",
            "Interface": status.interface,
            "Paused": "true" if paused else "false",
        }
        if reason:
            headers["Reason"] = reason
        await self._member_action(headers, tolerate=None)

    def _apply_pause(self, status: AgentStatus, paused: bool, reason: str) -> None:
        before = status.state
        status.paused, status.pause_reason = paused, reason
        if status.state is not before:
            status.since = self._clock()
        self._notifier.state_changed(status)

    async def _member_action(
        self, headers: dict[str, ActionValue], *, tolerate: str | None
    ) -> None:
        try:
            await self._ami.send_action(headers)
        except AmiActionError as exc:
            if tolerate and tolerate in exc.message.lower():
                return
            raise TelephonyUnavailable(
                f"Asterisk refused {headers['Action']}: {exc.message}"
            ) from exc
        except AmiNotConnected as exc:
            raise TelephonyUnavailable("the phone system is not connected; try again") from exc
        except (AmiTimeout, AmiError) as exc:
            raise TelephonyUnavailable("the phone system did not answer; try again") from exc

    # -- wrap-up -----------------------------------------------------------------------------

    def _enter_wrapup(self, status: AgentStatus) -> None:
        """The agent's call ended: wrap-up until the disposition (held out of the queues), or
        on the old timer when ``wrapup_until_disposition`` is off."""
        if self._done_early.get(status.username) == status.linkedid:
            del self._done_early[status.username]
            if end_wrap_up(status, status.linkedid, self._clock()):
                self._notifier.state_changed(status)
            return
        if not self._settings.wrapup_until_disposition:
            self._schedule_wrapup_end(status)
            return
        if status.held:
            return
        status.held = True
        if self.leads():
            self._member_task(status, self._hold(status))

    def _member_task(self, status: AgentStatus, work: Awaitable[None]) -> None:
        username = status.username
        lock = self._member_locks.setdefault(username, asyncio.Lock())

        async def in_turn() -> None:
            async with lock:
                await work

        self._last_member_task[username] = self._member_tasks.spawn(in_turn(), "wrap-up")

    async def _hold(self, status: AgentStatus) -> None:
        if not status.held or status.paused:
            return  # released already, or paused by the agent (Asterisk offers nothing then)
        try:
            await self._pause_action(status, paused=True, reason=WRAPUP_HOLD_REASON)
        except TelephonyUnavailable as exc:
            # The link is down; the restore after the reconnect pauses the phone again.
            _LOG.warning("wrap-up hold of agent %s not sent: %s", status.username, exc.message)

    async def _release(self, status: AgentStatus) -> None:
        if status.held or status.username not in self._by_user:
            return  # a new wrap-up began meanwhile, or the agent signed out
        try:
            await self._pause_action(
                status, paused=status.paused, reason=status.pause_reason if status.paused else ""
            )
        except TelephonyUnavailable as exc:
            _LOG.warning("wrap-up release of agent %s not sent: %s", status.username, exc.message)

    def _schedule_wrapup_end(self, status: AgentStatus) -> None:
        username, linkedid = status.username, status.linkedid
        pending = self._wrapups.get(username)
        if pending is not None and pending[0] == linkedid:
            return
        self._cancel_wrapup(username)
        handle = asyncio.get_running_loop().call_later(
            self._settings.wrapup_seconds, self._wrapup_expired, username, linkedid
        )
        self._wrapups[username] = (linkedid, handle)

    def _wrapup_expired(self, username: str, linkedid: str) -> None:
        # Every process runs this timer for its own state: nothing to announce.
        self._wrapups.pop(username, None)
        self._end_wrap_up(username, linkedid)

    def _cancel_wrapup(self, username: str) -> None:
        pending = self._wrapups.pop(username, None)
        if pending is not None:
            pending[1].cancel()


def _asterisk_reason(status: AgentStatus) -> str:
    """Why Asterisk should have the phone paused: the agent's pause, else the wrap-up hold."""
    return status.pause_reason if status.paused else WRAPUP_HOLD_REASON
