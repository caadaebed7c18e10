"""Call control at the agent's desk: hang up, hold and resume, blind transfer, recording.

Everything goes over AMI, on the channels Asterisk reports for the agent's current call
(``CoreShowChannels``, read at the moment of the action, so a channel renamed by a transfer
or a masquerade is found as it is now):

- the agent's leg is the channel of the call whose name starts with the agent's interface
  (``PJSIP/1001-0000002a``, or ``Local/1001@sim-agents-0000000e;1``); the caller is the
  channel bridged with it;
- hold moves both out of their bridge with one ``Redirect`` (``ExtraChannel``): the caller to
  music on hold, the agent's leg to a silent wait that ends when the caller hangs up;
  resume puts them in a new bridge (``Bridge``, the agent's leg first). The queue lets go
  of the call then, and the ``AgentComplete`` it may send is not the call's end
  (:meth:`CallControl.keeps_call`);
- a blind transfer is ``BlindTransfer`` on the agent's leg: the caller (the same channel,
  so the same Linkedid, the same recording and the same call record) goes to a queue, to an
  agent's phone or to an outside number; Asterisk's ``BlindTransfer`` event counts it in the
  call record, and the queue's ``AgentCalled`` pops the call on the next agent's desk.

A transfer to an agent (blind, attended, a conference) is followed by every server process
(:mod:`callcenter.agents.transfer_follow`): the process that starts it announces it
(``DeskChange.TRANSFER``), so the agent may complete or cancel it through any process.

A call that ended a moment ago, an agent who is paused, a number that cannot be dialled, a
call that is a conference (no hold, transfer or conference from its room, for anyone in it:
seen in the same channel listing, a channel of the call in ``ConfBridge``): each is a typed
error with a message for the desk, and nothing is sent to Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from callcenter.agents.dial import dial_number
from callcenter.agents.errors import (
    AgentError,
    CallGone,
    InvalidNumber,
    NotOnCall,
    TelephonyUnavailable,
    TransferTargetInvalid,
)
from callcenter.agents.member_events import MemberEvent, MemberEventKind
from callcenter.agents.notifier import AgentNotifier, DeskChange, DeskChanged
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.agents.shared_marks import SharedMarks
from callcenter.agents.state import AgentState, AgentStatus
from callcenter.agents.transfer_follow import Followed, TransferFollower
from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiActionError, AmiError
from callcenter.ami.events import AmiEvent
from callcenter.ami.protocol import ActionValue
from callcenter.asterisk import const
from hcrm_core.actors import Actor

_LOG = logging.getLogger(__name__)

TRANSFER_KINDS = ("queue", "agent", "number")
CONSULT_KINDS = ("agent", "number")
CANCEL_SETTLE = 2.0  # seconds
BRIDGE_ATTEMPTS = 5
WERE_HELD_KEPT = 1000  # calls
CONFERENCE_REFUSED = (
    "the call is a conference: transfers and hold are not available; "
    "leave the conference (hang up) to hand the call to the others"
)
# Asterisk's answer to an action on a channel that hung up a moment ago.
_GONE = ("no such channel", "not found", "does not exist", "not up")


class RecordingControl(Protocol):
    """What call control needs of the recording slice (handed over by the composition root)."""

    async def set_paused(self, linkedid: str, *, paused: bool, actor: Actor) -> object: ...

    async def live_state(self, linkedid: str) -> RecordingState | None: ...


class RecordingState(Protocol):
    @property
    def policy(self) -> str: ...

    @property
    def paused(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CallLegs:
    """The agent's current call as Asterisk has it now."""

    linkedid: str
    agent: str  # the agent's leg
    caller: str  # the channel bridged with it (the caller)


@dataclass(frozen=True, slots=True)
class Held:
    legs: CallLegs
    since: float


@dataclass(frozen=True, slots=True)
class TransferDone:
    linkedid: str
    kind: str
    target: str


