"""Classic AGI against the sandbox: a process per call on the host, reached from the chroot.

Asterisk runs ``AGI(<dir>/ivr)`` inside its chroot, which has no Python. The script it runs
there is a three-line bash relay (``/dev/tcp``) to :class:`ClassicAgiSpawner` on the host's
loopback, which starts one ``callcenter-agi`` process per call with the connection as its stdin
and stdout. The process cannot tell a socket from Asterisk's pipes: the environment, commands
and replies are the same bytes. (A site without a chroot points ``AGI()`` at ``callcenter-agi``
itself: docs/ivr.md.) The spawner reaps its children and sums their CPU time, for
``benchmarks/ivr_load.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from callcenter.asterisk import const

# The relay ignores SIGHUP (Asterisk's hang-up signal for classic AGI): it must keep carrying
# Asterisk's replies, which tell the host process the caller has gone. Its main process copies
# the host's output, so it exits when the host process does: Asterisk waits for that exit.
# (A background job's stdin is /dev/null unless redirected: hence "<&0".)
RELAY = """#!/bin/bash
# Test relay (tests/support/classic_agi_bridge.py): classic AGI to the host's callcenter-agi.
trap '' HUP
exec 3<>/dev/tcp/127.0.0.1/{port} || exit 1
cat <&0 >&3 &
cat <&3
kill $! 2>/dev/null
"""


@dataclass
class ClassicAgiSpawner:
    """Accepts relayed sessions and runs ``callcenter-agi`` for each, with ``env``."""

    env: Mapping[str, str]
    command: tuple[str, ...] = (sys.executable, "-m", "callcenter.ivr.classic")
    started: int = 0
    exit_codes: list[int] = field(default_factory=list)
    _listener: socket.socket | None = None
    _accepting: asyncio.Task[None] | None = None
    _children: set[asyncio.Task[None]] = field(default_factory=set)
    _processes: set[asyncio.subprocess.Process] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    async def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(256)
        listener.setblocking(False)
        self._listener = listener
        self._accepting = asyncio.create_task(self._accept_loop())

    async def stop(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        for process in self._processes:  # a test that failed may leave one waiting
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        if self._children:
            await asyncio.gather(*self._children, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()

    async def idle(self, timeout: float) -> None:  # noqa: ASYNC109 - a test's patience
        """Wait until every started process has exited."""
        async with asyncio.timeout(timeout):
            while self._children:
                await asyncio.gather(*list(self._children), return_exceptions=True)

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        while True:
            conn, _ = await loop.sock_accept(self._listener)
            task = asyncio.create_task(self._run_one(conn))
            self._children.add(task)
            task.add_done_callback(self._children.discard)

    async def _run_one(self, conn: socket.socket) -> None:
        conn.setblocking(True)
        self.started += 1
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command, stdin=conn.fileno(), stdout=conn.fileno(), env=dict(self.env)
            )
        finally:
            conn.close()  # the child holds its own copies; EOF reaches Asterisk when it exits
        self._processes.add(process)
        try:
            self.exit_codes.append(await process.wait())
        finally:
            self._processes.discard(process)


def children_cpu_seconds() -> float:
    """User + system CPU of every child process this process has reaped."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def classic_env(database_url: str, data_dir: Path, *, timezone: str = "UTC") -> dict[str, str]:
    """The environment of the per-call processes: this process's, minus any settings, plus
    the test database (the settings file a site would use, as environment overrides)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        {
            "CALLCENTER_DATABASE__URL": database_url,
            "CALLCENTER_DATA_DIR": str(data_dir),
            "CALLCENTER_HOSPITAL__TIMEZONE": timezone,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
    )
    return env


@contextlib.asynccontextmanager
async def classic_agi(
    sandbox_root: Path, env: Mapping[str, str]
) -> AsyncIterator[tuple[ClassicAgiSpawner, str]]:
    """A running spawner and the chroot directory to use as ``CALLCENTER_AGI`` (its relay
    scripts are named after the AGI routes); both removed afterwards."""
    spawner = ClassicAgiSpawner(env)
    await spawner.start()
    inside = PurePosixPath(f"/usr/local/lib/callcenter-agi-test-{spawner.port}")
    directory = sandbox_root / inside.relative_to("/")
    directory.mkdir(parents=True, exist_ok=True)
    for route in (const.AGI_ROUTE_IVR, const.AGI_ROUTE_ECHO_DIGITS):
        script = directory / route
        script.write_text(RELAY.format(port=spawner.port))
        script.chmod(0o755)
    try:
        yield spawner, str(inside)
    finally:
        await spawner.stop()
        shutil.rmtree(directory, ignore_errors=True)
