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

The parts: ``roster.py`` who is signed in here, ``desk_apply.py`` the other processes' changes,
``wrapup.py`` the wrap-up hold and timer, ``member_actions.py`` the AMI queue-member actions.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from callcenter.agents.desk_apply import DeskApply
from callcenter.agents.errors import ExtensionInUse, NotSignedIn, TelephonyUnavailable
from callcenter.agents.member_actions import QueueMembers, asterisk_reason
from callcenter.agents.member_events import MemberEvent, member_calls
from callcenter.agents.notifier import AgentNotifier, DeskChange, DeskChanged
from callcenter.agents.roster import Roster
from callcenter.agents.state import (
    WRAPUP_HOLD_REASON,
    AgentState,
    AgentStatus,
    apply_event,
    follow_snapshot,
    interface_for,
)
from callcenter.agents.wrapup import WrapUps
from callcenter.ami.bridge import AmiBridge
from callcenter.ami.events import AmiSnapshot
from callcenter.settings import AgentsSettings
from hcrm_core.errors import StorageUnavailable, ValidationFailed
from hcrm_core.services.agent_sign_ins import AgentSignIns, SignedIn

_LOG = logging.getLogger(__name__)

Clock = Callable[[], float]
# The queues an agent answers (by user id), from the queues kept in the database; None when
# the site keeps none there (then every agent joins every configured queue, as before).
QueueLookup = Callable[[int], Awaitable[tuple[str, ...] | None]]
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
        self._store = store
        self._loaded = store is None
        self._settings = settings
        self._queues = tuple(settings.queues) or tuple(queues)
        self._queues_for = None if settings.queues else queues_for
        self._notifier = notifier
        self._clock = clock
        self._members = QueueMembers(ami)
        self._wrapups = WrapUps(
            settings,
            self._members,
            notifier,
            clock,
            leads=lambda: self.leads(),
            status_of=lambda username: self._roster.get(username),
        )
        self._roster = Roster(self._queues, notifier, self._wrapups, clock)
        self._desk_apply = DeskApply(self._roster, self._wrapups, notifier, clock)
        # Events of phones not known yet while the stored agents load: one of them may be a
        # stored agent's AgentComplete, newer than the snapshot that puts them on the call.
        self._held: deque[MemberEvent] = deque(maxlen=_HELD_EVENTS)
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
        return self._roster.get(username)

    def require(self, username: str) -> AgentStatus:
        status = self._roster.get(username)
        if status is None:
            raise NotSignedIn("sign in with your extension first")
        return status

    def by_interface(self, interface: str) -> AgentStatus | None:
        return self._roster.by_interface(interface)

    def agents(self) -> list[AgentStatus]:
        return sorted(self._roster.all(), key=lambda s: s.username)

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
        current = self._roster.get(username)
        if current is not None and current.interface != interface:
            await self.sign_out(username)
        status = self._roster.get(username) or AgentStatus(
            user_id=user_id,
            username=username,
            extension=extension.strip(),
            interface=interface,
            since=self._clock(),
        )
        if username not in self._roster:
            self._roster.set_queues(username, await self._lookup_queues(user_id))
        try:
            await self._members.add(status, self._roster.queues_of(username))
            await self._save(status, session_bound)
        except (TelephonyUnavailable, StorageUnavailable):
            # Half signed in would ring a phone whose desk shows nothing (or one a restart
            # forgets): undo what was done.
            if username not in self._roster:
                await self._members.remove_quietly(status, self._roster.queues_of(username))
                self._roster.drop_queues(username)
            raise
        self._roster.add(status, session_bound=session_bound)
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
                "queues": list(self._roster.queues_of(status.username)),
                "paused": status.paused,
                "pause_reason": status.pause_reason,
                "session_bound": status.session_bound,
            },
        )

    async def sign_out(self, username: str) -> None:
        status = self.require(username)
        if self._store is not None:
            await self._store.remove(status.user_id)
        await self._members.remove(status, self._roster.queues_of(username))
        self._roster.forget(status)
        self._notifier.desk_changed(DeskChange.SIGNED_OUT, username, user_id=status.user_id)

    async def pause(self, username: str, reason: str) -> AgentStatus:
        if reason not in self._settings.pause_reasons:
            raise ValidationFailed(
                "reason", f"choose one of: {', '.join(self._settings.pause_reasons)}"
            )
        status = self.require(username)
        await self._members.pause(status, paused=True, reason=reason)
        # Asterisk confirms with QueueMemberPause; the state is set now so the desk answer is
        # already right, and the event (applied later) changes nothing.
        self._roster.set_pause(status, True, reason)
        await self._save_pause(status)
        self._announce_pause(status)
        return status

    async def resume(self, username: str) -> AgentStatus:
        status = self.require(username)
        # During wrap-up the phone stays out of the queues: the agent is ready once it ends.
        await self._members.pause(
            status, paused=status.held, reason=WRAPUP_HOLD_REASON if status.held else ""
        )
        self._roster.set_pause(status, False, "")
        await self._save_pause(status)
        self._announce_pause(status)
        return status

    def _announce_pause(self, status: AgentStatus) -> None:
        self._notifier.desk_changed(
            DeskChange.PAUSE,
            status.username,
            user_id=status.user_id,
            data={"paused": status.paused, "reason": status.pause_reason, "at": status.pause_at},
        )

    def wrap_up_done(self, username: str, linkedid: str) -> None:
        """The agent saved the call's disposition: wrap-up ends now.

        A phone held for wrap-up is released in the background (:meth:`settled` waits for it):
        back in the queues, or paused with the agent's own reason if they paused meanwhile.
        """
        self._wrapups.end(username, linkedid)
        status = self._roster.get(username)
        self._notifier.desk_changed(
            DeskChange.WRAP_UP_DONE,
            username,
            user_id=status.user_id if status is not None else None,
            linkedid=linkedid,
        )

    async def settled(self, username: str, within: float = 5.0) -> None:
        """Wait (up to ``within`` s) for the agent's wrap-up hold or release to reach Asterisk."""
        await self._wrapups.settled(username, within)

    async def stop(self) -> None:
        await self._wrapups.stop()

    def apply_change(self, change: DeskChanged) -> None:
        """Apply what another process did at an agent's desk (from bus_consume); Asterisk is
        not touched (that process did it) and the database neither. Idempotent; this
        process's own are skipped. See :mod:`callcenter.agents.desk_apply`."""
        self._desk_apply.apply(change)

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
            self._wrapups.enter(status)

    async def restore_memberships(self, snapshot: AmiSnapshot) -> None:
        """After an AMI (re)connect: agents' calls from ``snapshot``, then their queues again.

        The first time, the agents stored in the database (signed in before the server
        started) join them, already on the call the snapshot shows.
        """
        restored: list[AgentStatus] = []
        if not self._loaded:
            restored = await self._load_stored()
        self._follow_snapshot(snapshot, restored)
        for status in self._roster.all():
            try:
                await self._rejoin(status)
            except TelephonyUnavailable as exc:
                _LOG.warning("could not restore agent %s: %s", status.username, exc.message)
                return
            _LOG.info(
                "agent %s restored in %s",
                status.username,
                ", ".join(self._roster.queues_of(status.username)),
            )

    async def refresh_memberships(self) -> None:
        """The queues changed (kept in the database): every signed-in agent joins the queues
        they answer now and leaves the others; callers waiting are not disturbed."""
        for status in self._roster.all():
            before = self._roster.queues_of(status.username)
            after = await self._lookup_queues(status.user_id)
            self._roster.set_queues(status.username, after)
            try:
                await self._rejoin(status)
                await self._members.remove(status, sorted(set(before) - set(after)))
                await self._save(status, status.session_bound)
            except (TelephonyUnavailable, StorageUnavailable) as exc:
                _LOG.warning("agent %s keeps their queues: %s", status.username, exc.message)
                continue
            if set(before) != set(after):
                _LOG.info("agent %s now answers %s", status.username, ", ".join(after))
                self._notifier.state_changed(status)
                self._announce_sign_in(status)  # the other processes restore these queues

    async def _rejoin(self, status: AgentStatus) -> None:
        """Put the phone in its queues again, paused as the agent is (or held for wrap-up)."""
        await self._members.add(status, self._roster.queues_of(status.username))
        if status.paused or status.held:
            await self._members.pause(status, paused=True, reason=asterisk_reason(status))

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
            for status in self._roster.all():
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
                    self._wrapups.enter(status)
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
        taken = {s.interface for s in self._roster.all()}
        restored: list[AgentStatus] = []
        for row in stored:
            if row.username in self._roster or row.interface in taken:
                continue  # signed in again meanwhile: this sign-in is the newer one
            self._roster.set_queues(row.username, tuple(row.queues))
            status = AgentStatus(
                user_id=row.user_id,
                username=row.username,
                extension=row.extension,
                interface=row.interface,
                paused=row.paused,
                pause_reason=row.pause_reason,
                since=self._clock(),
            )
            self._roster.add(status, session_bound=row.session_bound)
            _LOG.info("agent %s restored from the database on %s", row.username, row.interface)
            restored.append(status)
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
                queues=self._roster.queues_of(status.username),
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