class CallControl:
    """The desk's call buttons; one instance per server."""

    def __init__(
        self,
        ami: AmiBridge,
        agents: AgentService,
        pops: ScreenPops,
        follower: TransferFollower,
        *,
        phone_region: str,
        notifier: AgentNotifier,
    ) -> None:
        self._ami = ami
        self._agents = agents
        self._pops = pops
        self._follower = follower
        self._region = phone_region
        # username -> the call on hold; username -> the call they made a conference. Known on
        # every process: the agent's next click may reach another one.
        self._held = SharedMarks(DeskChange.CALL_HELD, notifier, _held_data, _held_of)
        self._conferences = SharedMarks(
            DeskChange.CONFERENCE, notifier, lambda linkedid: {"linkedid": linkedid}, _linkedid
        )
        # linkedid -> when a cancelled consultation is gone (wall clock: known on every process).
        self._settled_at: dict[str, float] = {}
        self._notifier = notifier
        # linkedid -> the agent legs ever put on hold in that call (the latest calls only):
        # Asterisk's queue lets go of such a call (see keeps_call).
        self._were_held: dict[str, set[str]] = {}
        # Set by the composition root once the recording slice runs (None: no recordings).
        self.recording: RecordingControl | None = None

    async def stop(self) -> None:
        await self._follower.stop()

    def apply_change(self, change: DeskChanged) -> None:
        """Another process put a call on hold (or took it off), made a conference, or started
        (or cancelled) a transfer."""
        self._held.apply(change)
        self._conferences.apply(change)
        mark = change.data.get("mark") if change.kind is DeskChange.CALL_HELD else None
        if isinstance(mark, dict):
            self._remember_held(str(mark.get("linkedid")), str(mark.get("agent")))
        if change.kind is DeskChange.TRANSFER and not self._notifier.is_own(change):
            followed = change.data.get("followed")
            if isinstance(followed, dict):
                self._follower.adopt(Followed.from_dict(followed))
            else:
                self._follower.forget(change.linkedid)
            settled = change.data.get("settled_at")
            if isinstance(settled, (int, float)):
                self._settle_after(change.linkedid, float(settled))

    # -- queries -----------------------------------------------------------------------------

    def held(self, username: str) -> Held | None:
        return self._held.get(username)

    def keeps_call(self, event: MemberEvent) -> bool:
        """True for an ``AgentComplete`` that does not end the agent's call: one for a call
        whose agent leg was put on hold. Resume's ``Bridge`` takes the legs out of the hold
        context by masquerading them, and the queue takes the leg's leftover (hung up) for
        the agent leaving the call: it logs COMPLETEAGENT and lets go of the call. Its
        ``AgentComplete`` is usually dropped by Asterisk ("No agent event string"), but now
        and then sent, and the desk then ended a call still going on (2 resumes in 103 in
        the benchmark). The call's real end comes from the phone (not in use), as for any
        call the queue no longer follows."""
        if event.kind is not MemberEventKind.COMPLETE:
            return False
        prefix = event.interface + "-"
        return any(leg.startswith(prefix) for leg in self._were_held.get(event.linkedid, ()))

    def _remember_held(self, linkedid: str, agent: str) -> None:
        self._were_held.setdefault(linkedid, set()).add(agent)
        while len(self._were_held) > WERE_HELD_KEPT:
            del self._were_held[next(iter(self._were_held))]

    # -- use cases ---------------------------------------------------------------------------

    async def hang_up(self, username: str) -> str:
        """End the agent's call for everyone on it; returns its Linkedid."""
        legs = await self._legs(username, need_caller=False)
        self._held.pop(username, None)
        await self._action({"Action": "Hangup", "Channel": legs.agent}, legs.linkedid)
        if self._conferences.pop(username, None) == legs.linkedid:
            # In a conference, hanging up leaves it: the caller and the other party go on.
            _LOG.info("%s left the conference linkedid=%s", username, legs.linkedid)
            return legs.linkedid
        if legs.caller:
            # The caller too: one who left the queue's bridge (hold, resume) would otherwise go
            # on in the dialplan. Usually the bridge already took them down with the agent.
            with contextlib.suppress(CallGone):
                await self._action({"Action": "Hangup", "Channel": legs.caller}, legs.linkedid)
        _LOG.info("hang-up by %s linkedid=%s", username, legs.linkedid)
        return legs.linkedid

    async def hold(self, username: str) -> Held:
        """Music on hold for the caller; the agent's phone stays on the call, in silence."""
        if username in self._held:
            raise AgentError("the call is already on hold")
        legs = await self._legs(username, need_caller=True, changes_call=True)
        self._remember_held(legs.linkedid, legs.agent)  # before Asterisk can say anything
        await self._action(
            {
                "Action": "Setvar",
                "Channel": legs.agent,
                "Variable": "CALLCENTER_HELD",
                "Value": legs.caller,
            },
            legs.linkedid,
        )
        await self._action(
            {
                "Action": "Redirect",
                "Channel": legs.caller,
                "Context": const.CONTEXT_HOLD,
                "Exten": "caller",
                "Priority": "1",
                "ExtraChannel": legs.agent,
                "ExtraContext": const.CONTEXT_HOLD,
                "ExtraExten": "agent",
                "ExtraPriority": "1",
            },
            legs.linkedid,
        )
        held = Held(legs, time.time())
        self._held[username] = held
        self._pops.set_hold(username, legs.linkedid, held.since)
        _LOG.info("hold by %s linkedid=%s", username, legs.linkedid)
        return held

    async def resume(self, username: str) -> str:
        """Back to the caller: the two channels held are bridged again."""
        held = self._held.get(username)
        if held is None:
            raise AgentError("the call is not on hold")
        legs = held.legs
        try:
            await self._bridge(legs)
            # Cleared once bridged, so the agent's leg leaves the hold context's wait when this
            # bridge ends. Not before: the wait checks it every second, and seeing it cleared
            # before the Bridge took the leg out of the dialplan, it would hang the agent up.
            await self._action(
                {
                    "Action": "Setvar",
                    "Channel": legs.agent,
                    "Variable": "CALLCENTER_HELD",
                    "Value": "",
                },
                legs.linkedid,
            )
        except CallGone:
            self._held.pop(username, None)
            self._pops.set_hold(username, legs.linkedid, None)
            raise
        self._held.pop(username, None)
        self._pops.set_hold(username, legs.linkedid, None)
        _LOG.info("resume by %s linkedid=%s", username, legs.linkedid)
        return legs.linkedid

    async def _bridge(self, legs: CallLegs) -> None:
        # Right after the hold's Redirect a leg may still be leaving the queue's bridge, even
        # after the caller's music started (Asterisk: "Unable to add Channel2 to bridge"): try
        # again a moment later. The agent's leg goes first: when Channel2 cannot be added,
        # Asterisk dissolves the new bridge and Channel1, already in it, goes on in the
        # dialplan after the application it was taken from. For the agent's leg that is the
        # hold context's wait again (the marker is still set); the caller would go on from
        # MusicOnHold() to Hangup(), ending the call (2 resumes in 103 in the benchmark).
        for attempt in range(BRIDGE_ATTEMPTS):
            try:
                await self._action(
                    {
                        "Action": "Bridge",
                        "Channel1": legs.agent,
                        "Channel2": legs.caller,
                        "Tone": "no",
                    },
                    legs.linkedid,
                )
                return
            except TelephonyUnavailable as exc:
                if "unable to add" not in exc.message.lower() or attempt + 1 == BRIDGE_ATTEMPTS:
                    raise
                await asyncio.sleep(0.2)

    async def transfer(self, username: str, kind: str, target: str) -> TransferDone:
        """Blind transfer of the caller to a queue, an agent (username) or a number."""
        if kind not in TRANSFER_KINDS:
            raise TransferTargetInvalid("kind", f"choose one of: {', '.join(TRANSFER_KINDS)}")
        context, exten, variables, shown = self._destination(username, kind, target.strip())
        legs = await self._legs(username, need_caller=True, changes_call=True)
        queue = self._queue_of(username, legs)
        for name, value in {**variables, "CALLCENTER_QUEUE": queue}.items():
            await self._action(
                {"Action": "Setvar", "Channel": legs.caller, "Variable": name, "Value": value},
                legs.linkedid,
            )
        self._held.pop(username, None)
        if kind == "agent":
            other = self._agents.require(target.strip())
            self._follow(Followed(legs.linkedid, username, False, other.username, other.interface))
        try:
            await self._action(
                {
                    "Action": "BlindTransfer",
                    "Channel": legs.agent,
                    "Context": context,
                    "Exten": exten,
                },
                legs.linkedid,
            )
        except AgentError:
            if kind == "agent":
                self._unfollow(username, legs.linkedid)
            raise
        self._pops.transferred(username, legs.linkedid)
        _LOG.info("blind transfer by %s to %s %s linkedid=%s", username, kind, shown, legs.linkedid)
        return TransferDone(legs.linkedid, kind, shown)

    async def conference(self, username: str, kind: str, target: str) -> TransferDone:
        """Three-way call: the caller goes to a conference room (named by the call's Linkedid)
        and the agent's leg dials ``target`` (an agent or a number), then joins the room with
        them (alone, back with the caller, when nobody answers).

        The agent's leg dials rather than an AMI Originate: a channel that ``Dial`` creates
        inherits the dialling channel's Linkedid, so the third party belongs to the same call
        record (a ConfBridge room, unlike a two-party bridge, merges no Linkedids). An agent
        brought in is followed like a blind transfer's target: their desk pops the caller.
        """
        if kind not in CONSULT_KINDS:
            raise TransferTargetInvalid("kind", f"choose one of: {', '.join(CONSULT_KINDS)}")
        _, exten, _, shown = self._destination(username, kind, target.strip())
        legs = await self._legs(username, need_caller=True, changes_call=True)
        room = legs.linkedid
        other = self._agents.require(shown) if kind == "agent" else None
        invite = (
            other.interface if other is not None else f"Local/{exten}@{const.CONTEXT_OUTBOUND_DIAL}"
        )
        # The double underscore: the dialled party inherits the room from the agent's leg.
        for channel, name, value in (
            (legs.caller, "CALLCENTER_ROOM", room),
            (legs.agent, "__CALLCENTER_ROOM", room),
            (legs.agent, "CALLCENTER_INVITE", invite),
        ):
            await self._action(
                {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value},
                legs.linkedid,
            )
        if other is not None:
            self._follow(Followed(legs.linkedid, username, False, other.username, other.interface))
        try:
            await self._action(
                {
                    "Action": "Redirect",
                    "Channel": legs.caller,
                    "Context": const.CONTEXT_CONFERENCE,
                    "Exten": "s",
                    "Priority": "1",
                    "ExtraChannel": legs.agent,
                    "ExtraContext": const.CONTEXT_CONFERENCE,
                    "ExtraExten": "invite",
                    "ExtraPriority": "1",
                },
                legs.linkedid,
            )
        except AgentError:
            if other is not None:
                self._unfollow(username, legs.linkedid)
            raise
        self._held.pop(username, None)
        self._conferences[username] = legs.linkedid
        self._pops.set_consult(username, legs.linkedid, "conference", shown)
        _LOG.info("conference by %s with %s %s linkedid=%s", username, kind, shown, room)
        return TransferDone(legs.linkedid, kind, shown)

    async def consult(self, username: str, kind: str, target: str) -> TransferDone:
        """Attended transfer, first step: the caller hears music, the agent talks to ``target``.

        Then :meth:`complete_consult` hands the caller over, :meth:`cancel_consult` goes back.
        """
        if kind not in CONSULT_KINDS:
            raise TransferTargetInvalid("kind", f"choose one of: {', '.join(CONSULT_KINDS)}")
        _, exten, variables, shown = self._destination(username, kind, target.strip())
        legs = await self._legs(username, need_caller=True, changes_call=True)
        if self._follower.get(legs.linkedid) is not None:
            raise AgentError("a transfer of this call is already under way")
        settle = self._settled_at.pop(legs.linkedid, 0.0) - time.time()
        if settle > 0:
            await asyncio.sleep(min(settle, CANCEL_SETTLE))
        if kind == "agent":
            other = self._agents.require(shown)
            # Atxfer dials digits: the agent's extension; the consultation channel inherits
            # the interface to ring (the double underscore).
            context, exten = const.CONTEXT_CONSULT, other.extension
            followed = Followed(
                legs.linkedid, username, True, other.username, other.interface, shown=shown
            )
            variables = {"__CALLCENTER_TRANSFER_TO": other.interface}
        else:
            context, exten = const.CONTEXT_CONSULT_NUMBER, exten.lstrip("+")
            followed = Followed(legs.linkedid, username, True, shown=shown)
        for name, value in variables.items():
            await self._action(
                {"Action": "Setvar", "Channel": legs.agent, "Variable": name, "Value": value},
                legs.linkedid,
            )
        self._follow(followed)
        try:
            await self._action(
                {"Action": "Atxfer", "Channel": legs.agent, "Context": context, "Exten": exten},
                legs.linkedid,
            )
        except AgentError:
            self._unfollow(username, legs.linkedid)
            self._pops.set_consult(username, legs.linkedid, None)
            raise
        _LOG.info("consultation by %s with %s %s linkedid=%s", username, kind, shown, legs.linkedid)
        return TransferDone(legs.linkedid, kind, shown)

    async def complete_consult(self, username: str) -> str:
        """Attended transfer, done: the agent leaves, the caller and the consulted party talk."""
        status = self._current(username)
        followed = self._follower.get(status.linkedid)
        if followed is None or followed.from_user != username:
            raise self._no_consult(username, status.linkedid)
        legs = await self._legs(username, need_caller=False)
        # With a consultation going on, the transferer hanging up completes the transfer.
        await self._action({"Action": "Hangup", "Channel": legs.agent}, legs.linkedid)
        return legs.linkedid

    async def cancel_consult(self, username: str) -> str:
        """Attended transfer, abandoned: the consulted party is hung up, back to the caller."""
        status = self._current(username)
        followed = self._follower.get(status.linkedid)
        if followed is None or followed.from_user != username:
            raise self._no_consult(username, status.linkedid)
        legs = await self._legs(username, need_caller=False)
        # Asterisk drops an Atxfer that arrives while the cancelled one is being taken down:
        # the next consultation of this call (through any process) waits that moment out.
        self._unfollow(username, status.linkedid, settle=CANCEL_SETTLE)
        await self._action({"Action": "CancelAtxfer", "Channel": legs.agent}, legs.linkedid)
        self._pops.set_consult(username, legs.linkedid, None)
        return legs.linkedid

    def _no_consult(self, username: str, linkedid: str) -> AgentError:
        pop = self._pops.find(username, linkedid)
        if pop is not None and pop.consult and pop.consult.get("state") == "hung_up":
            return CallGone(
                "the person you consulted hung up: you are back with the caller; "
                "transfer again or go on with the call"
            )
        return AgentError("no consultation is going on for this call")

    async def recording_state(self, username: str) -> dict[str, object] | None:
        """The current call's recording for the desk's button (None: not recorded)."""
        status = self._current(username)
        if self.recording is None:
            return None
        live = await self.recording.live_state(status.linkedid)
        if live is None:
            return None
        return {"linkedid": status.linkedid, "policy": live.policy, "paused": live.paused}

    async def set_recording(
        self, username: str, *, paused: bool, actor: Actor
    ) -> tuple[str, object]:
        """Pause or resume (an on-demand recording: start) the current call's recording."""
        status = self._current(username)
        if self.recording is None:
            raise AgentError("recordings are not enabled on this server")
        return status.linkedid, await self.recording.set_paused(
            status.linkedid, paused=paused, actor=actor
        )

    # -- helpers -----------------------------------------------------------------------------

    def _follow(self, followed: Followed) -> None:
        """Follow a transfer this process starts, and tell the others (before Asterisk acts:
        what it reports reaches every process, which must know what it is)."""
        followed.started_at = time.time()
        self._follower.follow(followed)
        self._notifier.desk_changed(
            DeskChange.TRANSFER,
            followed.from_user,
            linkedid=followed.linkedid,
            data={"followed": followed.to_dict()},
        )

    def _unfollow(self, username: str, linkedid: str, *, settle: float = 0.0) -> None:
        """The desk ended the transfer (cancelled, or Asterisk refused it): on every process.
        ``settle``: seconds the next consultation of this call must wait."""
        self._follower.forget(linkedid)
        data: dict[str, object] = {"followed": None}
        if settle > 0:
            settled_at = time.time() + settle
            self._settle_after(linkedid, settled_at)
            data["settled_at"] = settled_at
        self._notifier.desk_changed(DeskChange.TRANSFER, username, linkedid=linkedid, data=data)

    def _settle_after(self, linkedid: str, at: float) -> None:
        self._settled_at[linkedid] = at
        if len(self._settled_at) > WERE_HELD_KEPT:  # calls never consulted again
            now = time.time()
            for key in [k for k, until in self._settled_at.items() if until < now]:
                del self._settled_at[key]

    def _destination(
        self, username: str, kind: str, target: str
    ) -> tuple[str, str, dict[str, str], str]:
        if not target:
            raise TransferTargetInvalid("target", "is required")
        if kind == "queue":
            if target not in self._agents.queues:
                raise TransferTargetInvalid(
                    "target", f"no queue named {target!r}; choose one of the list"
                )
            return const.CONTEXT_QUEUES, target, {}, target
        if kind == "number":
            try:
                number = dial_number(target, self._region)
            except InvalidNumber as exc:
                reason = exc.message.removeprefix("number: ")
                raise TransferTargetInvalid(
                    "target", f"{target} cannot be dialled ({reason})"
                ) from exc
            return const.CONTEXT_TRANSFER, number, {}, number
        other = self._agents.status(target)
        if other is None or other.username == username:
            raise TransferTargetInvalid("target", f"{target} is not signed in at a desk")
        if other.state is not AgentState.READY:
            reason = f" ({other.pause_reason})" if other.pause_reason else ""
            raise TransferTargetInvalid(
                "target",
                f"{target} is {other.state.value.replace('_', ' ')}{reason}: "
                "choose another agent or a queue",
            )
        return const.CONTEXT_TRANSFER, "agent", {"CALLCENTER_TRANSFER_TO": other.interface}, target

    def _show_conference(self, username: str, linkedid: str, channels: list[AmiEvent]) -> None:
        """The desk of an agent brought into a conference learns it at their first refused
        click (their pop came from the transfer that rang them): the page then shows the
        conference and offers no transfer or hold."""
        pop = self._pops.find(username, linkedid)
        if pop is None or (pop.consult or {}).get("state") == "conference":
            return
        others = sorted(
            status.username
            for status in self._agents.agents()
            if status.username != username and _agent_leg(channels, status.interface)
        )
        self._pops.set_consult(
            username, linkedid, "conference", " and ".join(others) or "another party"
        )

    def _queue_of(self, username: str, legs: CallLegs) -> str:
        for pop in self._pops.open_pops(username):
            if pop.linkedid == legs.linkedid:
                return pop.queue
        return ""

    def _current(self, username: str) -> AgentStatus:
        status = self._agents.require(username)
        if status.state is not AgentState.ON_CALL or not status.linkedid:
            raise NotOnCall("you are not on a call")
        return status

    async def _legs(
        self, username: str, *, need_caller: bool, changes_call: bool = False
    ) -> CallLegs:
        """``changes_call``: for a hold, a transfer or a conference, refused (nothing sent)
        while the call is a conference."""
        status = self._current(username)
        channels = await self._channels(status.linkedid)
        agent = _agent_leg(channels, status.interface)
        if agent is None:
            self._held.pop(username, None)
            raise CallGone("the call has just ended: the caller hung up")
        if changes_call and _in_conference(channels):
            self._show_conference(username, status.linkedid, channels)
            raise AgentError(CONFERENCE_REFUSED)
        bridge = agent.get("BridgeId")
        peers = [
            c
            for c in channels
            if c.channel != agent.channel and bridge and c.get("BridgeId") == bridge
        ]
        if not peers:
            # Between the queue's connect and the bridge showing in the listing: the caller is
            # the channel that created the call (its Uniqueid is the Linkedid).
            peers = [c for c in channels if c.uniqueid == status.linkedid and c is not agent]
        if need_caller and not peers:
            raise CallGone("the caller has just hung up")
        return CallLegs(status.linkedid, agent.channel, peers[0].channel if peers else "")

    async def _channels(self, linkedid: str) -> list[AmiEvent]:
        try:
            rows = await self._ami.core_show_channels()
        except AmiError as exc:
            raise TelephonyUnavailable("the phone system did not answer; try again") from exc
        return [r for r in rows if r.get("Linkedid") == linkedid]

    async def _action(self, headers: dict[str, ActionValue], linkedid: str) -> None:
        try:
            await self._ami.send_action(headers)
        except AmiActionError as exc:
            if any(text in exc.message.lower() for text in _GONE):
                raise CallGone("the caller has just hung up") from exc
            _LOG.warning("%s refused linkedid=%s: %s", headers["Action"], linkedid, exc.message)
            raise TelephonyUnavailable(
                f"the phone system refused {headers['Action']}: {exc.message}"
            ) from exc
        except AmiError as exc:
            raise TelephonyUnavailable("the phone system did not answer; try again") from exc


def _agent_leg(channels: Iterable[AmiEvent], interface: str) -> AmiEvent | None:
    prefix = interface + "-"
    for row in channels:
        name = row.channel
        if name.startswith(prefix) and not name.endswith(";2"):
            return row
    return None


def _in_conference(channels: Iterable[AmiEvent]) -> bool:
    """A channel of the call is in its conference room (or on its way there, or dialling the
    party brought in): the room lives as long as anyone is in it, whoever started it."""
    return any(
        row.get("Application", "").lower() == "confbridge"
        or row.get("Context") == const.CONTEXT_CONFERENCE
        for row in channels
    )


def _held_data(held: Held) -> dict[str, object]:
    legs = held.legs
    return {
        "linkedid": legs.linkedid,
        "agent": legs.agent,
        "caller": legs.caller,
        "since": held.since,
    }


def _held_of(data: dict[str, object]) -> Held:
    legs = CallLegs(str(data["linkedid"]), str(data["agent"]), str(data["caller"]))
    since = data["since"]
    return Held(legs, float(since) if isinstance(since, (int, float)) else 0.0)


def _linkedid(data: dict[str, object]) -> str:
    return str(data["linkedid"])
