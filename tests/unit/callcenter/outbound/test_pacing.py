"""Pacing and calling-window rules, driven by a fake clock (pure logic)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from callcenter.calls.channel_ids import attempt_of, channel_id
from callcenter.outbound.channels import TemplateRoute
from callcenter.outbound.pacing import (
    AbandonStats,
    AgentState,
    RateLimiter,
    free_lines,
    progressive_allowance,
)
from callcenter.outbound.tracking import failure_outcome
from hcrm_core.models import AttemptStatus
from hcrm_core.services.campaigns_attempts import DialTarget
from hcrm_core.services.campaigns_config import CallingWindow
from hcrm_core.services.campaigns_window import next_call_time, patient_zones

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_holds_the_rate_without_bursts() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, clock)
    taken = 0
    for _ in range(100):  # ten seconds in 0.1 s steps
        while limiter.try_take():
            taken += 1
        clock.now += 0.1
    assert 19 <= taken <= 21
    clock.now += 3600  # an idle hour buys at most one second's worth
    burst = 0
    while limiter.try_take():
        burst += 1
    assert burst == 2
    assert limiter.wait_seconds() == pytest.approx(0.5)


def test_slow_rate_spaces_calls() -> None:
    clock = Clock()
    limiter = RateLimiter(0.5, clock)
    assert limiter.try_take() and not limiter.try_take()
    clock.now += 1.9
    assert not limiter.try_take()
    clock.now += 0.1
    assert limiter.try_take()


def test_free_lines_never_negative() -> None:
    assert free_lines(5, 3) == 2
    assert free_lines(2, 5) == 0


@pytest.mark.parametrize(
    ("free", "ringing", "waiting", "stats", "expected"),
    [
        (3, 0, 0, AbandonStats(100, 1), 3),
        (3, 1, 1, AbandonStats(100, 1), 1),
        (0, 0, 0, AbandonStats(0, 0), 0),
        # Above 3% abandoned: one call at a time, and only with a free agent.
        (3, 0, 0, AbandonStats(100, 4), 1),
        (3, 1, 0, AbandonStats(100, 4), 0),
        (0, 0, 0, AbandonStats(100, 4), 0),
    ],
)
def test_progressive_dials_only_for_free_agents(
    free: int, ringing: int, waiting: int, stats: AbandonStats, expected: int
) -> None:
    allowance = progressive_allowance(
        free_agents=free,
        ringing=ringing,
        waiting_for_agent=waiting,
        stats=stats,
        max_abandon_rate=0.03,
    )
    assert allowance == expected


def test_window_uses_the_patients_own_clock() -> None:
    window = CallingWindow(weekdays=list(range(7)))
    # 14:00 UTC: 09:00 in New York (inside), 23:00 in Tokyo (outside).
    now = datetime(2030, 3, 5, 14, 0, tzinfo=UTC)
    ny = patient_zones("+12015550123", NEW_YORK)
    assert ny == (NEW_YORK,)
    assert next_call_time(now, window, NEW_YORK, ny) == now
    tokyo = patient_zones("+81312345678", NEW_YORK)
    assert tokyo == (TOKYO,)
    when = next_call_time(now, window, NEW_YORK, tokyo)
    # Next morning 08:00 in Tokyo is 19:00 New York the same day: inside both windows.
    assert when == datetime(2030, 3, 5, 23, 0, tzinfo=UTC)


def test_window_skips_holidays_weekdays_and_hours() -> None:
    window = CallingWindow(start=time(9), end=time(17), weekdays=[0, 1, 2, 3, 4])
    friday_evening = datetime(2030, 3, 8, 23, 0, tzinfo=UTC)  # 18:00 New York
    zones = (NEW_YORK,)
    monday = date(2030, 3, 11)
    assert next_call_time(friday_evening, window, NEW_YORK, zones) == datetime(
        2030, 3, 11, 13, 0, tzinfo=UTC
    )  # Monday 09:00 (daylight saving time began on the 10th)
    assert next_call_time(friday_evening, window, NEW_YORK, zones, frozenset({monday})) == datetime(
        2030, 3, 12, 13, 0, tzinfo=UTC
    )
    never = CallingWindow(weekdays=[0], holidays=[date(2030, 3, d) for d in (11, 18, 25)])
    assert next_call_time(friday_evening, never, NEW_YORK, zones) is None  # 3 weeks shut
    unknown = patient_zones("+999123", NEW_YORK)
    assert unknown == (NEW_YORK,)


def test_window_cannot_be_wider_than_8_to_21() -> None:
    with pytest.raises(ValueError, match="08:00 and 21:00"):
        CallingWindow(start=time(7, 30))
    with pytest.raises(ValueError, match="08:00 and 21:00"):
        CallingWindow(end=time(21, 30))


def test_no_attempt_id_is_a_prefix_of_another() -> None:
    # Asterisk refuses a ChannelId that prefixes a live channel's Uniqueid: 5 while 58 is up.
    ids = [channel_id("attempt-", n) for n in (1, 5, 10, 58, 580, 10**11, 10**12 - 1)]
    for one in ids:
        assert len(one) == len(ids[0])
        assert not [other for other in ids if other != one and other.startswith(one)]


def test_channel_ids_and_dial_strings() -> None:
    assert channel_id("attempt-", 42) == "attempt-000000000042"
    assert attempt_of("attempt-", "attempt-000000000042") == 42
    assert attempt_of("attempt-", "attempt-42") == 42  # named before the padding: in the log
    assert attempt_of("attempt-", "attempt-000000000042-b") is None
    assert attempt_of("attempt-", "1732350000.12") is None
    route = TemplateRoute("Local/{number}@callcenter-outbound-dial")
    target = DialTarget(1, 1, 1, "+12015550123", 1)
    assert route(target).channel == "Local/+12015550123@callcenter-outbound-dial"
    with pytest.raises(ValueError):
        route(DialTarget(1, 1, 1, "+1201&Local/x", 1))
    with pytest.raises(ValueError):
        TemplateRoute("Local/{number}@{number}")


@pytest.mark.parametrize(
    ("reason", "status", "detail"),
    [
        ("5", AttemptStatus.BUSY, "busy"),
        ("3", AttemptStatus.NO_ANSWER, "no_answer"),
        ("8", AttemptStatus.FAILED, "congestion"),
        ("0", AttemptStatus.FAILED, "failed"),
        ("", AttemptStatus.FAILED, "reason_none"),
    ],
)
def test_originate_reasons(reason: str, status: AttemptStatus, detail: str) -> None:
    assert failure_outcome(reason) == (status, detail)


@pytest.mark.parametrize(
    ("state", "free"),
    [
        (AgentState(1, False, False, 0, 0), True),
        (AgentState(2, False, False, 0, 0), False),  # in use
        (AgentState(1, True, False, 0, 0), False),  # paused
        (AgentState(1, False, True, 0, 0), False),  # on a call
        (AgentState(1, False, False, 995, 0), False),  # 5 s after a call, queue wrap-up 10 s
        (AgentState(1, False, False, 989, 0), True),
        (AgentState(1, False, False, 995, 3), True),  # the member's own 3 s wrap-up
    ],
)
def test_free_agents_respect_pause_calls_and_wrap_up(state: AgentState, free: bool) -> None:
    assert state.free(1000.0, 10.0) is free
