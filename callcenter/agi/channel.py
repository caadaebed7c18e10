"""One AGI session as typed, safe calls: the only place that writes AGI command lines.

AGI splits a command line on whitespace, honouring ``"`` quotes and ``\\`` escapes, and ends it at
a newline; a CR, LF or quote in caller-supplied data can end a command early and start another.
So every argument goes through :func:`quote_arg` (which refuses control characters and escapes
quotes), and sound file names must match a strict allowlist: they are ours, never the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from panoramisk.utils import parse_agi_result

from callcenter.agi.errors import (
    AgiCommandError,
    AgiError,
    AgiTimeout,
    ApplicationFailed,
    CallerHungUp,
    RecordingFailed,
    SoundMissing,
    UnsafeAgiValue,
)
from callcenter.agi.transport import AgiLatency, AgiTransport, StreamTransport, now, verb_of

_LOG = logging.getLogger(__name__)
_SOUND_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/-]{0,120}$")
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\([A-Za-z0-9_,-]{0,64}\))?$")
_DIGITS_RE = re.compile(r"^[0-9*#]{0,64}$")
_RECORD_PATH_RE = re.compile(r"^/[A-Za-z0-9_./-]{1,200}$")
MAX_ARG_LENGTH = 1024


def quote_arg(value: str) -> str:
    """Quote one AGI argument; refuse characters that would end or split the command."""
    if len(value) > MAX_ARG_LENGTH:
        raise UnsafeAgiValue(f"argument longer than {MAX_ARG_LENGTH} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise UnsafeAgiValue("control character in an AGI argument")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sound(name: str) -> str:
    """Validate a sound file name (ours, from the prompt catalogue)."""
    if not _SOUND_RE.match(name) or ".." in name:
        raise UnsafeAgiValue(f"not a sound name: {name!r}")
    return name


def _digits(value: str) -> str:
    if not _DIGITS_RE.match(value):
        raise UnsafeAgiValue("only digits, * and # may be said as digits")
    return value


def record_path(path: PurePosixPath) -> str:
    """Validate where Asterisk is to record (a path of ours, built from server-side ids)."""
    text = str(path)
    if not _RECORD_PATH_RE.match(text) or ".." in path.parts:
        raise UnsafeAgiValue(f"not a recording path: {text!r}")
    return text


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The ``agi_*`` variables Asterisk sends when the session opens, parsed at the edge."""

    script: str
    channel: str
    uniqueid: str
    caller_id: str
    caller_id_name: str
    context: str
    extension: str
    language: str
    arguments: tuple[str, ...]
    raw: Mapping[str, str]

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> AgiEnvironment:
        # agi_network_script carries the path of agi://host/path (plus ?query, dropped here).
        script = headers.get("agi_network_script", "").split("?", 1)[0].strip("/")
        args = tuple(headers[f"agi_arg_{n}"] for n in range(1, 64) if f"agi_arg_{n}" in headers)
        return cls(
            script=script,
            channel=headers.get("agi_channel", ""),
            uniqueid=headers.get("agi_uniqueid", ""),
            caller_id=headers.get("agi_callerid", ""),
            caller_id_name=headers.get("agi_calleridname", ""),
            context=headers.get("agi_context", ""),
            extension=headers.get("agi_extension", ""),
            language=headers.get("agi_language", "en"),
            arguments=args,
            raw=dict(headers),
        )


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    result: str
    data: str
    line: str

    @property
    def digit(self) -> str | None:
        """The key of a STREAM FILE / WAIT FOR DIGIT result (ASCII code), or None."""
        number = int(self.result) if self.result.lstrip("-").isdigit() else 0
        return chr(number) if number > 0 else None


@dataclass(frozen=True, slots=True)
class Recorded:
    """How a RECORD FILE ended: a key pressed (``digit``), or silence / the time limit."""

    digit: str | None


