"""The AMI bridge: Asterisk's events in, typed actions out, for the whole server.

:class:`AmiBridge` sits on one supervised :class:`~callcenter.ami.connection.AmiConnection`
(login, reconnect with backoff, Ping watchdog) and adds what the events mean:

- every AMI event is published on the :class:`~callcenter.bus.EventBus` as a typed
  :class:`AmiEvent`, straight from the read path (publishing never waits for subscribers);
- after every (re)login, once Asterisk reports ``FullyBooted``, the live state
  (``CoreShowChannels``, ``QueueStatus``) is read and published as :class:`AmiResynced`, so
  whatever happened while disconnected can be reconciled;
- a ``Shutdown`` event makes :meth:`AmiBridge.originate` raise :class:`AsteriskUnavailable`
  until Asterisk is back and ``FullyBooted`` again;
- :class:`AmiConnectionChanged` is published whenever the session state or that readiness
  changes, and :meth:`AmiBridge.health` gives both to ``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from callcenter.ami.connection import AmiConnection, AmiCounters
from callcenter.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiError,
    AmiNotConnected,
    AmiTimeout,
    AsteriskUnavailable,
)
from callcenter.ami.events import (
    AmiConnectionChanged,
    AmiEvent,
    AmiResponse,
    AmiResynced,
    AmiSnapshot,
    ConnectionState,
)
from callcenter.ami.protocol import ActionValue, AmiAction
from callcenter.bus import EventBus
from callcenter.settings import AmiSettings

__all__ = [
    "AmiActionError",
    "AmiAuthError",
    "AmiBridge",
    "AmiConnectionChanged",
    "AmiCounters",
    "AmiError",
    "AmiEvent",
    "AmiNotConnected",
    "AmiResponse",
    "AmiResynced",
    "AmiSnapshot",
    "AmiTimeout",
    "AsteriskUnavailable",
    "ConnectionState",
]

_LOG = logging.getLogger(__name__)

RESYNC_ATTEMPTS = 3
# Asterisk sends FullyBooted right after a Login response once it has booted, and at the end
# of boot to sessions already logged in; both only to users with read=system (verified on
# Asterisk 22), which also brings Shutdown. A session that has not seen it after BOOT_WAIT
# logs in again (it may have logged in during boot); after UNBOOTED_LOGINS such sessions in a
# row the user evidently lacks read=system, and Asterisk is assumed booted.
BOOT_WAIT = 2.0
UNBOOTED_LOGINS = 3


class AmiBridge:
    """The server's one link to Asterisk's AMI; see the module docstring.

    Lifecycle: ``await start()`` returns at once (connecting goes on in the background),
    ``await stop()`` logs off and cancels everything. Actions raise :class:`AmiNotConnected`
    while there is no logged-in session, :class:`AmiTimeout` and :class:`AmiActionError`.
    ``tap`` receives the raw bytes read from Asterisk (for recording test fixtures only);
    ``boot_wait`` is how long a login waits for ``FullyBooted`` before logging in again.
    """

    def __init__(
        self,
        settings: AmiSettings,
        bus: EventBus,
        *,
        tap: Callable[[bytes], None] | None = None,
        boot_wait: float = BOOT_WAIT,
    ) -> None:
        self._settings = settings
        self._boot_wait = boot_wait
        self._bus = bus
        self._connection = AmiConnection(
            settings,
            on_event=self._on_message,
            on_state=self._on_connection_state,
            tap=tap,
            backlog=bus.backlog,
        )
        self._asterisk_ready = False
        self._ready = asyncio.Event()
        self._resync_task: asyncio.Task[None] | None = None
        self._boot_guard: asyncio.Task[None] | None = None
        self._unbooted_logins = 0
        self._last_event_at: float | None = None
        self._last_resync_at: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        await self._connection.start()

    async def stop(self) -> None:
        """Log off and stop reconnecting; pending actions fail with :class:`AmiNotConnected`."""
        self._cancel_resync()
        await self._connection.stop()
        _LOG.info("AMI bridge stopped")

    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109 - the contract
        """Wait for a logged-in session; ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            await self._connection.wait_connected()

    async def wait_ready(self, timeout: float) -> None:  # noqa: ASYNC109 - the contract
        """Wait until logged in and ``FullyBooted``; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    # -- state -------------------------------------------------------------------------------

    @property
    def connection_state(self) -> ConnectionState:
        return self._connection.state

    @property
    def last_error(self) -> str | None:
        return self._connection.last_error

    @property
    def asterisk_ready(self) -> bool:
        """Logged in, ``FullyBooted`` seen, and no ``Shutdown`` since: calls can be placed."""
        return self._asterisk_ready

    @property
    def counters(self) -> AmiCounters:
        return self._connection.counters

    def health(self) -> dict[str, Any]:
        """Plain data for ``/healthz`` and ``/metrics``."""
        connection = self._connection
        return {
            "state": connection.state.value,
            "connected": connection.state is ConnectionState.CONNECTED,
            "asterisk_ready": self._asterisk_ready,
            "last_error": connection.last_error,
            "address": connection.address,
            "tls": self._settings.tls,
            "asterisk_version": connection.asterisk_version,
            "connected_since": connection.connected_since,
            "last_event_at": self._last_event_at,
            "last_resync_at": self._last_resync_at,
            "counters": asdict(connection.counters),
        }

    # -- actions -----------------------------------------------------------------------------

    async def send_action(
        self,
        headers: Mapping[str, ActionValue],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - expiry also forgets the action
    ) -> AmiResponse:
        """Send one action and return its response; raises on ``Response: Error``."""
        return await self._connection.send(AmiAction(headers), timeout)

    async def send_list_action(
        self,
        headers: Mapping[str, ActionValue],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - expiry also forgets the action
    ) -> AmiResponse:
        """Send an action answered by an event list; the events are in ``response.events``."""
        return await self._connection.send(AmiAction(headers, expects_list=True), timeout)

    async def ping(self) -> AmiResponse:
        return await self.send_action({"Action": "Ping"})

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        ring_timeout: float = 30.0,
        action_id: str | None = None,
    ) -> AmiResponse:
        """Queue an async Originate; returns once Asterisk accepted it.

        The outcome arrives later on the bus as an ``OriginateResponse`` event carrying this
        response's ``action_id``. Set ``channel_id`` to our own id (attempt id): the channel's
        Uniqueid is then that id, so after a crash the call can be found in CoreShowChannels.
        Raises :class:`AsteriskUnavailable` (:class:`AmiNotConnected` when there is no
        session) while Asterisk is shut down or not fully booted.
        """
        if not self._asterisk_ready:
            if self.connection_state is not ConnectionState.CONNECTED:
                raise AmiNotConnected(f"AMI is {self.connection_state.value}: cannot originate")
            raise AsteriskUnavailable("Asterisk is not fully booted (or is shutting down)")
        headers: dict[str, ActionValue] = {
            "Action": "Originate",
            "Channel": channel,
            "Async": "true",
            "Timeout": str(int(ring_timeout * 1000)),
        }
        optional = {
            "Context": context,
            "Exten": exten,
            "Application": application,
            "Data": data,
            "CallerID": caller_id,
            "ChannelId": channel_id,
            "OtherChannelId": other_channel_id,
            "ActionID": action_id,
        }
        headers.update({key: value for key, value in optional.items() if value is not None})
        if context is not None or exten is not None:
            headers["Priority"] = str(priority)
        if variables:
            headers["Variable"] = [f"{name}={value}" for name, value in variables.items()]
        response = await self.send_action(headers)
        _LOG.info(
            "originate queued channel=%s channel_id=%s action_id=%s",
            channel,
            channel_id or "-",
            response.action_id,
        )
        return response

    async def play_dtmf(
        self, channel: str, digit: str, *, duration_ms: int | None = None
    ) -> AmiResponse:
        """Play one DTMF digit on ``channel`` (Asterisk answers "DTMF successfully queued")."""
        headers: dict[str, ActionValue] = {"Action": "PlayDTMF", "Channel": channel, "Digit": digit}
        if duration_ms is not None:
            headers["Duration"] = str(duration_ms)
        return await self.send_action(headers)

    async def core_show_channels(self) -> tuple[AmiEvent, ...]:
        response = await self.send_list_action({"Action": "CoreShowChannels"})
        return tuple(e for e in response.events if e.name == "CoreShowChannel")

    async def queue_status(self) -> tuple[AmiEvent, ...]:
        response = await self.send_list_action({"Action": "QueueStatus"})
        return tuple(e for e in response.events if not e.name.endswith("Complete"))

    async def resync(self) -> AmiSnapshot:
        """Read the live channels and queues now (done automatically after every login)."""
        taken_at = time.time()
        channels = await self.core_show_channels()
        try:
            queues = await self.queue_status()
        except AmiActionError as exc:
            # app_queue not loaded: there are no queues to reconcile.
            _LOG.warning("QueueStatus refused (%s); resync without queues", exc.message)
            queues = ()
        return AmiSnapshot(channels=channels, queues=queues, taken_at=taken_at)

    async def publish_resync(self) -> None:
        """Resync now and publish the snapshot (as after a login) when Asterisk is ready;
        otherwise the resync after the coming login publishes one. A process that becomes
        the leader (issue 18) settles the calls its predecessor left with it."""
        if not self.asterisk_ready:
            return
        snapshot = await self.resync()
        self.counters.resyncs += 1
        self._last_resync_at = time.time()
        self._bus.publish(AmiResynced(snapshot))

    # -- events (read path: keep it fast, never await here) ----------------------------------

    def _on_message(self, event: AmiEvent) -> None:
        self.counters.events_received += 1
        self._last_event_at = event.received_at
        if event.name == "FullyBooted":
            self._on_fully_booted()
        elif event.name == "Shutdown":
            _LOG.warning(
                "Asterisk is shutting down (%s, restart=%s): originate refused until it is back",
                event.get("Shutdown"),
                event.get("Restart"),
            )
            self._set_ready(False)
        self._bus.publish(event)

    def _on_connection_state(self) -> None:
        if self.connection_state is ConnectionState.CONNECTED:
            self._boot_guard = asyncio.get_running_loop().create_task(
                self._relogin_unless_booted(), name="ami-boot-guard"
            )
        else:
            self._cancel_resync()
            if self._boot_guard is not None:
                self._boot_guard.cancel()
                self._boot_guard = None
            if self._asterisk_ready:
                self._set_ready(False)
                return
        self._publish_status()

    async def _relogin_unless_booted(self) -> None:
        try:
            async with asyncio.timeout(self._boot_wait):
                await self._ready.wait()
        except TimeoutError:
            self._unbooted_logins += 1
        else:
            self._unbooted_logins = 0
            return
        if self._unbooted_logins < UNBOOTED_LOGINS:
            reason = f"no FullyBooted within {self._boot_wait:g} s of login"
            _LOG.info("AMI %s (Asterisk still booting?): logging in again", reason)
            self._connection.drop(reason)
            return
        if self._unbooted_logins == UNBOOTED_LOGINS:
            _LOG.warning(
                "AMI user %r never receives FullyBooted: grant it read=system in manager.conf "
                "(needed for FullyBooted and Shutdown); assuming Asterisk is booted",
                self._settings.username,
            )
        self._on_fully_booted()

    def _on_fully_booted(self) -> None:
        self._cancel_resync()
        self._resync_task = asyncio.get_running_loop().create_task(
            self._become_ready_and_resync(), name="ami-resync"
        )

    def _cancel_resync(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
            self._resync_task = None

    async def _become_ready_and_resync(self) -> None:
        # FullyBooted can be parsed in the same read as the Login response, before the
        # connection has marked the session logged in: ready means logged in and booted.
        await self._connection.wait_connected()
        self._set_ready(True)
        for attempt in range(1, RESYNC_ATTEMPTS + 1):
            try:
                snapshot = await self.resync()
            except AmiNotConnected:
                return
            except AmiError as exc:
                self.counters.resync_failures += 1
                _LOG.warning("AMI resync failed (attempt %d): %s", attempt, exc)
                await asyncio.sleep(self._settings.reconnect_min * 2**attempt)
                continue
            self.counters.resyncs += 1
            self._last_resync_at = time.time()
            _LOG.info(
                "AMI resynced: %d channels, %d queue members, %d queue entries",
                len(snapshot.channels),
                len(snapshot.queue_members),
                len(snapshot.queue_entries),
            )
            self._bus.publish(AmiResynced(snapshot))
            return
        _LOG.error("AMI resync gave up after %d attempts: live state may be stale", attempt)

    def _set_ready(self, ready: bool) -> None:
        if ready is self._asterisk_ready:
            return
        self._asterisk_ready = ready
        if ready:
            self._ready.set()
            _LOG.info("Asterisk fully booted: originate allowed")
        else:
            self._ready.clear()
        self._publish_status()

    def _publish_status(self) -> None:
        self._bus.publish(
            AmiConnectionChanged(
                state=self.connection_state,
                asterisk_ready=self._asterisk_ready,
                last_error=self.last_error,
            )
        )
