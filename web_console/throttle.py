"""Login throttling: a growing delay per (account, address), and a cap per address.

Counted in memory per process. Two rules, both keyed on where the attempt comes from, so that
failures from an attacker's address never lock a real user out from their own desk:

- **per (account, address)**: the first ``free_failures`` failures cost nothing; after that
  each further attempt must wait ``base_delay`` seconds, doubling with every failure up to
  ``max_delay``. A success from that address clears it.
- **per address**: at most ``max_per_address`` failures within ``window_seconds``, whatever
  the accounts tried (guessing many usernames from one place).

Check and count are one step: :meth:`LoginThrottle.reserve` books the attempt as a failure
*before* the password is checked (nothing awaits in between), so a thousand concurrent
attempts cannot all pass the check before the first failure is counted; a right password
then gives the reservation back (:meth:`LoginAttempt.succeeded`). A refused attempt gets the
same generic answer whether or not the password was right, so the throttle cannot be used to
test passwords.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass

from web_console.sessions import Clock

MAX_TRACKED_KEYS = 10_000


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    last: float = 0.0
    next_allowed: float = 0.0

    def quiet_since(self) -> float:
        return max(self.last, self.next_allowed)


@dataclass(slots=True)
class LoginAttempt:
    """An attempt that passed the throttle; it counts as a failure unless it succeeds."""

    throttle: LoginThrottle
    account: str
    address: str
    at: float

    def succeeded(self) -> None:
        """The password was right: the failure booked for this attempt is given back."""
        self.throttle._give_back(self)


class LoginThrottle:
    def __init__(
        self,
        *,
        max_per_address: int = 20,
        window_seconds: float = 15 * 60,
        free_failures: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 15 * 60,
        clock: Clock = time.monotonic,
    ) -> None:
        self._max_per_address = max_per_address
        self._window = window_seconds
        self._free = free_failures
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._clock = clock
        self._by_address: dict[str, deque[float]] = {}
        self._by_pair: dict[tuple[str, str], _Backoff] = {}

    def reserve(self, account: str, address: str) -> LoginAttempt | None:
        """Book an attempt (as a failure) and return it, or None when it must wait.

        Synchronous on purpose: the check and the count cannot be separated by another
        request's attempt.
        """
        now = self._clock()
        if len(self._by_address) + len(self._by_pair) > MAX_TRACKED_KEYS:
            self._forget_stale(now)
        recent = self._recent(address, now)
        pair = self._pair(account, address, now)
        if len(recent) >= self._max_per_address:
            return None
        if pair is not None and pair.failures >= self._free and now < pair.next_allowed:
            return None
        self._by_address.setdefault(address, recent).append(now)
        pair = self._by_pair.setdefault((account, address), _Backoff())
        pair.failures += 1
        pair.last = now
        if pair.failures >= self._free:
            pair.next_allowed = now + self.delay_after(pair.failures)
        return LoginAttempt(self, account, address, now)

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures of one account from one address."""
        if failures < self._free:
            return 0.0
        doublings = min(failures - self._free, 32)  # 2**32 s is past any cap
        return float(min(self._max_delay, self._base_delay * 2**doublings))

    def _give_back(self, attempt: LoginAttempt) -> None:
        self._by_pair.pop((attempt.account, attempt.address), None)
        recent = self._by_address.get(attempt.address)
        if recent is not None:
            with contextlib.suppress(ValueError):  # already slid out of the window
                recent.remove(attempt.at)
            if not recent:
                del self._by_address[attempt.address]

    def _pair(self, account: str, address: str, now: float) -> _Backoff | None:
        # Failures are forgotten a window after the last attempt or the end of the delay.
        pair = self._by_pair.get((account, address))
        if pair is not None and now - pair.quiet_since() > self._window:
            del self._by_pair[(account, address)]
            return None
        return pair

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._by_address.get(address)
        if failures is None:
            return deque()
        cutoff = now - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._by_address[address]
        return failures

    def _forget_stale(self, now: float) -> None:
        # Guessing many usernames must not grow memory without bound: drop what has expired.
        for address in list(self._by_address):
            self._recent(address, now)
        for account, address in list(self._by_pair):
            self._pair(account, address, now)
