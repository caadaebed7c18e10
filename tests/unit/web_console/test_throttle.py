"""Login throttling: a growing delay per (account, address), a cap per address."""

from __future__ import annotations

from web_console.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fail(throttle: LoginThrottle, account: str, address: str) -> None:
    assert throttle.reserve(account, address) is not None  # never succeeded: stays a failure


def test_an_attempt_is_counted_when_reserved_not_when_it_ends() -> None:
    throttle = LoginThrottle(free_failures=3, clock=Clock())
    # Three attempts in flight at once (none finished): the fourth already waits.
    attempts = [throttle.reserve("alice", "10.0.0.1") for _ in range(3)]
    assert all(attempts)
    assert throttle.reserve("alice", "10.0.0.1") is None


def test_the_delay_doubles_after_the_free_failures_up_to_the_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=3, base_delay=1, max_delay=8, clock=clock)
    assert [throttle.delay_after(n) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 8, 8]
    for _ in range(3):
        _fail(throttle, "alice", "10.0.0.1")
    assert throttle.reserve("alice", "10.0.0.1") is None
    clock.now = 1.0
    _fail(throttle, "alice", "10.0.0.1")
    clock.now = 2.9
    assert throttle.reserve("alice", "10.0.0.1") is None
    clock.now = 3.0
    assert throttle.reserve("alice", "10.0.0.1") is not None


def test_an_account_is_never_locked_from_another_address() -> None:
    throttle = LoginThrottle(free_failures=3, clock=Clock())
    for _ in range(10):
        throttle.reserve("supervisor", "203.0.113.9")
    assert throttle.reserve("supervisor", "203.0.113.9") is None
    assert throttle.reserve("supervisor", "10.0.0.7") is not None


def test_an_address_is_capped_across_accounts() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_per_address=2, window_seconds=60, clock=clock)
    _fail(throttle, "alice", "10.0.0.1")
    _fail(throttle, "bob", "10.0.0.1")
    assert throttle.reserve("carol", "10.0.0.1") is None
    assert throttle.reserve("carol", "10.0.0.2") is not None
    clock.now = 61  # the failures slid out of the window
    assert throttle.reserve("carol", "10.0.0.1") is not None


def test_a_success_gives_its_reservation_back_and_clears_the_delay() -> None:
    throttle = LoginThrottle(max_per_address=3, free_failures=2, clock=Clock())
    _fail(throttle, "alice", "10.0.0.1")
    success = throttle.reserve("alice", "10.0.0.1")
    assert success is not None
    success.succeeded()
    # Neither the success nor the earlier failure of the pair is held against alice now,
    # but the address keeps its one failure.
    _fail(throttle, "alice", "10.0.0.1")
    _fail(throttle, "bob", "10.0.0.1")
    assert throttle.reserve("dave", "10.0.0.1") is None


def test_quiet_pairs_are_forgotten_after_a_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        _fail(throttle, "alice", "a")
    clock.now = 62  # the 1 s delay ended and a window passed: a fresh start
    for _ in range(3):
        _fail(throttle, "alice", "a")
    assert throttle.reserve("alice", "a") is None


def test_stale_counts_are_forgotten_when_many_keys_are_tracked(monkeypatch) -> None:
    monkeypatch.setattr("web_console.throttle.MAX_TRACKED_KEYS", 10)
    clock = Clock()
    throttle = LoginThrottle(window_seconds=60, max_per_address=100, clock=clock)
    for n in range(20):
        throttle.reserve(f"user{n}", "10.0.0.1")
    clock.now = 200
    throttle.reserve("late", "10.0.0.2")
    assert len(throttle._by_address) + len(throttle._by_pair) == 2
