"""The websocket hub at ``/ws``: live events to browsers, by role or by user.

Every browser socket has its own bounded outbox and its own writer task, so ``broadcast`` and
``send_to_user`` only serialise once and enqueue: a slow or dead browser fills its own outbox
and is closed (it reconnects and resyncs), it never blocks the event loop or other sockets.
A new socket first receives what the ``on_connect`` providers of its role give (the current
state), so a browser that reconnects after a network drop is whole again.

The socket is authenticated by the session cookie (the access middleware checks the role like
any route), refused from other origins (a websocket is not covered by CORS or SameSite on
every browser), and kept alive with protocol pings (``heartbeat``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from callcenter.tasks import BackgroundTasks
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import Role
from web_console.access import STAFF, WS_PATH, allow, require_session
from web_console.keys import SESSIONS, WS_HUB
from web_console.sessions import Session

_LOG = logging.getLogger(__name__)

Provider = Callable[[Session], Awaitable[list[dict[str, Any]]]]
# The live ones of some sessions, by key, as stored now (SessionStore.current).
SessionCheck = Callable[[Iterable[Session]], Awaitable[Mapping[str, Session]]]
OUTBOX_SIZE = 256
HEARTBEAT_SECONDS = 20.0
# Close code for "you were too slow": the browser reconnects and resyncs.
CLOSE_OVERLOADED = 1013
CLOSE_WAIT_SECONDS = 1.0
# Close code for "your session ended": the page goes to the login form.
CLOSE_SESSION_ENDED = 4401
# Close code for "your role changed" (1012, service restart): the page reconnects and the new
# socket is served under the new role.
CLOSE_ROLE_CHANGED = 1012
# Sessions end on any process (a logout behind the load balancer, a disabled user): every
# process checks its sockets' sessions this often, in one database read.
SESSION_CHECK_SECONDS = 3.0
routes = web.RouteTableDef()


@dataclass(eq=False)
class WsClient:
    """One open browser socket and its outbox."""

    socket: web.WebSocketResponse
    session: Session
    outbox: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=OUTBOX_SIZE))
    overflowed: bool = False
    # Called once when the outbox overflows (the hub cuts the socket off).
    on_overflow: Callable[[WsClient], None] | None = None
    transport: asyncio.BaseTransport | None = None

    def offer(self, text: str) -> None:
        if self.overflowed:
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            # Dropping one message would leave the page silently wrong; cutting it off makes
            # it reconnect and receive the current state again.
            self.overflowed = True
            _LOG.warning("websocket of user %s too slow: closing it", self.session.username)
            if self.on_overflow is not None:
                self.on_overflow(self)


class WsHub:
    """Open sockets by role and user; see the module docstring for the contract."""

    def __init__(self, *, outbox_size: int = OUTBOX_SIZE) -> None:
        self._clients: set[WsClient] = set()
        self._writers: dict[WsClient, asyncio.Task[None]] = {}
        # Closing handshakes run on their own and are never waited for: held only so that
        # they are not collected half-way.
        self._closing = BackgroundTasks("ws-close")
        self._providers: dict[Role, list[Provider]] = {}
        self._outbox_size = outbox_size
        # username -> sockets open or opening here (from before their first messages).
        self._users: Counter[str] = Counter()
        # Told when a user's first socket here opens (True) and their last one closes (False).
        self.presence: Callable[[str, bool], None] | None = None
        self.sent = 0
        self.closed_slow = 0

    def __len__(self) -> int:
        return len(self._clients)

    def has_user(self, username: str) -> bool:
        """Whether a socket of ``username`` is open (or opening) on this process."""
        return self._users[username] > 0

    def on_connect(self, role: Role, provider: Provider) -> None:
        """Messages ``provider`` returns are sent first to each new socket of that role."""
        self._providers.setdefault(role, []).append(provider)

    async def broadcast(self, role: Role, message: dict[str, Any]) -> None:
        """Send ``message`` to every socket whose user has ``role`` (never waits on them)."""
        text = _encode(message)
        for client in tuple(self._clients):
            if client.session.role is role:
                client.offer(text)

    async def send_to_user(self, username: str, message: dict[str, Any]) -> None:
        """Send ``message`` to every socket of ``username`` (never waits on them)."""
        text = _encode(message)
        for client in tuple(self._clients):
            if client.session.username == username:
                client.offer(text)

    async def serve(self, request: web.Request, session: Session) -> web.WebSocketResponse:
        """Run one socket until it closes."""
        socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=64 * 1024)
        await socket.prepare(request)
        client = WsClient(socket, session, asyncio.Queue(maxsize=self._outbox_size))
        client.on_overflow = self._cut_off
        client.transport = request.transport
        self._users[session.username] += 1
        if self._users[session.username] == 1 and self.presence is not None:
            self.presence(session.username, True)
        try:
            await self._run(client)
        finally:
            self._users[session.username] -= 1
            if self._users[session.username] <= 0:
                del self._users[session.username]
                if self.presence is not None:
                    self.presence(session.username, False)
        return socket

    async def _run(self, client: WsClient) -> None:
        socket, session = client.socket, client.session
        for provider in self._providers.get(session.role, []):
            try:
                for message in await provider(session):
                    client.offer(_encode(message))
            except Exception as exc:  # one broken provider must not cost the others
                _LOG.error("websocket resync provider failed: %s", type(exc).__name__)
        self._clients.add(client)
        writer = asyncio.create_task(self._write(client), name="ws-writer")
        self._writers[client] = writer
        try:
            await self._read(client)
        finally:
            self._clients.discard(client)
            self._writers.pop(client, None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError, RuntimeError):
                await asyncio.wait_for(socket.close(), CLOSE_WAIT_SECONDS)

    async def _read(self, client: WsClient) -> None:
        # Browsers only listen; anything they send other than a ping is ignored.
        async for message in client.socket:
            if message.type is WSMsgType.TEXT and message.data == "ping":
                client.offer(_encode({"type": "pong"}))
            elif message.type is WSMsgType.ERROR:
                break

    def _cut_off(self, client: WsClient) -> None:
        """Stop writing to a socket whose browser stopped reading, and close it."""
        self.closed_slow += 1
        self._clients.discard(client)
        writer = self._writers.pop(client, None)
        if writer is not None:
            writer.cancel()
        self._closing.spawn(_close_or_abort(client), "slow")

    async def _write(self, client: WsClient) -> None:
        while True:
            text = await client.outbox.get()
            try:
                await client.socket.send_str(text)
            except (ConnectionError, RuntimeError):
                return  # the reader notices the close and cleans up
            self.sent += 1

    async def close_ended_sessions(
        self, check: SessionCheck, *, every: float = SESSION_CHECK_SECONDS
    ) -> None:
        """Close sockets whose session ended (logout, expiry, a disabled user; here or on
        another process): no more patient data; and those whose user's role changed."""
        while True:
            await asyncio.sleep(every)
            clients = tuple(self._clients)
            if not clients:
                continue
            try:
                live = await check(client.session for client in clients)
            except StorageUnavailable:
                _LOG.warning("websocket session check: the database is unavailable")
                continue
            for client in clients:
                current = live.get(client.session.key)
                if current is None:
                    self._close_client(client, CLOSE_SESSION_ENDED, b"session ended")
                elif current.role is not client.session.role:
                    self._close_client(client, CLOSE_ROLE_CHANGED, b"role changed")

    def _close_client(self, client: WsClient, code: int, message: bytes) -> None:
        if client in self._clients:
            self._clients.discard(client)
            self._closing.spawn(_close(client.socket, code, message), "session")

    def close_session(self, session: Session, code: int, message: bytes) -> None:
        """Close every socket of this session now (its session ended or its role changed)."""
        for client in tuple(self._clients):
            if client.session.key == session.key:
                self._close_client(client, code, message)

    def session_ended(self, session: Session) -> None:
        self.close_session(session, CLOSE_SESSION_ENDED, b"session ended")

    def role_changed(self, session: Session) -> None:
        self.close_session(session, CLOSE_ROLE_CHANGED, b"role changed")

    async def close_all(self) -> None:
        for client in tuple(self._clients):
            with contextlib.suppress(Exception):
                await client.socket.close(code=1001, message=b"server shutdown")


