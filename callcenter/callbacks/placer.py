"""Placing callbacks in their queue at the place the caller held, and following their dial.

A due callback (:meth:`CallbackService.due`) is claimed (``placed``, committed, with its
placement number) and only then originated: ``Local/<queue>@callcenter-callback-wait`` with
``ChannelId`` = ``<prefix><id>-<placement>``. The ``;2`` half waits in the queue at the
position computed here from the waiting callers' arrival times (each channel's
``CALLCENTER_QUEUED_AT``, set by the dialplan when they joined; a refused callback keeps it)
and priorities, so it is offered to the next free agent exactly when no earlier caller is still
waiting. When an agent takes it the ``;1`` half rings the patient (``callcenter-callback``),
reporting ``dialling`` and ``dialled`` as UserEvents; the outcome is settled by
:meth:`CallbackService.finish` (retries, then a task). A placement whose ``;1`` half hangs up
before dialling (the queue emptied, the caller-ID check failed) is released and placed anew.

After every (re)connect :meth:`reconcile` settles what a previous run left in Asterisk: a
placement still live is followed as usual; one that is gone is settled from AstDB (never
dialled: placed again; dialled: its outcome), so no callback is lost and none is doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.ami.bridge import AmiBridge, AmiError, AmiNotConnected, AsteriskUnavailable
from callcenter.ami.errors import AmiActionError
from callcenter.ami.events import AmiEvent, AmiSnapshot
from callcenter.asterisk.const import CONTEXT_CALLBACK, CONTEXT_CALLBACK_WAIT
from callcenter.callbacks.astdb import DIALLING, dial_record
from callcenter.calls.channel_ids import callback_channel_id
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import CallbackStatus
from hcrm_core.services.callbacks import ANSWERED, CallbackService, Placement
from hcrm_core.services.leadership import UNFENCED, Fence, Fenced

_LOG = logging.getLogger(__name__)

EXTEN_DIAL = "dial"
RETRY_UNSENT_SECONDS = 5.0
# A placement this close before a snapshot may not be in it yet.
SNAPSHOT_SLACK_SECONDS = 2.0
# An Originate sent this recently may not have joined its queue yet (QueueStatus misses it).
IN_FLIGHT_SECONDS = 5.0
_QUEUE_ENTRY = "QueueEntry"


@dataclass(frozen=True, slots=True)
class PlacerOptions:
    channel_prefix: str = "callback-"
    ring_seconds: int = 30
    max_wait_seconds: float = 4 * 3600
    replace_seconds: float = 30.0
    tick_seconds: float = 0.5
    # Set only when Asterisk must reach a FastAGI other than its dialplan's global (tests).
    agi_url: str | None = None
    # More channel variables for the placeholder (tests: the simulated agents' timings).
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class LivePlacement:
    callback_id: int
    placement: int
    placed_at: float
    dialled: bool = False
    # Where it waits (None: adopted by a reconcile, already in its queue).
    queue: str | None = None
    priority: int = 0
    joined: float = 0.0


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    """One caller in a queue as QueueStatus shows them, with when they joined."""

    priority: int
    joined: float


def position_for(waiting: list[WaitingCaller], *, priority: int, joined: float) -> int:
    """Where a callback goes (1 = next answered): behind every caller of a higher priority and
    every caller of its own priority who joined no later than it did."""
    ahead = sum(
        1
        for caller in waiting
        if caller.priority > priority or (caller.priority == priority and caller.joined <= joined)
    )
    return ahead + 1


class CallbackPlacer:
    """See the module docstring; ``route`` turns a validated E.164 number into a dial string."""

    def __init__(
        self,
        *,
        ami: AmiBridge,
        callbacks: CallbackService,
        options: PlacerOptions,
        route: Callable[[str], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ami = ami
        self.callbacks = callbacks
        self.options = options
        self._route = route
        self._clock = clock
        self.live: dict[str, LivePlacement] = {}
        self.claiming: set[int] = set()
        self.reconciled = asyncio.Event()
        self.placed = 0
        self._task: asyncio.Task[None] | None = None
        # The leader's fence (issue 18): claims check it, Originates its lease.
        self.fence: Fence = UNFENCED
        # Whether a resync settles placements: the only process, or the leader (follow()).
        self.reconciles = True

    def channel_id(self, placement: Placement) -> str:
        return callback_channel_id(
            self.options.channel_prefix, placement.callback_id, placement.placement
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, fence: Fence | None = None) -> None:
        """Place from now on, as the leader holding ``fence`` (None: the only process);
        nothing is placed before the next reconciliation."""
        self.fence = fence or UNFENCED
        self.reconciles = True
        self._task = asyncio.get_running_loop().create_task(self._run(), name="callbacks")

    def follow(self) -> None:
        """Another process leads: settle nothing on a resync, forget the placements followed
        as leader (the new leader adopts them); place again only after a reconciliation."""
        self.reconciles = False
        self.reconciled.clear()
        self.live = {}

    async def stop(self) -> None:
        """Place nothing more; placements in Asterisk stay and are reconciled next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                if self.reconciled.is_set() and self.ami.asterisk_ready:
                    await self.tick()
            except Fenced as exc:
                _LOG.warning("callback placing stopped, not the leader: %s", exc.message)
                return
            except StorageUnavailable as exc:
                _LOG.warning("callbacks paused: %s", exc.message)
            except Exception:
                # The loop outlives one bad tick; every row stays as it was written.
                _LOG.exception("callback tick failed")
            await asyncio.sleep(self.options.tick_seconds)

    # -- placing -----------------------------------------------------------------------------

    async def tick(self) -> None:
        for due in await self.callbacks.due():
            self.claiming.add(due.callback_id)
            try:
                placement = await self.callbacks.claim_placement(due.callback_id, fence=self.fence)
                if placement is not None:
                    await self._place(placement)
            finally:
                self.claiming.discard(due.callback_id)

    async def _place(self, placement: Placement) -> None:
        cid = self.channel_id(placement)
        joined = placement.arrived_at.timestamp()
        position = position_for(
            await self._waiting(placement.queue), priority=placement.priority, joined=joined
        )
        variables = {
            "CALLCENTER_CALLBACK_DIAL": self._route(placement.phone_e164),
            "CALLCENTER_CALLBACK_RING": str(self.options.ring_seconds),
            "CALLCENTER_QUEUE_POSITION": str(position),
            "CALLCENTER_QUEUED_AT": str(int(joined)),
            "QUEUE_PRIO": str(placement.priority),
        }
        if self.options.agi_url:
            variables["CALLCENTER_AGI"] = self.options.agi_url
        variables.update(self.options.variables)
        self.live[cid] = LivePlacement(
            placement.callback_id,
            placement.placement,
            self._clock(),
            queue=placement.queue,
            priority=placement.priority,
            joined=joined,
        )
        # Frozen past its lease since the claim: the new leader's reconcile places it again.
        self.fence.check_lease()
        try:
            await self.ami.originate(
                f"Local/{placement.queue}@{CONTEXT_CALLBACK_WAIT}",
                context=CONTEXT_CALLBACK,
                exten=EXTEN_DIAL,
                caller_id=f'"Callback" <{placement.phone_e164}>',
                variables=variables,
                channel_id=cid,
                other_channel_id=f"{cid}-b",
                # Not answered until an agent takes it: the placeholder may wait this long.
                ring_timeout=self.options.max_wait_seconds,
                action_id=cid,
            )
        except (AmiNotConnected, AsteriskUnavailable) as exc:
            self.live.pop(cid, None)
            _LOG.warning("callback=%s not placed (%s); again soon", placement.callback_id, exc)
            await self.callbacks.release(
                placement.callback_id, placement.placement, retry_seconds=RETRY_UNSENT_SECONDS
            )
            return
        except AmiError as exc:
            # Perhaps sent: its channel's hang-up or the next reconcile settles it.
            _LOG.warning("callback=%s placement uncertain: %s", placement.callback_id, exc)
            return
        self.placed += 1
        _LOG.info(
            "callback=%s placed as %s in queue=%s at position %d",
            placement.callback_id,
            cid,
            placement.queue,
            position,
        )

    async def _waiting(self, queue: str) -> list[WaitingCaller]:
        """The callers in ``queue``, and this placer's placements sent too recently to show
        (two placed in one tick: the second must count the first, which may not have joined)."""
        now = time.time()
        waiting = []
        seen = set()
        for entry in await self.ami.queue_status():
            if entry.name != _QUEUE_ENTRY or entry.queue != queue:
                continue
            seen.add(entry.uniqueid)
            joined = await self._joined(entry, now)
            priority = entry.get("Priority")
            waiting.append(WaitingCaller(int(priority) if priority.isdigit() else 0, joined))
        recent = self._clock() - IN_FLIGHT_SECONDS
        waiting.extend(
            WaitingCaller(live.priority, live.joined)
            for cid, live in self.live.items()
            if live.queue == queue
            and not live.dialled
            and live.placed_at >= recent
            and f"{cid}-b" not in seen  # the ;2 half waits in the queue
        )
        return waiting

    async def _joined(self, entry: AmiEvent, now: float) -> float:
        """When the caller joined (the dialplan's CALLCENTER_QUEUED_AT), else now - Wait."""
        try:
            response = await self.ami.send_action(
                {"Action": "Getvar", "Channel": entry.channel, "Variable": "CALLCENTER_QUEUED_AT"}
            )
            value = response.headers.get("Value", "")
        except AmiActionError:
            value = ""  # gone meanwhile
        if isinstance(value, str) and value.isdigit():
            return float(value)
        wait = entry.get("Wait")
        return now - (float(wait) if wait.isdigit() else 0.0)

    # -- what Asterisk reports (bus_consume) -------------------------------------------------

    async def on_dialling(self, cid: str) -> None:
        live = self.live.get(cid)
        if live is not None:
            live.dialled = True
            await self.callbacks.mark_dialling(live.callback_id, live.placement)
            _LOG.info(
                "callback=%s (%s): an agent took it, ringing the patient", live.callback_id, cid
            )

    async def on_dialled(self, cid: str, dial_status: str) -> None:
        live = self.live.get(cid)
        if live is not None:
            await self.callbacks.finish(live.callback_id, live.placement, _outcome(dial_status))

    async def on_hangup(self, cid: str) -> None:
        """The ``;1`` half ended. Never dialled: the placement reached no agent (placed anew);
        dialled with no outcome (the agent hung up while it rang): a try that failed."""
        live = self.live.pop(cid, None)
        if live is None:
            return
        if not live.dialled:
            await self.callbacks.release(
                live.callback_id, live.placement, retry_seconds=self.options.replace_seconds
            )
            return
        await self.callbacks.finish(live.callback_id, live.placement, "hung_up")

    # -- after a (re)connect -----------------------------------------------------------------

    async def reconcile(self, snapshot: AmiSnapshot) -> int:
        """Follow the placements still live, settle the ones gone; returns how many settled."""
        live_ids = {channel.uniqueid for channel in snapshot.channels}
        settled = 0
        for placement in await self.callbacks.in_asterisk():
            if placement.callback_id in self.claiming:
                continue
            cid = self.channel_id(placement)
            known = self.live.get(cid)
            if cid in live_ids:
                if known is None:
                    dialled = placement.status is CallbackStatus.DIALLING
                    self.live[cid] = LivePlacement(
                        placement.callback_id, placement.placement, self._clock(), dialled
                    )
                    _LOG.info(
                        "callback=%s (%s) adopted: still in Asterisk", placement.callback_id, cid
                    )
                continue
            if known is not None and known.placed_at > self._clock() - SNAPSHOT_SLACK_SECONDS:
                continue  # placed around the snapshot: its own events settle it
            self.live.pop(cid, None)
            await self._settle_gone(placement, cid)
            settled += 1
        self.reconciled.set()
        return settled

    async def _settle_gone(self, placement: Placement, cid: str) -> None:
        record = await dial_record(self.ami, cid)
        if record is None and placement.status is CallbackStatus.DIALLING:
            record = DIALLING  # its ring was reported, its record lost: a try all the same
        if record is None:
            # Never rang the patient: placed again at the caller's place (not lost, not doubled).
            await self.callbacks.release(
                placement.callback_id, placement.placement, retry_seconds=0
            )
            _LOG.info("callback=%s (%s) gone undialled: placed again", placement.callback_id, cid)
            return
        if placement.status is CallbackStatus.PLACED:
            await self.callbacks.mark_dialling(placement.callback_id, placement.placement)
        outcome = "ended_while_away" if record == DIALLING else _outcome(record)
        await self.callbacks.finish(placement.callback_id, placement.placement, outcome)
        _LOG.info("callback=%s (%s) settled by reconcile: %s", placement.callback_id, cid, outcome)


def _outcome(dial_status: str) -> str:
    status = dial_status.strip().upper()
    return ANSWERED if status == "ANSWER" else (status.lower() or "unknown")[:40]
