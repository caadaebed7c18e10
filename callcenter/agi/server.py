"""The FastAGI server: Asterisk's ``AGI(agi://host:port/<route>)`` calls land here.

Routes map the AGI path to a dialog (a coroutine taking an :class:`AgiChannel`). Each session
gets a whole-call time limit; a caller hanging up at any step ends the dialog through
:class:`CallerHungUp`, which is expected and logged quietly.

Only ``agi.allowed_peers`` may open a session (whoever can run the IVR can claim any caller ID
and try dates of birth), at most ``agi.max_sessions`` run at once, and only known routes are
served: anything else is closed at once, before a dialog or a database lookup runs, and logged
without caller data. Asterisk's ``AGI()`` then returns and the dialplan goes on after it.

Stopping drains: the listener closes first, so Asterisk's next ``AGI()`` is refused and the
dialplan takes its ``AGISTATUS=FAILURE`` fallback; the sessions in progress then get
``agi.drain_seconds`` to finish before the rest are cancelled.

panoramisk's ``fast_agi.Application`` is not used for accepting sessions: its header loop spins
forever on a peer that closes before the blank line (``read()`` keeps returning ``b""``) and it
has no header size limit or timeout. The AGI reply parsing is panoramisk's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from callcenter.agi.channel import AgiChannel, AgiEnvironment
from callcenter.agi.errors import AgiError, CallerHungUp
from callcenter.agi.listening import SpeechService
from callcenter.agi.transport import AgiLatency, StreamTransport
from callcenter.settings import AgiSettings

_LOG = logging.getLogger(__name__)

Flow = Callable[[AgiChannel], Awaitable[None]]
HEADER_TIMEOUT = 5.0
MAX_HEADER_BYTES = 64 * 1024
DEFAULT_CALL_TIMEOUT = 30 * 60.0
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Iterable[str]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def peer_allowed(peername: object, allowed: Iterable[_Network]) -> bool:
    """Whether a socket's peer address (``getpeername()``) lies in one of ``allowed``.

    IPv4 peers of a dual-stack listener arrive as ``::ffff:a.b.c.d`` and are matched as IPv4.
    Anything that is not an IP peer (no address at all) is refused."""
    if not isinstance(peername, tuple) or not peername:
        return False
    try:
        address = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("agi_"):
            headers[key] = value
    return headers


class FastAgiServer:
    """Accepts FastAGI sessions and runs the routed dialog for each."""

    def __init__(
        self,
        settings: AgiSettings,
        routes: Mapping[str, Flow],
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        speech: SpeechService | None = None,
    ) -> None:
        self._settings = settings
        self._routes = dict(routes)
        self._allowed = _networks(settings.allowed_peers)
        # The routes use it; the server owns its life (stopped after the last session).
        self._speech = speech
        self._call_timeout = call_timeout
        self._server: asyncio.Server | None = None
        # Each session's task, with its channel once the header block is parsed (for the log).
        self._sessions: dict[asyncio.Task[None], AgiChannel | None] = {}
        self._accepting = False
        self._cut: set[asyncio.Task[None]] = set()
        self.sessions_started = 0
        self.sessions_failed = 0
        self.sessions_drained = 0
        self.sessions_cut = 0
        # Closed before any dialog ran: foreign peer, over max_sessions, unknown route.
        self.refused_peer = 0
        self.refused_busy = 0
        self.refused_route = 0
        # Command round trips of every session, for /metrics and benchmarks/ivr_load.py.
        self.latency = AgiLatency()

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        if self._server is None or not self._server.sockets:
            return self._settings.port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self._settings.host, self._settings.port, limit=MAX_HEADER_BYTES
        )
        self._accepting = True
        _LOG.info("FastAGI listening on %s:%s", self._settings.host, self.port)

    async def stop(self) -> None:
        """Accept no new session, let those in progress finish within ``drain_seconds``,
        cancel the rest (their callers go on in the dialplan after ``AGI()``)."""
        server, self._server = self._server, None
        self._accepting = False
        if server is not None:
            # Closed before the drain: a call arriving now is refused, not left waiting.
            server.close()
        await self._drain()
        if server is not None:
            await server.wait_closed()
        if self._speech is not None:
            await self._speech.stop()

    async def _drain(self) -> None:
        if not self._sessions:
            return
        in_progress = len(self._sessions)
        pending = set(self._sessions)
        if self._settings.drain_seconds > 0:
            _LOG.info(
                "FastAGI stopping: waiting up to %gs for %d session(s) in progress",
                self._settings.drain_seconds,
                in_progress,
            )
            _done, pending = await asyncio.wait(pending, timeout=self._settings.drain_seconds)
        for task in pending:
            channel = self._sessions.get(task)
            _LOG.warning(
                "FastAGI session cut by the stop (%s)",
                channel.log_context() if channel is not None else "before its headers",
            )
            self._cut.add(task)
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            self._cut.clear()
        self.sessions_drained += in_progress - len(pending)
        self.sessions_cut += len(pending)
        _LOG.info(
            "FastAGI stopped: %d session(s) drained, %d cut",
            in_progress - len(pending),
            len(pending),
        )

    def health(self) -> dict[str, object]:
        return {
            "listening": self._server is not None,
            "port": self.port,
            "active_sessions": len(self._sessions),
            "sessions_started": self.sessions_started,
            "sessions_failed": self.sessions_failed,
            "sessions_drained": self.sessions_drained,
            "sessions_cut": self.sessions_cut,
            "refused_peer": self.refused_peer,
            "refused_busy": self.refused_busy,
            "refused_route": self.refused_route,
            "speech": self._speech is not None,
        }

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._accepting:
            # Accepted just before the listener closed: closing it makes AGI() return at once.
            writer.close()
            return
        if not self._admit(writer):
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._sessions[task] = None
        try:
            await self._session(reader, writer)
        except asyncio.CancelledError:
            if task not in self._cut:
                raise
            # Cut by stop(): the session ends here. Left to propagate, asyncio's stream
            # callback (Python 3.11) would log the cancellation as an unhandled error.
        finally:
            self._sessions.pop(task, None)
            writer.close()

    def _admit(self, writer: asyncio.StreamWriter) -> bool:
        """A new connection may become a session: an allowed peer, and room under the cap.

        Refusals are logged with the peer's address only: nothing of the call has been read."""
        peer = writer.get_extra_info("peername")
        if not peer_allowed(peer, self._allowed):
            self.refused_peer += 1
            _LOG.warning(
                "FastAGI connection from %s refused: not in agi.allowed_peers", _address(peer)
            )
            return False
        if len(self._sessions) >= self._settings.max_sessions:
            self.refused_busy += 1
            _LOG.warning(
                "FastAGI connection from %s refused: %d sessions running (agi.max_sessions)",
                _address(peer),
                len(self._sessions),
            )
            return False
        return True

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(HEADER_TIMEOUT):
                block = await reader.readuntil(b"\n\n")
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
        ) as exc:
            _LOG.warning("FastAGI session without a valid header block: %s", type(exc).__name__)
            return
        env = AgiEnvironment.parse(_parse_headers(block))
        flow = self._routes.get(env.script)
        if flow is None:
            # A dialplan pointing at a route we do not serve (or a probe): closed, so AGI()
            # returns and the dialplan goes on. The name is cut short: it is the peer's text.
            self.refused_route += 1
            _LOG.warning(
                "FastAGI: unknown route %r refused (uniqueid=%s)",
                env.script[:64],
                env.uniqueid[:64],
            )
            return
        channel = AgiChannel(
            env,
            StreamTransport(reader, writer),
            command_timeout=self._settings.command_timeout,
            latency=self.latency,
        )
        task = asyncio.current_task()
        assert task is not None
        self._sessions[task] = channel
        self.sessions_started += 1
        if not await run_flow(flow, channel, call_timeout=self._call_timeout, kind="FastAGI"):
            self.sessions_failed += 1


def _address(peer: object) -> str:
    return str(peer[0]) if isinstance(peer, tuple) and peer else "an unknown peer"


async def run_flow(flow: Flow, channel: AgiChannel, *, call_timeout: float, kind: str) -> bool:
    """Run one dialog to its end; False when it failed (logged here, once, with the call's id).

    Shared by the FastAGI server and the classic AGI script."""
    script = channel.env.script
    try:
        async with asyncio.timeout(call_timeout):
            await channel.load_linkedid()
            _LOG.info("%s %s started (%s)", kind, script, channel.log_context())
            await flow(channel)
    except CallerHungUp:
        _LOG.info("%s %s: caller hung up (%s)", kind, script, channel.log_context())
    except TimeoutError:
        _LOG.warning("%s %s: call time limit reached (%s)", kind, script, channel.log_context())
        return False
    except AgiError as exc:
        _LOG.warning("%s %s failed (%s): %s", kind, script, channel.log_context(), exc)
        return False
    except Exception:
        # A bug in a dialog: the caller is released to the dialplan (AGI returns) and the
        # traceback is logged once with the call's id, rather than the server dying.
        _LOG.exception("%s %s crashed (%s)", kind, script, channel.log_context())
        return False
    return True
