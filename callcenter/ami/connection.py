"""One supervised AMI TCP session: connect, log in, watch, reconnect.

:class:`AmiConnection` keeps a logged-in session open: it reconnects with capped exponential
backoff (with jitter), finds a silently dead connection with a ``Ping`` watchdog, and sends
actions with timeouts and typed errors. It knows nothing of what the events mean; the
:class:`~callcenter.ami.bridge.AmiBridge` on top of it does.

panoramisk's ``Manager`` is not used for this: its reconnect has a fixed delay, its pinger
never checks for a reply, and it re-sends pending actions after a reconnect (an Originate
could be dialled twice). The wire protocol is panoramisk's, fixed in :mod:`callcenter.ami.protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiError,
    AmiNotConnected,
    AmiTimeout,
)
from callcenter.ami.events import AmiResponse, ConnectionState
from callcenter.ami.protocol import AmiAction, BridgeProtocol, EventCallback, to_response
from callcenter.settings import AmiSettings

_LOG = logging.getLogger(__name__)

LOGOFF_TIMEOUT = 1.0
_ATTEMPT_STATES = frozenset({ConnectionState.CONNECTING, ConnectionState.AUTHENTICATING})


@dataclass
class AmiCounters:
    """Monotonic counters for ``/metrics``."""

    events_received: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    auth_failures: int = 0
    actions_sent: int = 0
    actions_failed: int = 0
    action_timeouts: int = 0
    watchdog_drops: int = 0
    resyncs: int = 0
    resync_failures: int = 0


def backoff_delay(attempt: int, minimum: float, maximum: float) -> float:
    """Delay before retry ``attempt`` (0-based): doubling from ``minimum``, capped, with jitter.

    The jitter (uniform over the upper half) keeps several servers that lost Asterisk at the
    same moment from reconnecting in lockstep.
    """
    cap = min(maximum, minimum * 2 ** min(attempt, 32))
    return random.uniform(cap / 2, cap)


def tls_context(settings: AmiSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    cafile = str(settings.tls_cafile) if settings.tls_cafile else None
    return ssl.create_default_context(cafile=cafile)


class AmiConnection:
    """The AMI session of :class:`~callcenter.ami.bridge.AmiBridge`; see the module docstring.

    ``on_event`` receives every event that answers no pending action, on the read path: it
    must not block. ``on_state`` is called after every change of :attr:`state`.
    """

    def __init__(
        self,
        settings: AmiSettings,
        *,
        on_event: EventCallback,
        on_state: Callable[[], None],
        tap: Callable[[bytes], None] | None = None,
        backlog: Callable[[], int] | None = None,
    ) -> None:
        self._settings = settings
        self._on_event = on_event
        self._on_state = on_state
        self._tap = tap
        self._backlog = backlog
        self._ssl = tls_context(settings)
        self.counters = AmiCounters()
        self._state = ConnectionState.DISCONNECTED
        self._last_error: str | None = None
        self._logged_failure: tuple[ConnectionState, str] | None = None
        self._protocol: BridgeProtocol | None = None
        self._connected = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected_since: float | None = None
        self.asterisk_version: str | None = None

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def last_error(self) -> str | None:
        """Why the last connect, login or session failed (kept after a reconnect)."""
        return self._last_error

    @property
    def address(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    async def start(self) -> None:
        if self._run_task is None or self._run_task.done():
            self._logged_failure = None
            self._run_task = asyncio.get_running_loop().create_task(self._run(), name="ami")

    async def stop(self) -> None:
        run_task, self._run_task = self._run_task, None
        self._stopping = True
        try:
            protocol = self._protocol
            if protocol is not None and self._state is ConnectionState.CONNECTED:
                with contextlib.suppress(AmiError):
                    await self._send(protocol, AmiAction({"Action": "Logoff"}), LOGOFF_TIMEOUT)
            if run_task is not None:
                run_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run_task
        finally:
            self._stopping = False
        self._set_state(ConnectionState.DISCONNECTED)

    async def wait_connected(self) -> None:
        await self._connected.wait()

    def drop(self, reason: str) -> None:
        """End the current session now (reason kept as ``last_error``); it reconnects."""
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            self._last_error = reason
            protocol.abort()

    async def send(
        self,
        action: AmiAction,
        timeout: float | None = None,  # noqa: ASYNC109 - expiry also forgets the action
    ) -> AmiResponse:
        """Send on the logged-in session; raises AmiNotConnected, AmiTimeout, AmiActionError."""
        protocol = self._protocol
        if protocol is None or self._state is not ConnectionState.CONNECTED:
            raise AmiNotConnected(f"AMI is {self._state.value}: cannot send {action.name}")
        return await self._send(protocol, action, timeout)

    async def _send(
        self,
        protocol: BridgeProtocol,
        action: AmiAction,
        timeout: float | None,  # noqa: ASYNC109 - see send()
    ) -> AmiResponse:
        limit = self._settings.action_timeout if timeout is None else timeout
        self.counters.actions_sent += 1
        _LOG.debug("sending action=%s action_id=%s", action.name, action.id)
        try:
            future = protocol.send(action)
            async with asyncio.timeout(limit):
                messages = await future
        except TimeoutError:
            protocol.forget(action)
            self.counters.actions_failed += 1
            self.counters.action_timeouts += 1
            raise AmiTimeout(action.name, str(action.id), limit) from None
        except AmiError:
            self.counters.actions_failed += 1
            raise
        except asyncio.CancelledError:
            protocol.forget(action)
            raise
        response = to_response(action, messages)
        if not response.ok:
            self.counters.actions_failed += 1
            raise AmiActionError(response)
        return response

    async def _run(self) -> None:
        attempt = 0
        while True:
            logged_in = False
            try:
                logged_in = await self._session()
            except AmiAuthError as exc:
                self.counters.auth_failures += 1
                self._set_state(ConnectionState.AUTH_FAILED, str(exc))
            except (OSError, TimeoutError, AmiError) as exc:
                self.counters.connect_failures += 1
                self._set_state(ConnectionState.DISCONNECTED, describe(exc))
            except Exception as exc:
                # A defect in one session must not end the supervision of the PBX link.
                _LOG.exception("AMI session failed unexpectedly")
                self._set_state(ConnectionState.DISCONNECTED, describe(exc))
            if logged_in:
                attempt = 0
            delay = backoff_delay(
                attempt, self._settings.reconnect_min, self._settings.reconnect_max
            )
            attempt += 1
            _LOG.debug("AMI reconnecting in %.2f s (attempt %d)", delay, attempt)
            await asyncio.sleep(delay)
            self.counters.reconnects += 1

    async def _session(self) -> bool:
        """Connect, log in and serve until the connection ends; True if login succeeded."""
        self._set_state(ConnectionState.CONNECTING)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._settings.connect_timeout):
            _, protocol = await loop.create_connection(
                lambda: BridgeProtocol(self._on_event, tap=self._tap, backlog=self._backlog),
                self._settings.host,
                self._settings.port,
                ssl=self._ssl,
            )
        self._protocol = protocol
        try:
            self._set_state(ConnectionState.AUTHENTICATING)
            await self._login(protocol)
            self._on_logged_in(protocol)
            reason = await protocol.closed_future
            if not protocol.closed_locally and not self._stopping:
                self._last_error = f"connection lost: {describe(reason)}"
            return True
        finally:
            self._end_session(protocol)

    async def _login(self, protocol: BridgeProtocol) -> None:
        login = AmiAction(
            {
                "Action": "Login",
                "Username": self._settings.username,
                "Secret": self._settings.secret.get_secret_value(),
                "Events": "on",
            }
        )
        try:
            await self._send(protocol, login, self._settings.action_timeout)
        except AmiActionError as exc:
            raise AmiAuthError(
                f"AMI login refused for user {self._settings.username!r}: {exc.message}"
            ) from None

    def _on_logged_in(self, protocol: BridgeProtocol) -> None:
        self.counters.connects += 1
        self.asterisk_version = protocol.banner_version
        self.connected_since = time.time()
        self._logged_failure = None
        _LOG.info(
            "AMI logged in to %s (Asterisk Call Manager/%s)", self.address, self.asterisk_version
        )
        self._connected.set()
        self._watchdog_task = asyncio.get_running_loop().create_task(
            self._watchdog(protocol), name="ami-watchdog"
        )
        self._set_state(ConnectionState.CONNECTED)

    def _end_session(self, protocol: BridgeProtocol) -> None:
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
            self._watchdog_task = None
        protocol.close()
        self._protocol = None
        self._connected.clear()
        self.connected_since = None
        if self._state is ConnectionState.CONNECTED:
            error = None if self._stopping else self._last_error
            self._set_state(ConnectionState.DISCONNECTED, error)

    async def _watchdog(self, protocol: BridgeProtocol) -> None:
        """Ping every interval; no reply within one interval means the peer is gone.

        A connection that died right after answering is dropped two intervals later at most.
        """
        interval = self._settings.ping_interval
        while not protocol.closed:
            await asyncio.sleep(interval)
            try:
                await self._send(protocol, AmiAction({"Action": "Ping"}), interval)
            except AmiTimeout:
                self.counters.watchdog_drops += 1
                self._last_error = f"no reply to Ping within {interval:g} s"
                protocol.abort()
                return
            except AmiNotConnected:
                return
            except AmiActionError as exc:
                _LOG.warning("AMI Ping answered with an error: %s", exc)

    def _set_state(self, state: ConnectionState, error: str | None = None) -> None:
        if state in _ATTEMPT_STATES and self._logged_failure is not None:
            # While retrying after a failure the visible state stays that failure (auth_failed
            # or disconnected) until an attempt ends differently: states are outcomes.
            return
        if error is not None:
            self._last_error = error
            if state in (ConnectionState.AUTH_FAILED, ConnectionState.DISCONNECTED):
                self._log_failure(state, error)
        if state is self._state:
            return
        self._state = state
        _LOG.debug("AMI state %s", state.value)
        self._on_state()

    def _log_failure(self, state: ConnectionState, error: str) -> None:
        # Once per state change: a PBX down for an hour is one line, not thousands.
        if self._logged_failure == (state, error):
            _LOG.debug("AMI still %s: %s", state.value, error)
            return
        self._logged_failure = (state, error)
        if state is ConnectionState.AUTH_FAILED:
            _LOG.error(
                "%s (check ami.username / ami.secret and manager.conf); retrying with backoff",
                error,
            )
        else:
            _LOG.warning("AMI %s: %s; reconnecting with backoff", self.address, error)


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "closed by Asterisk"
    if isinstance(exc, AmiError):
        return str(exc)
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
