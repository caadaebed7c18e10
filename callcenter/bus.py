"""In-process publish/subscribe of typed events.

The publisher never waits for a subscriber: ``publish`` is a plain function that puts the event
into each matching subscriber's bounded queue and returns. Each subscriber has its own task that
awaits its handler one event at a time, in order. A slow subscriber fills its own queue and
loses events (counted in ``dropped``), a failing handler is logged and counted; neither blocks
the publisher nor the other subscribers. This matters because the AMI reader publishes from the
socket's read path, and Asterisk ends a session whose reader stalls for 100 ms.

Subscriptions are made by event class (``isinstance``, so subscribing to a base class receives
every subclass) with an optional predicate evaluated on the publisher's side, so a subscriber
that only wants a few AMI event names does not have its queue filled with the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

_LOG = logging.getLogger(__name__)

E = TypeVar("E")

Handler = Callable[[E], Awaitable[None]]
Predicate = Callable[[E], bool]

DEFAULT_QUEUE_SIZE = 10_000


# Longest a subscriber works through its queue before letting other tasks run.
_TURN_SECONDS = 0.005


@dataclass(frozen=True)
class SubscriptionStats:
    """Counters of one subscriber, for ``/metrics``."""

    name: str
    queued: int
    delivered: int
    dropped: int
    failed: int


class Subscription(Generic[E]):
    """One subscriber: its queue, its worker task and its counters."""

    def __init__(
        self,
        bus: EventBus,
        event_type: type[E],
        handler: Handler[E],
        *,
        name: str,
        predicate: Predicate[E] | None,
        maxsize: int,
        paces_publishers: bool = False,
    ) -> None:
        self.name = name
        self.paces_publishers = paces_publishers
        self.event_type = event_type
        self._bus = bus
        self._handler = handler
        self._predicate = predicate
        self._queue: asyncio.Queue[E] = asyncio.Queue(maxsize=maxsize)
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self._dropping = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"event-subscriber:{name}"
        )

    def wants(self, event: object) -> bool:
        if not isinstance(event, self.event_type):
            return False
        if self._predicate is None:
            return True
        try:
            return self._predicate(event)
        except Exception:
            _LOG.exception("predicate of subscriber %s failed on %r", self.name, event)
            return False

    def offer(self, event: E) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if not self._dropping:
                # Logged once per overflow episode, not once per lost event.
                _LOG.warning(
                    "subscriber %s is too slow: queue full (%d), dropping events",
                    self.name,
                    self._queue.maxsize,
                )
                self._dropping = True
            return
        self._dropping = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        turn_started = loop.time()
        while True:
            # Queue.get() does not suspend while items are waiting, so a subscriber working
            # through a backlog would hold the loop until it is empty: hand it back regularly.
            if loop.time() - turn_started > _TURN_SECONDS:
                await asyncio.sleep(0)
                turn_started = loop.time()
            event = await self._queue.get()
            try:
                await self._handler(event)
                self.delivered += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failed += 1
                _LOG.exception("subscriber %s failed on %s", self.name, type(event).__name__)
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        """Wait until every event queued so far has been handled."""
        await self._queue.join()

    async def close(self) -> None:
        """Unsubscribe and stop the worker; events still queued are discarded."""
        self._bus._remove(self)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            name=self.name,
            queued=self._queue.qsize(),
            delivered=self.delivered,
            dropped=self.dropped,
            failed=self.failed,
        )


class EventBus:
    """Typed publish/subscribe on one event loop; see the module docstring for the contract."""

    def __init__(self, *, default_queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._subscriptions: list[Subscription[Any]] = []
        self._pacers: list[Subscription[Any]] = []
        self._default_queue_size = default_queue_size
        self.published = 0

    def subscribe(
        self,
        event_type: type[E],
        handler: Handler[E],
        *,
        name: str | None = None,
        predicate: Predicate[E] | None = None,
        maxsize: int | None = None,
        paces_publishers: bool = False,
    ) -> Subscription[E]:
        """Deliver every published ``event_type`` (for which ``predicate`` holds) to ``handler``.

        Must be called with the event loop running (the subscriber's task starts at once).
        ``paces_publishers``: this subscriber's backlog counts in :meth:`backlog`, which the AMI
        reader watches to slow down instead of letting the queue (and memory) grow; for
        subscribers that must see every event (the call tracker), not for optional ones.
        """
        subscription = Subscription(
            self,
            event_type,
            handler,
            name=name or str(getattr(handler, "__qualname__", repr(handler))),
            predicate=predicate,
            maxsize=maxsize or self._default_queue_size,
            paces_publishers=paces_publishers,
        )
        self._subscriptions.append(subscription)
        if paces_publishers:
            self._pacers.append(subscription)
        return subscription

    def publish(self, event: object) -> None:
        """Queue ``event`` for every matching subscriber; never blocks, never raises for them."""
        self.published += 1
        for subscription in tuple(self._subscriptions):
            if subscription.wants(event):
                subscription.offer(event)

    async def join(self) -> None:
        """Wait until every subscriber has handled everything published so far (for tests)."""
        for subscription in tuple(self._subscriptions):
            await subscription.join()

    async def close(self) -> None:
        """Stop every subscriber."""
        for subscription in tuple(self._subscriptions):
            await subscription.close()

    def stats(self) -> list[SubscriptionStats]:
        return [subscription.stats() for subscription in self._subscriptions]

    def backlog(self) -> int:
        """Events waiting for the slowest subscriber that paces publishers (0 if none)."""
        return max((subscription.backlog for subscription in self._pacers), default=0)

    def _remove(self, subscription: Subscription[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)
        with contextlib.suppress(ValueError):
            self._pacers.remove(subscription)
