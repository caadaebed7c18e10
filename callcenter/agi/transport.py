"""How AGI command lines travel: the seam between the dialogs and the two ways Asterisk runs them.

- FastAGI (:class:`StreamTransport`): Asterisk connects to our server over TCP; one process
  serves every call.
- Classic AGI (``ivr/classic.py``): Asterisk starts one process per call and talks over
  its stdin/stdout; pyst2 reads the environment and writes the commands.

Both carry the same lines; :class:`callcenter.agi.channel.AgiChannel` builds the commands and
parses the replies once for both. :class:`AgiLatency` measures, inside our process, the time from
a command sent to its reply (the figure ``benchmarks/ivr_load.py`` reports).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from typing import Protocol

# Commands Asterisk answers at once, without waiting for the caller or playing media: their
# round trip is what the server and Asterisk add to every step of a dialog.
IMMEDIATE_VERBS = frozenset({"ANSWER", "CHANNEL STATUS", "GET VARIABLE", "SET VARIABLE", "HANGUP"})
LATENCY_SAMPLES = 100_000


class AgiTransport(Protocol):
    """Lines to and from Asterisk for one AGI session."""

    async def send(self, data: bytes) -> None:
        """Write one command line (ending in a newline)."""

    async def readline(self) -> bytes:
        """One reply line; ``b""`` when Asterisk closed the session."""


class StreamTransport:
    """FastAGI: the TCP connection Asterisk opened to our server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def readline(self) -> bytes:
        return await self._reader.readline()


def verb_of(line: str) -> str:
    """The command's name as AGI spells it (``GET DATA``, ``SET VARIABLE``, ``ANSWER``)."""
    words = line.split(" ", 2)
    if len(words) >= 2 and words[1].isupper() and words[1].isalpha():
        return f"{words[0]} {words[1]}"
    return words[0]


class AgiLatency:
    """Round-trip times of AGI commands (seconds), bounded, per verb."""

    def __init__(self, maxlen: int = LATENCY_SAMPLES) -> None:
        self._samples: dict[str, deque[float]] = {}
        self._maxlen = maxlen

    def record(self, verb: str, seconds: float) -> None:
        samples = self._samples.get(verb)
        if samples is None:
            samples = self._samples[verb] = deque(maxlen=self._maxlen)
        samples.append(seconds)

    def samples(self, verbs: Iterable[str] | None = None) -> list[float]:
        wanted = set(verbs) if verbs is not None else set(self._samples)
        return [s for verb, values in self._samples.items() if verb in wanted for s in values]

    def immediate(self) -> list[float]:
        """Samples of the commands Asterisk answers without waiting for the caller."""
        return self.samples(IMMEDIATE_VERBS)

    def verbs(self) -> dict[str, int]:
        return {verb: len(values) for verb, values in self._samples.items()}

    def clear(self) -> None:
        self._samples.clear()


def now() -> float:
    return time.perf_counter()
