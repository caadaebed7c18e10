"""The dialer: places the due calls of running campaigns, paced, inside their calling windows.

Every tick, for each running campaign: free lines (cap minus live calls; in progressive mode
also free agents), due attempts in time order, the patient's calling window (hospital window,
holidays, the patient's own 08:00-21:00), the calls-per-second bucket, then
:meth:`AttemptService.claim` commits the attempt as ``dialling`` and only then is the
asynchronous Originate sent, with the attempt's id as ``ChannelId``. Outcomes come back over
the bus (:mod:`bus_consume`); nothing is dialled until the first reconciliation after start
(:mod:`reconcile`) has settled the calls a previous run left in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.ami.bridge import AmiBridge, AmiError, AmiNotConnected, AsteriskUnavailable
from callcenter.ami.queue_members import queue_member_of
from callcenter.asterisk.const import CONTEXT_OUTBOUND
from callcenter.asterisk.recording_policy import campaign_record_variables
from callcenter.calls.channel_ids import channel_id, other_channel_id
from callcenter.outbound.channels import DialRoute
from callcenter.outbound.errors import NoCallerId
from callcenter.outbound.pacing import (
    AbandonStats,
    AgentState,
    RateLimiter,
    free_lines,
    progressive_allowance,
)
from callcenter.outbound.tracking import (
    REASON_ANSWERED,
    LiveAttempt,
    LiveAttempts,
    failure_outcome,
    hangup_outcome,
)
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import AttemptStatus, Campaign, CampaignStatus, utcnow
from hcrm_core.services.campaigns import CampaignService, config_of
from hcrm_core.services.campaigns_attempts import ABANDONED, AttemptService, day_start
from hcrm_core.services.campaigns_config import CampaignConfig
from hcrm_core.services.campaigns_errors import NotDialable, PatientOnCall
from hcrm_core.services.campaigns_window import next_call_time, patient_zones
from hcrm_core.services.leadership import UNFENCED, Fence, Fenced

_LOG = logging.getLogger(__name__)

EXTEN_AUTOMATED = "survey"
EXTEN_PROGRESSIVE = "progressive"
RETRY_UNSENT_SECONDS = 5
PATIENT_BUSY_RETRY_SECONDS = 60
# A channel must appear this long after the ring timeout, or the Originate was lost.
ORIGINATE_GRACE_SECONDS = 30
NO_WINDOW_RETRY = timedelta(days=1)
COMPLETION_CHECK_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class DialerOptions:
    timezone: ZoneInfo
    hospital_name: str
    caller_id_number: str
    channel_prefix: str = "attempt-"
    tick_seconds: float = 0.2
    # Set only when Asterisk must reach a FastAGI other than its dialplan's global (tests).
    agi_url: str | None = None
    # queues.conf wrapuptime: an agent is not free again until this long after a call.
    agent_wrapup_seconds: float = 10.0

    @property
    def caller_id(self) -> str:
        # The name is ours (settings), but quotes would break the header: they are dropped.
        name = self.hospital_name.replace('"', "").replace("<", "").replace(">", "")
        return f'"{name[:40]}" <{self.caller_id_number}>'


class Dialer:
    """See the module docstring. ``start``/``stop`` bracket its life; ``clock`` is monotonic
    seconds and ``now`` wall-clock UTC, both replaceable in tests."""

    def __init__(
        self,
        *,
        ami: AmiBridge,
        campaigns: CampaignService,
        attempts: AttemptService,
        options: DialerOptions,
        route: DialRoute,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ami = ami
        self.campaigns = campaigns
        self.attempts = attempts
        self.options = options
        self._route = route
        self.clock = clock
        self._now = now
        self.live = LiveAttempts()
        self._limiters: dict[int, RateLimiter] = {}
        self._holidays: tuple[date, frozenset[date]] | None = None
        self._completion_checked: dict[int, float] = {}
        self.claiming: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.reconciled = asyncio.Event()
        self.originated = 0
        # The leader's fence (issue 18): every claim checks it in its transaction, every
        # Originate its lease. Unfenced until a leadership hands one over.
        self.fence: Fence = UNFENCED
        # Whether a resync settles the attempts in flight: always for the only process; with
        # several, while this one leads (see follow()).
        self.reconciles = True

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, fence: Fence | None = None) -> None:
        """Dial from now on, as the leader holding ``fence`` (None: the only process).

        Nothing is dialled before the next reconciliation (an ``AmiResynced`` handled while
        dialing): a new leader first settles what the previous one left in flight."""
        if not self.options.caller_id_number:
            raise NoCallerId("set hospital.caller_id_number: campaigns need a valid caller ID")
        self.fence = fence or UNFENCED
        self.reconciles = True
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dialer")

    def follow(self) -> None:
        """Another process leads (several on one database): settle nothing on a resync, and
        forget the calls followed as leader (the new leader adopts them). The next
        :meth:`start` dials only after a reconciliation."""
        self.reconciles = False
        self.reconciled.clear()
        self.live = LiveAttempts()

    async def stop(self) -> None:
        """Stop placing calls; calls in progress go on in Asterisk and are reconciled later."""
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
                # Deposed: the election stops this dialer too; nothing more is claimed here.
                _LOG.warning("dialer stopped, not the leader: %s", exc.message)
                return
            except StorageUnavailable as exc:
                _LOG.warning("dialer paused: %s", exc.message)
            except Exception:
                # The loop outlives one bad tick; the attempt involved stays as it was written.
                _LOG.exception("dialer tick failed")
            await asyncio.sleep(self.options.tick_seconds)

    # -- one tick ----------------------------------------------------------------------------

    async def tick(self) -> None:
        await self._settle_lost()
        for campaign in await self.campaigns.all(status=CampaignStatus.RUNNING):
            await self._fill(campaign, config_of(campaign))

    async def _fill(self, campaign: Campaign, config: CampaignConfig) -> None:
        free = free_lines(config.max_concurrent, self.live.lines(campaign.id))
        if free and config.mode == "progressive":
            free = min(free, await self._progressive_free(campaign.id, config))
        if free <= 0:
            return
        limiter = self._limiters.get(campaign.id)
        if limiter is None:
            limiter = self._limiters[campaign.id] = RateLimiter(config.calls_per_second, self.clock)
        limiter.set_rate(config.calls_per_second)
        now = self._now()
        holidays = await self._hospital_holidays(now)
        due = await self.attempts.due(campaign.id, now, limit=free * 2)
        if not due and not self.live.lines(campaign.id):
            await self._complete_when_done(campaign.id)
        for attempt_id, phone in due:
            if free <= 0:
                break
            zones = patient_zones(phone, self.options.timezone)
            when = next_call_time(now, config.window, self.options.timezone, zones, holidays)
            if when != now:
                await self.attempts.reschedule(attempt_id, when or now + NO_WINDOW_RETRY)
                continue
            if not limiter.try_take():
                break
            if await self._dial(campaign, config, attempt_id, now):
                free -= 1

    async def _complete_when_done(self, campaign_id: int) -> None:
        # Checked now and then, not every tick: retries scheduled for later keep it running.
        now = self.clock()
        if now - self._completion_checked.get(campaign_id, -COMPLETION_CHECK_SECONDS) < (
            COMPLETION_CHECK_SECONDS
        ):
            return
        self._completion_checked[campaign_id] = now
        if await self.campaigns.complete_if_done(campaign_id):
            _LOG.info("campaign=%s completed: nothing left to dial", campaign_id)

    async def _dial(
        self, campaign: Campaign, config: CampaignConfig, attempt_id: int, now: datetime
    ) -> bool:
        # From the claim until the call is registered as live, a reconcile running meanwhile
        # must leave this attempt alone (it is "dialling" without a channel yet).
        self.claiming.add(attempt_id)
        try:
            return await self._claim_and_dial(campaign, config, attempt_id, now)
        finally:
            self.claiming.discard(attempt_id)

    async def _claim_and_dial(
        self, campaign: Campaign, config: CampaignConfig, attempt_id: int, now: datetime
    ) -> bool:
        try:
            target = await self.attempts.claim(
                attempt_id,
                now=now,
                day_start=day_start(now, self.options.timezone),
                max_per_day=config.max_calls_per_patient_per_day,
                fence=self.fence,
            )
        except PatientOnCall:
            when = now + timedelta(seconds=PATIENT_BUSY_RETRY_SECONDS)
            await self.attempts.reschedule(attempt_id, when)
            return False
        except NotDialable as refused:
            _LOG.info("attempt=%s not dialled: %s", attempt_id, refused.reason)
            return False
        prefix = self.options.channel_prefix
        cid = channel_id(prefix, attempt_id)
        try:
            plan = self._route(target)
        except ValueError:
            _LOG.warning("attempt=%s campaign=%s: number not dialable", attempt_id, campaign.id)
            await self.attempts.finish(attempt_id, AttemptStatus.CANCELLED, detail="bad_number")
            return False
        deadline = self.clock() + config.ring_timeout_seconds + ORIGINATE_GRACE_SECONDS
        # Registered before the Originate: its first events may arrive before the response.
        self.live.add(LiveAttempt(attempt_id, campaign.id, deadline))
        variables = {
            "CALLCENTER_ATTEMPT": str(attempt_id),
            "CALLCENTER_AMD": "yes" if config.amd else "no",
            "CALLCENTER_QUEUE": config.agent_queue if config.mode == "progressive" else "",
            **campaign_record_variables({"recording": config.recording}),
            **plan.variables,
        }
        if self.options.agi_url:
            variables["CALLCENTER_AGI"] = self.options.agi_url
        # Claimed while leading, but the process may have been frozen since: past its lease
        # a newer leader may be reconciling this attempt. It is left to that leader (settled,
        # never dialled twice) rather than dialled late.
        self.fence.check_lease()
        try:
            await self.ami.originate(
                plan.channel,
                context=CONTEXT_OUTBOUND,
                exten=EXTEN_PROGRESSIVE if config.mode == "progressive" else EXTEN_AUTOMATED,
                caller_id=self.options.caller_id,
                variables=variables,
                channel_id=cid,
                other_channel_id=other_channel_id(prefix, attempt_id),
                ring_timeout=config.ring_timeout_seconds,
                action_id=cid,
            )
        except (AmiNotConnected, AsteriskUnavailable) as exc:
            # Refused before anything was sent: the same attempt may be dialled later.
            self.live.drop(attempt_id)
            _LOG.warning("attempt=%s not sent (%s); rescheduled", attempt_id, exc)
            retry_at = now + timedelta(seconds=RETRY_UNSENT_SECONDS)
            await self.attempts.release(attempt_id, retry_at=retry_at)
            return False
        except AmiError as exc:
            # Perhaps sent: the attempt stays in flight; a channel appears, or the deadline
            # settles it as failed. It is never sent a second time.
            _LOG.warning("attempt=%s originate uncertain: %s", attempt_id, exc)
            return True
        self.originated += 1
        _LOG.info(
            "attempt=%s campaign=%s try=%d dialled", attempt_id, campaign.id, target.attempt_no
        )
        return True

    async def _progressive_free(self, campaign_id: int, config: CampaignConfig) -> int:
        now = time.time()
        members = [
            queue_member_of(row)
            for row in await self.ami.queue_status()
            if row.name == "QueueMember"
        ]
        free_agents = sum(
            1
            for member in members
            if member.queue == config.agent_queue
            and AgentState.of(member).free(now, self.options.agent_wrapup_seconds)
        )
        return progressive_allowance(
            free_agents=free_agents,
            ringing=self.live.ringing(campaign_id),
            waiting_for_agent=self.live.waiting_for_agent(campaign_id),
            stats=AbandonStats(*await self.attempts.abandon_counts(campaign_id)),
            max_abandon_rate=config.max_abandon_rate,
        )

    async def _hospital_holidays(self, now: datetime) -> frozenset[date]:
        today = now.astimezone(self.options.timezone).date()
        if self._holidays is None or self._holidays[0] != today:
            days = await self.campaigns.holidays(today, 31)
            self._holidays = (today, days)
        return self._holidays[1]

    async def _settle_lost(self) -> None:
        now = self.clock()
        for live in self.live:
            lost = live.hung_up or not live.channel_seen
            if lost and not live.outcome_known and now > live.deadline:
                self.live.drop(live.attempt_id)
                _LOG.warning("attempt=%s: no channel ever appeared; failed", live.attempt_id)
                await self.attempts.finish(
                    live.attempt_id, AttemptStatus.FAILED, detail="originate_lost"
                )

    # -- outcomes (called by bus_consume) ----------------------------------------------------

    async def on_channel(self, attempt_id: int) -> None:
        live = self.live.get(attempt_id)
        if live is not None:
            live.channel_seen = True

    async def on_originate_response(self, attempt_id: int, reason: str) -> None:
        live = self.live.get(attempt_id)
        if live is not None:
            live.outcome_known = True
        if reason == REASON_ANSWERED:
            if live is not None:
                live.answered = True
            await self.attempts.mark_answered(attempt_id)
            _LOG.info("attempt=%s answered", attempt_id)
            return
        status, detail = failure_outcome(reason)
        if live is None or live.hung_up or not live.channel_seen:
            self.live.drop(attempt_id)
        retry = await self.attempts.finish(attempt_id, status, detail=detail, now=self._now())
        _LOG.info("attempt=%s ended %s (retry attempt=%s)", attempt_id, detail, retry or "-")

    async def on_up(self, attempt_id: int) -> None:
        """The dialled channel went Up. Only an adopted call needs it: Asterisk sends its
        ``OriginateResponse`` to every session, but one that came while no server listened
        (or during an AMI outage) is lost, so the channel's own state is its answer."""
        live = self.live.get(attempt_id)
        if live is None or not live.adopted or live.answered:
            return
        live.answered = live.outcome_known = True
        await self.attempts.mark_answered(attempt_id)
        _LOG.info("attempt=%s (adopted) answered", attempt_id)

    async def on_agent(self, attempt_id: int, *, connected: bool) -> None:
        live = self.live.get(attempt_id)
        if live is None:
            return
        if connected:
            live.reached_agent = True
            return
        live.abandoned = True

    async def on_hangup(self, attempt_id: int, cause: str = "") -> None:
        live = self.live.get(attempt_id)
        if live is None:
            return
        live.hung_up = True
        if not live.outcome_known and live.adopted:
            # Never answered, and no OriginateResponse will come to this session: the
            # hang-up cause is all there is to say what happened.
            self.live.drop(attempt_id)
            status, detail = hangup_outcome(cause)
            retry = await self.attempts.finish(attempt_id, status, detail=detail, now=self._now())
            _LOG.info("attempt=%s (adopted) ended %s (retry attempt=%s)", attempt_id, detail, retry)
            return
        if not live.outcome_known:
            return  # the OriginateResponse follows and says busy, no answer...
        self.live.drop(attempt_id)
        detail = "hung_up"
        if live.abandoned:
            detail = ABANDONED
        elif live.reached_agent:
            detail = "agent"
        # A no-op when the dialog already closed the attempt with its own outcome.
        await self.attempts.finish(attempt_id, AttemptStatus.COMPLETED, detail=detail)
