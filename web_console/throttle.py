"""Login throttling: too many failures for one account, or from one address, lock it a while.

Counted in memory per process. A locked login gets the same generic answer whether or not the
password was right, so the lock cannot be used to test passwords.
"""

from __future__ import annotations

import time
from collections import deque

from web_console.sessions import Clock

MAX_TRACKED_KEYS = 10_000


class LoginThrottle:
    def __init__(
        self,
        *,
        max_per_account: int = 5,
        max_per_address: int = 20,
        window_seconds: float = 15 * 60,
        clock: Clock = time.monotonic,
    ) -> None:
        self._limits = {"account": max_per_account, "address": max_per_address}
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, kind: str, key: str) -> deque[float]:
        failures = self._failures.get((kind, key))
        if failures is None:
            return deque()
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[(kind, key)]
        return failures

    def is_locked(self, account: str, address: str) -> bool:
        """True when either the account or the address has reached its failure limit."""
        return (
            len(self._recent("account", account)) >= self._limits["account"]
            or len(self._recent("address", address)) >= self._limits["address"]
        )

    def record_failure(self, account: str, address: str) -> None:
        now = self._clock()
        if len(self._failures) > MAX_TRACKED_KEYS:
            self._forget_stale()
        for kind, key in (("account", account), ("address", address)):
            self._failures.setdefault((kind, key), deque()).append(now)

    def _forget_stale(self) -> None:
        # Guessing many usernames must not grow memory without bound: drop expired counts.
        for kind, key in list(self._failures):
            self._recent(kind, key)

    def record_success(self, account: str) -> None:
        """A right password clears the account's count (the address keeps its own)."""
        self._failures.pop(("account", account), None)
