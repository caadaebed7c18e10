"""The real ``callcenter serve`` as a subprocess dialling the sandbox, and the test's own view.

The server runs exactly as a hospital runs it; only its settings point at the sandbox: the
dial route is ``Local/{number}@sim-callee`` (simulated patients that ring 4-10 s, answer and
listen) and answered calls reach this server's FastAGI (``outbound.agi_url``). The test's
:class:`CallWatch` listens on the patients' phone (the sandbox's driver AMI session,
tests/support/caller.py): it counts what Asterisk itself reports of each attempt's channel,
and the phone's scripted callers press the patients' keys on cue.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.calls.channel_ids import attempt_of
from callcenter.outbound import prompts
from tests.integration.callcenter.outbound.conftest import CALLER_ID, HOSPITAL
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone, Rule

_STATE_UP = "6"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """One ``callcenter serve`` run; its log is kept in a file (no pipe to fill up)."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "callcenter", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine loses power."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_env(
    box: AsteriskSandboxHandle, data_dir: Path, database_url: str, zone: ZoneInfo, prefix: str
) -> dict[str, str]:
    agi_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        {
            "CALLCENTER_DATA_DIR": str(data_dir),
            "CALLCENTER_DATABASE__URL": database_url,
            "CALLCENTER_AMI__HOST": box.ami_host,
            "CALLCENTER_AMI__PORT": str(box.ami_port),
            "CALLCENTER_AMI__USERNAME": box.ami_username,
            "CALLCENTER_AMI__SECRET": box.ami_secret,
            "CALLCENTER_AGI__PORT": str(agi_port),
            "CALLCENTER_WEB__PORT": str(free_port()),
            "CALLCENTER_HOSPITAL__NAME": HOSPITAL,
            "CALLCENTER_HOSPITAL__TIMEZONE": str(zone),
            "CALLCENTER_HOSPITAL__CALLER_ID_NUMBER": CALLER_ID,
            "CALLCENTER_OUTBOUND__CHANNEL_PREFIX": prefix,
            "CALLCENTER_OUTBOUND__DIAL_CHANNEL": f"Local/{{number}}@{const.CONTEXT_SIM_CALLEE}",
            "CALLCENTER_OUTBOUND__AGI_URL": f"agi://127.0.0.1:{agi_port}",
            "CALLCENTER_OUTBOUND__TICK_SECONDS": "0.1",
            "CALLCENTER_LOG_LEVEL": "INFO",
        }
    )
    return env


@dataclass
class CallWatch:
    """What Asterisk reports of the attempts' ``;1`` channels, seen from the patients' phone
    (the driver session), which also answers every call's questions.

    Keys are pressed when the dialog waits for them: ``1`` at the survey's opening menu (to
    answer), ``8`` at any other question.
    """

    phone: PatientsPhone
    prefix: str
    placed: Counter[int] = field(default_factory=Counter)
    up: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.phone.bus.subscribe(
            AmiEvent,
            self._on_event,
            name="call-watch",
            predicate=lambda e: e.linkedid.startswith(self.prefix),
        )
        self.phone.answer_calls(self.prefix, self._script)

    async def stop(self) -> None:
        # Calls still up (a failed test) are hung up: they are this test's alone.
        for channel in await self.phone.ami.core_show_channels():
            if channel.uniqueid.startswith(self.prefix):
                await self.phone.ami.send_action({"Action": "Hangup", "Channel": channel.channel})

    @property
    def ringing(self) -> set[int]:
        return set(self.placed) - self.up - self.gone

    async def _script(self, _linkedid: str) -> Rule:
        return _survey_answer

    async def _on_event(self, event: AmiEvent) -> None:
        attempt = attempt_of(self.prefix, event.uniqueid)  # the ;1 half only ("-b" is not)
        if attempt is None:
            return
        self._changed.set()
        if event.name == "Newchannel":
            self.placed[attempt] += 1
        elif event.name == "Newstate" and event.get("ChannelState") == _STATE_UP:
            self.up.add(attempt)
        elif event.name == "Hangup":
            self.gone.add(attempt)

    async def wait_for(
        self,
        done: Callable[[], object],
        timeout: float,  # noqa: ASYNC109
        *,
        what: str,
    ) -> None:
        """Wait, event by event, until ``done()`` holds; after ``timeout`` s a failure that
        names ``what`` was awaited and the attempts' calls as Asterisk reported them."""
        try:
            async with asyncio.timeout(timeout):
                while not done():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"not within {timeout} s: {what}; {self.state()}") from None

    def state(self) -> str:
        """The attempts seen so far, by what their calls did (for failure messages)."""
        return (
            f"placed {dict(self.placed)}, up {sorted(self.up)}, "
            f"ringing {sorted(self.ringing)}, gone {sorted(self.gone)}"
        )


def _survey_answer(prompt: str) -> str:
    return "1" if prompts.SURVEY_INTRO in prompt else "8"


class AmiLink:
    """A TCP proxy between the server and Asterisk's AMI that the test can cut: the server
    loses its AMI session (events in flight are lost) while Asterisk and its calls go on."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones (both directions, at once)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self.connections += 1
        self._writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()
            self._writers.discard(sink)
