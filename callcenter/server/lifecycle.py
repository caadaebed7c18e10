"""One start/stop mechanism for the server's parts: started in order, stopped in exact reverse.

Each part registers its ``async stop`` once it has started. If a later part fails to start,
:meth:`Lifecycle.starting` unwinds the parts already started (newest first) before the error
goes up, so a failed start-up leaves nothing running. At shutdown a stop that fails is logged
and the parts before it still stop: one broken part must not leave the database open.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

_LOG = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]


class Stoppable(Protocol):
    async def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)


class Lifecycle:
    """The started parts, by name, with the coroutine that stops each."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Stop]] = []

    @property
    def parts(self) -> tuple[str, ...]:
        """The names of the running parts, in start order."""
        return tuple(name for name, _stop in self._stops)

    def started(self, name: str, stop: Stop) -> None:
        """Record that ``name`` is running and how to stop it."""
        self._stops.append((name, stop))

    async def start(self, name: str, starting: Awaitable[S]) -> S:
        """Await a part's start and register its handle's ``stop``; returns the handle."""
        handle = await starting
        self.started(name, handle.stop)
        return handle

    @contextlib.asynccontextmanager
    async def starting(self) -> AsyncIterator[Lifecycle]:
        """Start parts inside; if one fails (or start-up is cancelled), stop those started."""
        try:
            yield self
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop every part, newest first; a stop that fails is logged and the rest go on."""
        while self._stops:
            name, stop = self._stops.pop()
            _LOG.debug("stopping %s", name)
            try:
                await stop()
            except Exception:
                _LOG.exception("stopping %s failed; stopping the other parts", name)
