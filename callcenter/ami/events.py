"""Typed objects the AMI bridge hands to the rest of the code.

AMI messages are parsed here, at the edge, into frozen dataclasses; nothing outside the
``callcenter.ami.bridge*`` modules touches panoramisk's ``Message`` objects or raw header dicts.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# "Key: Value" lines, as panoramisk's Message.from_line splits them (lines without ": " are
# not headers).
_HEADER_LINE = re.compile(r"^([^:\r\n]+): ([^\r\n]*)", re.MULTILINE)
_LINE_END = "\r\n"
_SEPARATOR = ": "


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive AMI headers that keep the spelling Asterisk sent.

    A header Asterisk repeats (``ChanVariable``, ``Variable``) maps to its last value here;
    :meth:`get_all` returns every value in order.
    """

    # Built for every event on the AMI read path, so construction is one dict of the headers
    # in Asterisk's spelling; lookups try that spelling first (the code asks for headers as
    # Asterisk spells them), and the case-folded view is built only when one misses. Parsed
    # from a message's text, the (key, value) pairs are derived again from that text only
    # when asked for (repeated headers): a per-header tuple kept for every event would be
    # work for the garbage collector.
    __slots__ = ("_exact", "_folded", "_pairs", "_text")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs: list[tuple[str, str]] | None = (
            pairs if isinstance(pairs, list) else list(pairs)
        )
        self._exact: dict[str, str] = dict(self._pairs)
        self._folded: dict[str, str] | None = None
        self._text: str | None = None

    @classmethod
    def parse(cls, text: str) -> Headers:
        """The headers of one AMI message's text ("Key: Value" lines joined by CR LF)."""
        headers = cls.__new__(cls)
        try:
            # The common case, every line a header: one split per line, in C.
            headers._exact = dict([line.split(_SEPARATOR, 1) for line in text.split(_LINE_END)])
            headers._pairs = None
        except ValueError:
            # Some line is not a header (a blank line, a body): only header lines count.
            headers._pairs = _HEADER_LINE.findall(text)
            headers._exact = dict(headers._pairs)
        headers._folded = None
        headers._text = text
        return headers

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Headers:
        """Build from a mapping whose values are ``str`` or lists of ``str`` (repeated)."""
        pairs: list[tuple[str, str]] = []
        for key, value in mapping.items():
            if isinstance(value, list | tuple):
                pairs.extend((key, str(item)) for item in value)
            else:
                pairs.append((key, str(value)))
        return cls(pairs)

    def _all_pairs(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            self._pairs = _HEADER_LINE.findall(self._text or "")
        return self._pairs

    def _fold(self) -> dict[str, str]:
        if self._folded is None:
            self._folded = {key.lower(): value for key, value in self._all_pairs()}
        return self._folded

    def _other_spelling(self, key: str) -> str | None:
        # A miss in Asterisk's spelling is nearly always an absent header (a subscriber's
        # predicate asking every event for "UserEvent"): a scan that compares lengths first
        # answers that without building the case-folded view.
        size, folded = len(key), None
        for name in self._exact:
            if len(name) == size:
                folded = folded or key.lower()
                if name.lower() == folded:
                    return self._fold()[folded]
        return None

    def __getitem__(self, key: str) -> str:
        value = self._exact.get(key)
        if value is None:
            value = self._other_spelling(key)
            if value is None:
                raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._exact.get(key)
        if value is None:
            value = self._other_spelling(key)
            return default if value is None else value
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (
            key in self._exact or self._other_spelling(key) is not None
        )

    def __iter__(self) -> Iterator[str]:
        # First spelling of each header, in order of first appearance.
        spelling: dict[str, str] = {}
        for key, _ in self._all_pairs():
            spelling.setdefault(key.lower(), key)
        return iter(spelling.values())

    def __len__(self) -> int:
        return len(self._fold())

    def get_all(self, key: str) -> tuple[str, ...]:
        lower = key.lower()
        return tuple(value for name, value in self._all_pairs() if name.lower() == lower)

    def to_dict(self) -> dict[str, str]:
        """Plain ``{header: last value}`` in Asterisk's spelling (for storing an event)."""
        return dict(self._exact)

    def as_dict(self) -> Mapping[str, str]:
        """The ``{header: last value}`` dict itself, read-only by contract (no copy)."""
        return self._exact

    def _multimap(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for key, value in self._all_pairs():
            values.setdefault(key.lower(), []).append(value)
        return values

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._multimap() == other._multimap()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple((key, tuple(value)) for key, value in self._multimap().items()))


# Asterisk writes CallerIDName and ConnectedLineName into AMI events through ast_escape_c()
# (so a CR/LF in a caller's name cannot inject headers): `O'Brien` arrives as `O\'Brien`.
_C_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_C_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def unescape_c(value: str) -> str:
    """Undo ast_escape_c(); an unknown escape is kept as sent."""
    if "\\" not in value:
        return value
    return _C_ESCAPE_RE.sub(lambda m: _C_ESCAPES.get(m[1], m[0]), value)


def duration_seconds(value: str) -> float | None:
    """A ``Duration`` header as Asterisk writes it ("HH:MM:SS", ``CoreShowChannel``)."""
    try:
        hours, minutes, seconds = (int(part) for part in value.split(":"))
    except ValueError:
        return None
    return float(hours * 3600 + minutes * 60 + seconds)


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """One AMI event. ``received_at`` is wall-clock time (``time.time()``) of its arrival."""

    name: str
    headers: Headers
    received_at: float = field(default_factory=time.time, compare=False)

    def get(self, key: str, default: str = "") -> str:
        value: str = self.headers.get(key, default)
        return value

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    @property
    def linkedid(self) -> str:
        """Shared by every channel of one call (both halves of a Local pair, the queue legs).

        Transfer events name no channel of their own: theirs is the transferer's call
        (``BlindTransfer``: Transferer, ``AttendedTransfer``: OrigTransferer)."""
        return (
            self.get("Linkedid")
            or self.get("TransfererLinkedid")
            or self.get("OrigTransfererLinkedid")
        )

    @property
    def uniqueid(self) -> str:
        return self.get("Uniqueid")

    @property
    def channel(self) -> str:
        return self.get("Channel")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    @property
    def caller_id_num(self) -> str:
        return self.get("CallerIDNum")

    @property
    def caller_id_name(self) -> str:
        """The caller's name as the caller sent it (Asterisk C-escapes it in AMI events)."""
        return unescape_c(self.get("CallerIDName"))

    @property
    def connected_line_name(self) -> str:
        return unescape_c(self.get("ConnectedLineName"))

    @property
    def queue(self) -> str:
        return self.get("Queue")

    @property
    def variables(self) -> dict[str, str]:
        """``ChanVariable: NAME=value`` headers (as set by ``channelvars`` in manager.conf)."""
        result: dict[str, str] = {}
        for item in self.headers.get_all("ChanVariable"):
            name, _, value = item.partition("=")
            result[name] = value
        return result

    def log_context(self) -> str:
        """Short tag for log lines, so one call can be followed across parts."""
        return f"event={self.name} linkedid={self.linkedid or '-'} channel={self.channel or '-'}"


@dataclass(frozen=True, slots=True)
class AmiResponse:
    """Asterisk's answer to one action; ``events`` holds the event list of list actions."""

    action: str
    action_id: str
    response: str
    message: str
    headers: Headers
    events: tuple[AmiEvent, ...] = ()
    # Body of ``Response: Follows`` (the output of a ``Command`` action).
    content: str = ""

    @property
    def ok(self) -> bool:
        return self.response in ("Success", "Follows", "Goodbye")


class ConnectionState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    CONNECTED = "connected"
    AUTH_FAILED = "auth_failed"


# Events of QueueStatus's event list.
QUEUE_PARAMS = "QueueParams"
QUEUE_MEMBER = "QueueMember"
QUEUE_ENTRY = "QueueEntry"


@dataclass(frozen=True, slots=True)
class AmiSnapshot:
    """Live state read after a (re)login, once Asterisk reported ``FullyBooted``.

    ``channels`` are the ``CoreShowChannel`` events, ``queues`` the ``QueueParams``,
    ``QueueMember`` and ``QueueEntry`` events of ``QueueStatus``; ``taken_at`` is wall-clock
    time when the reading started (live events after it are delivered as usual).
    """

    channels: tuple[AmiEvent, ...]
    queues: tuple[AmiEvent, ...]
    taken_at: float

    @property
    def queue_params(self) -> tuple[AmiEvent, ...]:
        return tuple(e for e in self.queues if e.name == QUEUE_PARAMS)

    @property
    def queue_members(self) -> tuple[AmiEvent, ...]:
        return tuple(e for e in self.queues if e.name == QUEUE_MEMBER)

    @property
    def queue_entries(self) -> tuple[AmiEvent, ...]:
        return tuple(e for e in self.queues if e.name == QUEUE_ENTRY)

    def channels_by_linkedid(self) -> dict[str, list[AmiEvent]]:
        calls: dict[str, list[AmiEvent]] = {}
        for channel in self.channels:
            calls.setdefault(channel.linkedid, []).append(channel)
        return calls


# Published on the event bus by the bridge.


@dataclass(frozen=True, slots=True)
class AmiConnectionChanged:
    """The AMI session changed state, or Asterisk became ready / unavailable."""

    state: ConnectionState
    asterisk_ready: bool
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AmiResynced:
    """Live state after a (re)login: reconcile with it, events may have been missed."""

    snapshot: AmiSnapshot
