"""Login throttling per account and per address, in a sliding window."""

from __future__ import annotations

from web_console.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_account_locks_at_its_limit_and_unlocks_after_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_per_account=3, max_per_address=100, window_seconds=60, clock=clock)
    for n in range(3):
        assert not throttle.is_locked("alice", f"10.0.0.{n}")
        throttle.record_failure("alice", f"10.0.0.{n}")
    assert throttle.is_locked("alice", "10.0.0.99")  # from any address
    assert not throttle.is_locked("bob", "10.0.0.1")
    clock.now = 61
    assert not throttle.is_locked("alice", "10.0.0.1")


def test_an_address_locks_across_accounts() -> None:
    throttle = LoginThrottle(max_per_account=100, max_per_address=2, clock=Clock())
    throttle.record_failure("alice", "10.0.0.1")
    throttle.record_failure("bob", "10.0.0.1")
    assert throttle.is_locked("carol", "10.0.0.1")
    assert not throttle.is_locked("carol", "10.0.0.2")


def test_a_success_clears_the_account_but_not_the_address() -> None:
    throttle = LoginThrottle(max_per_account=2, max_per_address=2, clock=Clock())
    throttle.record_failure("alice", "10.0.0.1")
    throttle.record_success("alice")
    throttle.record_failure("alice", "10.0.0.2")
    assert not throttle.is_locked("alice", "10.0.0.3")
    throttle.record_failure("bob", "10.0.0.1")
    assert throttle.is_locked("dave", "10.0.0.1")


def test_old_failures_slide_out_of_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_per_account=2, max_per_address=99, window_seconds=60, clock=clock)
    throttle.record_failure("alice", "a")
    clock.now = 40
    throttle.record_failure("alice", "a")
    assert throttle.is_locked("alice", "a")
    clock.now = 61  # the first failure is now outside the window
    assert not throttle.is_locked("alice", "a")


def test_stale_counts_are_forgotten_when_many_keys_are_tracked(monkeypatch) -> None:
    monkeypatch.setattr("web_console.throttle.MAX_TRACKED_KEYS", 10)
    clock = Clock()
    throttle = LoginThrottle(window_seconds=60, clock=clock)
    for n in range(20):
        throttle.record_failure(f"user{n}", "10.0.0.1")
    clock.now = 61
    throttle.record_failure("late", "10.0.0.2")
    assert len(throttle._failures) == 2