class AgiChannel:
    """Commands on one AGI session, each with a timeout and typed failures.

    The lines travel over an :class:`AgiTransport` (FastAGI's TCP stream, or a classic AGI
    process's stdin/stdout); ``reader`` and ``writer`` of a stream are still accepted.
    """

    def __init__(
        self,
        env: AgiEnvironment,
        transport: AgiTransport | asyncio.StreamReader,
        writer: asyncio.StreamWriter | None = None,
        *,
        command_timeout: float,
        latency: AgiLatency | None = None,
    ) -> None:
        self.env = env
        if isinstance(transport, asyncio.StreamReader):
            if writer is None:
                raise TypeError("a stream reader needs its writer")
            transport = StreamTransport(transport, writer)
        self._transport: AgiTransport = transport
        self._latency = latency
        self._timeout = command_timeout
        self.linkedid = env.uniqueid
        self.hung_up = False

    def log_context(self) -> str:
        return f"linkedid={self.linkedid} channel={self.env.channel}"

    async def command(self, line: str, *, timeout: float | None = None) -> AgiReply:  # noqa: ASYNC109
        """Send one raw command line (already quoted) and return its parsed reply."""
        if self.hung_up:
            raise CallerHungUp(self.log_context())
        if "\n" in line or "\r" in line:
            raise UnsafeAgiValue("newline in an AGI command")
        verb = verb_of(line)
        sent = now()
        try:
            async with asyncio.timeout(timeout or self._timeout):
                await self._transport.send(line.encode("utf-8") + b"\n")
                reply = await self._read_reply()
        except TimeoutError as exc:
            raise AgiTimeout(f"{verb}: no reply ({self.log_context()})") from exc
        except (ConnectionError, asyncio.IncompleteReadError, BrokenPipeError) as exc:
            self.hung_up = True
            raise CallerHungUp(self.log_context()) from exc
        if self._latency is not None:
            self._latency.record(verb, now() - sent)
        return self._check(verb, reply)

    async def _read_reply(self) -> dict[str, object]:
        while True:
            raw = await self._transport.readline()
            if not raw:
                raise asyncio.IncompleteReadError(raw, None)
            # Decoding errors are replaced: a reply is ASCII apart from data we never trust.
            parsed: dict[str, object] = parse_agi_result(
                raw.decode("utf-8", errors="replace").rstrip("\r\n")
            )
            if parsed.get("status_code") == 100:  # "100 Trying...": the real reply follows
                continue
            if parsed.get("error") == "AGIUsageError":
                await self._transport.readline()
            return parsed

    def _check(self, verb: str, reply: dict[str, object]) -> AgiReply:
        error = reply.get("error")
        if error == "AGIResultHangup":
            self.hung_up = True
            raise CallerHungUp(self.log_context())
        if error == "AGIAppError":
            # result=-1: the application failed, which in practice means the channel is gone.
            self.hung_up = True
            raise ApplicationFailed(f"{verb} failed: {self.log_context()}")
        if error:
            raise AgiCommandError(verb, str(reply.get("msg") or error))
        pair = reply.get("result", ("", ""))
        result, data = pair if isinstance(pair, tuple) and len(pair) == 2 else ("", "")
        return AgiReply(
            code=int(str(reply.get("status_code", 0))),
            result=str(result),
            data=str(data or ""),
            line=str(reply.get("line", "")),
        )

    # -- the commands the dialogs use ---------------------------------------------------------

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def hangup(self) -> None:
        if not self.hung_up:
            with contextlib.suppress(CallerHungUp):
                await self.command("HANGUP")
            self.hung_up = True

    async def _alive_after_failure(self, failed: ApplicationFailed) -> None:
        """result=-1 is also how Asterisk reports a file it cannot open: probe the channel.

        Returns when the channel is still up; re-raises ``failed`` when it is gone."""
        self.hung_up = False
        try:
            status = await self.command("CHANNEL STATUS")
        except AgiError:
            self.hung_up = True
            raise failed from None
        if not status.result.isdigit():
            self.hung_up = True
            raise failed

    async def _playing(self, prompt: str, line: str, *, timeout: float) -> AgiReply:  # noqa: ASYNC109
        """Run a command that plays ``prompt``; a result=-1 on a live channel is a missing file."""
        try:
            return await self.command(line, timeout=timeout)
        except ApplicationFailed as failed:
            await self._alive_after_failure(failed)
            _LOG.error("sound %s is not installed (%s)", prompt, self.log_context())
            raise SoundMissing(prompt) from None

    async def record_file(
        self,
        path: PurePosixPath,
        *,
        escape_digits: str,
        max_ms: int,
        silence_s: int,
        beep: bool = True,
    ) -> Recorded:
        """Record the caller into ``<path>.wav`` (as Asterisk sees it) until ``silence_s``
        seconds of silence, ``max_ms``, or a key of ``escape_digits``.

        Raises :class:`RecordingFailed` when Asterisk cannot write the file (channel alive)."""
        line = (
            f"RECORD FILE {record_path(path)} wav {quote_arg(_digits(escape_digits))} "
            f"{int(max_ms)} 0{' BEEP' if beep else ''} s={int(silence_s)}"
        )
        try:
            reply = await self.command(line, timeout=self._timeout + max_ms / 1000 + 10)
        except ApplicationFailed as failed:
            await self._alive_after_failure(failed)
            _LOG.error("cannot record to %s (%s)", path.parent, self.log_context())
            raise RecordingFailed(str(path.parent)) from None
        # A key during the recording answers "(dtmf)"; a key during the beep ends the command
        # before any file is written, answered "(randomerror)" with the key as the result.
        digit = reply.digit
        return Recorded(digit=digit if digit is not None and digit in escape_digits else None)

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        """Play ``prompt`` and collect up to ``max_digits`` keys; None on silence.

        Raises :class:`SoundMissing` when the prompt is not installed."""
        reply = await self._playing(
            prompt,
            f"GET DATA {sound(prompt)} {int(timeout_ms)} {int(max_digits)}",
            timeout=self._timeout + timeout_ms / 1000 + 30,
        )
        if reply.data == "timeout" and not reply.result:
            return None
        return reply.result if _DIGITS_RE.match(reply.result) else None

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        """Play a sound; returns the key that interrupted it, if any.

        Raises :class:`SoundMissing` when the sound is not installed."""
        reply = await self._playing(
            prompt,
            f"STREAM FILE {sound(prompt)} {quote_arg(_digits(escape_digits))}",
            timeout=self._timeout + 120,
        )
        return reply.digit

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        reply = await self.command(
            f"WAIT FOR DIGIT {int(timeout_ms)}", timeout=self._timeout + timeout_ms / 1000
        )
        return reply.digit

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        """Say each digit; returns the key that interrupted it, if any."""
        reply = await self.command(
            f"SAY DIGITS {_digits(digits)} {quote_arg(_digits(escape_digits))}",
            timeout=self._timeout + 60,
        )
        return reply.digit

    async def say_datetime(
        self, epoch: int, *, escape_digits: str = "", fmt: str, timezone: str
    ) -> str | None:
        """Say a moment with Asterisk's core sounds (``fmt`` as in SayUnixTime, e.g.
        ``"A B d 'digits/at' I M p"``); returns the key that interrupted it, if any."""
        reply = await self.command(
            f"SAY DATETIME {int(epoch)} {quote_arg(_digits(escape_digits))} "
            f"{quote_arg(fmt)} {quote_arg(timezone)}",
            timeout=self._timeout + 60,
        )
        return reply.digit

    async def say_number(self, number: int, escape_digits: str = "") -> None:
        await self.command(
            f"SAY NUMBER {int(number)} {quote_arg(_digits(escape_digits))}",
            timeout=self._timeout + 60,
        )

    async def set_variable(self, name: str, value: str) -> None:
        if not _VARIABLE_RE.match(name):
            raise UnsafeAgiValue(f"not a variable name: {name!r}")
        await self.command(f"SET VARIABLE {name} {quote_arg(value)}")

    async def get_variable(self, name: str) -> str | None:
        if not _VARIABLE_RE.match(name):
            raise UnsafeAgiValue(f"not a variable name: {name!r}")
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == "1" else None

    async def load_linkedid(self) -> str:
        """The call's Linkedid (shared by all its channels), used to tag logs and the call log."""
        value = await self.get_variable("CHANNEL(linkedid)")
        if value:
            self.linkedid = value
        return self.linkedid
