"""The AMI wire protocol: panoramisk's ``AMIProtocol`` and ``Action`` with their defects fixed.

What is fixed here, and why:

- UTF-8 split across reads. panoramisk decodes every socket read on its own with errors
  ignored, so a multi-byte character (caller names are often Mandarin) cut by a TCP segment
  boundary is silently lost. :class:`MessageFramer` decodes with an incremental decoder.
- ``KeyError: 'async'``. panoramisk decides whether an action has more responses coming with
  ``self['async']`` when the message ends in "successfully queued" (PlayDTMF's does, without an
  ``Async`` header); the error escapes ``data_received`` and asyncio drops the connection.
  :class:`AmiAction` states up front whether an event list follows, and a defect while
  completing one action fails that action only, never the session.
- On connection loss panoramisk re-queues pending actions for the next session (an Originate
  could be dialled twice) and logs them, Login secret included. Here they fail with
  :class:`AmiNotConnected` and nothing is logged with its headers.
- panoramisk closes the session itself on a ``Shutdown`` event; we keep reading until Asterisk
  closes it, so the bridge sees the event like every other.

Everything on this path runs inside ``data_received``: it only parses and hands events to a
plain callback. Asterisk ends a session whose reader stalls longer than ``writetimeout``.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from callcenter.ami.errors import AmiNotConnected
from callcenter.ami.events import AmiEvent, AmiResponse, Headers

_LOG = logging.getLogger(__name__)

EOL = "\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
# A message larger than this without its blank-line terminator means a garbled stream.
MAX_PENDING_CHARS = 4 * 1024 * 1024
# A read this large means events are queueing up in the socket: hand the loop back after it.
YIELD_AFTER_BYTES = 16 * 1024
# Messages handled per loop iteration while catching up (a few milliseconds of parsing).
MESSAGES_PER_TURN = 200
# Events waiting for the call tracker above which reading pauses until it is back under the
# low mark. A few thousand events are a fraction of a second of the tracker's work; the
# kernel's socket buffers hold what Asterisk sends meanwhile, well inside its writetimeout.
# Unbounded, the backlog grows with the burst and every full garbage collection walks it
# (200 ms and more for 100,000 queued events), stalling the whole loop.
BACKLOG_HIGH = 2_000
BACKLOG_LOW = 500
BACKLOG_POLL_SECONDS = 0.002
_SECRET_HEADERS = frozenset({"secret", "key"})
_SUCCESS = "Success"

ActionValue = str | int | float | bool | Iterable[str]


class AmiAction(actions.Action):
    """An action whose completion rule is known when it is sent.

    ``expects_list``: Asterisk answers ``Response: Success`` then an event list closed by an
    event whose name ends in ``Complete`` (CoreShowChannels, QueueStatus, ...). Otherwise the
    first response completes the action, including "successfully queued" ones: the
    ``OriginateResponse`` of an async Originate then reaches the bus as an ordinary event.
    """

    def __init__(self, headers: Mapping[str, ActionValue], *, expects_list: bool = False) -> None:
        super().__init__(_clean_headers(headers), as_list=expects_list)
        self.expects_list = expects_list

    @property
    def name(self) -> str:
        return str(self.get("Action", ""))

    @property
    def multi(self) -> bool:
        return self.expects_list

    @property
    def completed(self) -> bool:
        return bool(self.responses) and self._is_complete(self.responses[-1])

    def add_message(self, message: Message) -> bool:
        """Record one response or list event; True once the action is complete."""
        self.responses.append(message)
        if self.future.done():
            return True
        if self._is_complete(message):
            self.future.set_result(list(self.responses))
            return True
        return False

    def _is_complete(self, message: Message) -> bool:
        if not self.expects_list:
            return True
        if len(self.responses) == 1:
            # An error ends a list action at once: no list follows.
            return message.get("Response") != _SUCCESS
        return bool(
            str(message.get("Event", "")).endswith("Complete")
            or str(message.get("EventList", "")).lower() == "complete"
        )

    def __repr__(self) -> str:
        shown = {
            key: ("***" if key.lower() in _SECRET_HEADERS else value) for key, value in self.items()
        }
        return f"<AmiAction {shown!r}>"


def _clean_headers(headers: Mapping[str, ActionValue]) -> dict[str, str | list[str]]:
    """Stringify values and refuse CR/LF, which would inject headers or actions into AMI."""
    cleaned: dict[str, str | list[str]] = {}
    for key, value in headers.items():
        if isinstance(value, bool):
            values: str | list[str] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values = str(value)
        else:
            values = [str(item) for item in value]
        for item in [values] if isinstance(values, str) else values:
            if "\r" in item or "\n" in item or "\r" in key or "\n" in key:
                raise ValueError(f"AMI header {key!r} contains a line break")
        cleaned[key] = values
    return cleaned


class MessageFramer:
    """Bytes from the socket in, complete AMI messages out; keeps partial characters and lines."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self.version: str | None = None

    def feed(self, data: bytes) -> list[Message]:
        messages = []
        for block in self.feed_blocks(data):
            message = Message.from_line(block.strip())
            if message is not None:
                messages.append(message)
        return messages

    def feed_blocks(self, data: bytes) -> list[str]:
        """Like :meth:`feed`, but the complete messages' unparsed text."""
        text = self._pending + self._decoder.decode(data)
        if self.version is None:
            text = self._take_banner(text)
            if self.version is None:
                self._pending = text
                return []
        blocks = text.split(EOL + EOL)
        self._pending = blocks.pop()
        if len(self._pending) > MAX_PENDING_CHARS:
            raise ValueError("AMI message without terminator exceeds the size limit")
        return blocks

    def _take_banner(self, text: str) -> str:
        # The banner is one line ("Asterisk Call Manager/9.0.0") before the first message.
        if not text.startswith(BANNER_PREFIX[: len(text)]):
            self.version = ""
            return text
        line, sep, rest = text.partition(EOL)
        if not sep:
            return text
        self.version = line[len(BANNER_PREFIX) :].strip()
        return rest


