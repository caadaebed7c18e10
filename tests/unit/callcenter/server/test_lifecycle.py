"""The server's one start/stop mechanism: reverse order, unwinding, stops that fail."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from callcenter.server.lifecycle import Lifecycle


@dataclass
class Part:
    name: str
    stopped: list[str]
    fail_stop: bool = False

    async def stop(self) -> None:
        self.stopped.append(self.name)
        if self.fail_stop:
            raise RuntimeError(f"{self.name} would not stop")


@dataclass
class Parts:
    stopped: list[str] = field(default_factory=list)

    async def start(self, name: str, *, fail_stop: bool = False) -> Part:
        return Part(name, self.stopped, fail_stop)


async def _failing_start() -> Part:
    raise OSError("port taken")


async def test_parts_stop_in_exact_reverse_start_order() -> None:
    parts, life = Parts(), Lifecycle()
    for name in ("database", "bus", "ami", "fastagi"):
        await life.start(name, parts.start(name))
    assert life.parts == ("database", "bus", "ami", "fastagi")
    await life.stop()
    assert parts.stopped == ["fastagi", "ami", "bus", "database"]
    assert life.parts == ()


async def test_plain_stop_callbacks_take_their_place_in_the_order() -> None:
    parts, life = Parts(), Lifecycle()
    dialer = await life.start("outbound events", parts.start("outbound events"))

    async def stop_dialing() -> None:
        parts.stopped.append("dialing")

    await life.start("fastagi", parts.start("fastagi"))
    life.started("dialing", stop_dialing)
    await life.stop()
    assert parts.stopped == ["dialing", "fastagi", dialer.name]


async def test_a_failed_start_unwinds_what_had_started_and_raises() -> None:
    parts, life = Parts(), Lifecycle()
    with pytest.raises(OSError, match="port taken"):
        async with life.starting():
            await life.start("database", parts.start("database"))
            await life.start("ami", parts.start("ami"))
            await life.start("fastagi", _failing_start())
    assert parts.stopped == ["ami", "database"]
    assert life.parts == ()


async def test_a_failing_stop_is_logged_and_the_others_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts, life = Parts(), Lifecycle()
    await life.start("database", parts.start("database"))
    await life.start("recordings", parts.start("recordings", fail_stop=True))
    await life.start("web console", parts.start("web console"))
    with caplog.at_level(logging.ERROR, logger="callcenter.server.lifecycle"):
        await life.stop()
    assert parts.stopped == ["web console", "recordings", "database"]
    assert "stopping recordings failed" in caplog.text


async def test_a_successful_start_leaves_everything_running() -> None:
    parts, life = Parts(), Lifecycle()
    async with life.starting():
        await life.start("database", parts.start("database"))
    assert parts.stopped == []
    assert life.parts == ("database",)
    await life.stop()
