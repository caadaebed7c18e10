"""Login throttling: a growing delay per (account, address), and a cap per address.

Counted in the database (:mod:`hcrm_core.services.login_throttle`), so every server process
behind a load balancer applies the same count. Two rules, both keyed on where the attempt
comes from, so that failures from an attacker's address never lock a real user out from their
own desk:

- **per (account, address)**: the first ``free_failures`` failures cost nothing; after that
  each further attempt must wait ``base_delay`` seconds, doubling with every failure up to
  ``max_delay``. A success from that address clears it.
- **per address**: at most ``max_per_address`` failures within ``window_seconds``, whatever
  the accounts tried (guessing many usernames from one place).

Check and count are one step: :meth:`LoginThrottle.reserve` books the attempt as a failure
*before* the password is checked (in one transaction holding the address's lock), so a
thousand concurrent attempts cannot all pass the check before the first failure is counted; a
right password then gives the reservation back (:meth:`LoginAttempt.succeeded`). A refused
attempt gets the same generic answer whether or not the password was right, so the throttle
cannot be used to test passwords.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from hcrm_core.db import Database
from hcrm_core.services import login_throttle as store
from hcrm_core.services.login_throttle import ThrottleRules
from web_console.sessions import Clock


@dataclass(slots=True)
class LoginAttempt:
    """An attempt that passed the throttle; it counts as a failure unless it succeeds."""

    throttle: LoginThrottle
    account: str
    address: str
    failure_id: int

    async def succeeded(self) -> None:
        """The password was right: the failure booked for this attempt is given back."""
        await store.give_back(self.throttle.database, self.account, self.address, self.failure_id)


class LoginThrottle:
    def __init__(
        self,
        database: Database,
        *,
        max_per_address: int = 20,
        window_seconds: float = 15 * 60,
        free_failures: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 15 * 60,
        clock: Clock = time.time,
    ) -> None:
        self.database = database
        self.rules = ThrottleRules(
            max_per_address=max_per_address,
            window_seconds=window_seconds,
            free_failures=free_failures,
            base_delay=base_delay,
            max_delay=max_delay,
        )
        self._clock = clock

    async def reserve(self, account: str, address: str) -> LoginAttempt | None:
        """Book an attempt (as a failure) and return it, or None when it must wait."""
        failure_id = await store.reserve(self.database, self.rules, account, address, self._now())
        if failure_id is None:
            return None
        return LoginAttempt(self, account, address, failure_id)

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures of one account from one address."""
        return self.rules.delay_after(failures)

    async def forget_stale(self) -> None:
        """Drop the counts no rule uses any more (called now and then by the console)."""
        await store.forget_stale(self.database, self.rules, self._now())

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