EventCallback = Callable[[AmiEvent], None]
_EVENT_PREFIX = "Event: "


def parse_headers(block: str) -> Headers:
    """The headers of one message's text, in order (repeated headers kept)."""
    return Headers.parse(block)


class BridgeProtocol(AMIProtocol):
    """One AMI TCP session. Events go to ``on_event``; responses complete their action."""

    def __init__(
        self,
        on_event: EventCallback,
        *,
        tap: Callable[[bytes], None] | None = None,
        backlog: Callable[[], int] | None = None,
    ) -> None:
        self._on_event = on_event
        # Raw-bytes tap, for recording fixtures only: it runs on the read path.
        self._tap = tap
        self._backlog = backlog
        # Messages read but not handled yet (str block, arrival time), while reading is paused.
        self._unhandled: deque[tuple[str, float]] = deque()
        self._paused = False
        self._framer = MessageFramer()
        self.closed_locally = False
        self.closed_future: asyncio.Future[BaseException | None] = (
            asyncio.get_running_loop().create_future()
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.log = _LOG
        self.encoding = "utf-8"

    @property
    def banner_version(self) -> str | None:
        return self._framer.version

    def send(self, data: Any, as_list: bool = False) -> asyncio.Future[list[Message]]:
        action = data if isinstance(data, AmiAction) else AmiAction(data, expects_list=as_list)
        if self.closed:
            raise AmiNotConnected("AMI connection is closed")
        self.responses[action.id] = action
        self.transport.write(str(action).encode("utf-8"))
        future: asyncio.Future[list[Message]] = action.future
        return future

    def forget(self, action: AmiAction) -> None:
        """Stop waiting for ``action`` (timed out): late answers are then ignored."""
        self.responses.pop(action.id, None)

    def data_received(self, data: bytes) -> None:
        if self._tap is not None:
            self._tap(data)
        try:
            blocks = self._framer.feed_blocks(data)
        except ValueError:
            _LOG.exception("garbled AMI stream; dropping the connection")
            self.abort()
            return
        received_at = time.time()
        self._unhandled.extend((block, received_at) for block in blocks)
        if self._paused:
            return  # the scheduled turn handles these, in order
        self._handle_some()
        if self._unhandled or len(data) >= YIELD_AFTER_BYTES or self._behind(BACKLOG_HIGH):
            self._pause()

    def _handle_some(self) -> None:
        unhandled = self._unhandled
        for _ in range(min(len(unhandled), MESSAGES_PER_TURN)):
            block, received_at = unhandled.popleft()
            if block.startswith(EOL):
                # Asterisk 22 ends a TestEvent (MIXMONITOR_END, some PLAYBACKs) with an extra
                # CRLF: the next message then starts with an empty line. Same message, so the
                # same (fast) path and the same parsing as every other.
                block = block.lstrip(EOL)
            # The hot path: an event no pending action waits for goes straight to a typed
            # AmiEvent, without panoramisk's Message in between (most of the parsing cost).
            if block.startswith(_EVENT_PREFIX) and not (self.responses and "ActionID: " in block):
                headers = parse_headers(block)
                self._on_event(AmiEvent(headers["Event"], headers, received_at))
                continue
            message = Message.from_line(block.strip())
            if message is not None:
                self.handle_message(message)

    def _pause(self) -> None:
        # uvloop (libuv) keeps reading while the socket has data, up to 32 reads in one loop
        # iteration, each handed to data_received: under a burst of events that holds the loop
        # for hundreds of milliseconds. So after a large read (or with messages left over, or
        # the tracker behind) reading pauses, and the rest is handled a slice per loop
        # iteration, letting the tasks that were waiting run in between. Messages keep their
        # order: nothing new is read until every earlier one is handled.
        if self.closed or self.transport.is_closing():
            return
        self.transport.pause_reading()
        self._paused = True
        asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        if self.closed or self.transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        if self._unhandled:
            self._handle_some()
            loop.call_soon(self._next_turn)
        elif self._behind(BACKLOG_LOW):
            loop.call_later(BACKLOG_POLL_SECONDS, self._next_turn)
        else:
            self._paused = False
            self.transport.resume_reading()

    def _behind(self, mark: int) -> bool:
        return self._backlog is not None and self._backlog() > mark

    def handle_message(self, message: Message) -> None:
        action = self.responses.get(message.id)
        if action is None and message.action_id:
            action = self.responses.get(message.action_id)
        if action is None:
            if "Event" in message:
                self._on_event(to_event(message))
            return
        try:
            done = action.add_message(message)
        except Exception as exc:
            # A defect completing one action must not end the session for every call.
            _LOG.exception("failed to complete AMI action %s", action.get("Action"))
            if not action.future.done():
                action.future.set_exception(exc)
            done = True
        if done:
            self.responses.pop(action.id, None)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        pending = list(self.responses.values())
        self.responses.clear()
        for action in pending:
            if not action.future.done():
                action.future.set_exception(AmiNotConnected("AMI connection lost"))
        if not self.closed_future.done():
            self.closed_future.set_result(exc)

    def close(self) -> None:
        if not self.closed:
            self.closed = self.closed_locally = True
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once (a dead peer will never ack a graceful close)."""
        self.closed = self.closed_locally = True
        self.transport.abort()


def _headers(message: Message) -> Headers:
    # panoramisk stores a message's body as a pseudo-header "content".
    return Headers.from_mapping({k: v for k, v in message.items() if k != "content"})


def to_event(message: Message, received_at: float | None = None) -> AmiEvent:
    return AmiEvent(
        name=str(message.get("Event", "")),
        headers=_headers(message),
        received_at=time.time() if received_at is None else received_at,
    )


def to_response(action: AmiAction, messages: list[Message]) -> AmiResponse:
    first = messages[0]
    return AmiResponse(
        action=action.name,
        action_id=str(action.id),
        response=str(first.get("Response", "")),
        message=str(first.get("Message", "")),
        headers=_headers(first),
        events=tuple(to_event(message) for message in messages[1:]),
        content=str(first.content or ""),
    )


def parse_stream(data: bytes) -> list[AmiEvent]:
    """The events of a recorded raw AMI stream (``tests/fixtures/ami/*.ami``), in order."""
    framer = MessageFramer()
    return [to_event(m, received_at=0.0) for m in framer.feed(data) if "Event" in m]