async def _close(socket: web.WebSocketResponse, code: int, message: bytes) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        await asyncio.wait_for(socket.close(code=code, message=message), CLOSE_WAIT_SECONDS)


async def _close_or_abort(client: WsClient) -> None:
    # A polite close waits for the browser, which is not reading: give it a moment, then drop
    # the connection (the browser sees it closed either way and reconnects).
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        await asyncio.wait_for(
            client.socket.close(code=CLOSE_OVERLOADED, message=b"too slow"), CLOSE_WAIT_SECONDS
        )
    transport = client.transport
    if isinstance(transport, asyncio.Transport) and not transport.is_closing():
        transport.abort()


def _encode(message: dict[str, Any]) -> str:
    if "type" not in message:
        raise ValueError("websocket messages need a 'type'")
    return json.dumps(message, default=str, separators=(",", ":"))


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (browsers always send Origin on websockets)
    return origin == f"{request.scheme}://{request.host}"


@routes.get(WS_PATH)
@allow(STAFF)
async def websocket(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        raise web.HTTPForbidden(text="websocket from another origin")
    return await request.app[WS_HUB].serve(request, require_session(request))


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the hub lives as long as the app; sockets close with it."""
    hub = app[WS_HUB]
    sessions = app[SESSIONS]
    # Logout, a disabled user or a new role closes the sockets at once.
    sessions.on_end(hub.session_ended)
    sessions.on_role_change(hub.role_changed)
    checker = asyncio.get_running_loop().create_task(
        hub.close_ended_sessions(sessions.current, every=SESSION_CHECK_SECONDS),
        name="ws-session-check",
    )
    yield
    checker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await checker
    await hub.close_all()
