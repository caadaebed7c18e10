"""The login throttle's delay: free failures, then doubling up to the cap."""

from __future__ import annotations

from hcrm_core.services.login_throttle import ThrottleRules


def test_the_delay_doubles_after_the_free_failures_up_to_the_cap() -> None:
    rules = ThrottleRules(free_failures=3, base_delay=1, max_delay=8)
    assert [rules.delay_after(n) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 8, 8]
    assert rules.delay_after(10_000) == 8
