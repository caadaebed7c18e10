"""Built prompts play in the real Asterisk; a missing one is told apart from a hang-up."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.agi.channel import AgiChannel
from callcenter.agi.errors import SoundMissing
from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk import const
from callcenter.ivr import prompts
from callcenter.settings import AgiSettings
from tests.support.asterisk_sandbox import AsteriskSandboxHandle

pytestmark = pytest.mark.asterisk
WAIT = 20.0


async def test_built_prompt_plays_and_missing_one_is_not_a_hangup(
    asterisk_sandbox: AsteriskSandboxHandle, ami: AmiBridge
) -> None:
    out_dir = sounds_language_dir(asterisk_sandbox.settings, sandbox=True)
    await asyncio.to_thread(build_prompts, dict(prompts.CATALOGUE), out_dir)
    outcome: asyncio.Queue[list[str]] = asyncio.Queue()

    async def flow(agi: AgiChannel) -> None:
        seen: list[str] = []
        await agi.answer()
        await agi.stream_file(prompts.PRESS[1])
        seen.append("played")
        try:
            await agi.stream_file("callcenter/not-built-yet", "12")
        except SoundMissing as exc:
            seen.append(f"missing:{exc.name}")
        await agi.say_digits("42")  # the channel is still usable
        seen.append("alive")
        await outcome.put(seen)

    server = FastAgiServer(AgiSettings(port=0), {const.AGI_ROUTE_ECHO_DIGITS: flow})
    await server.start()
    try:
        await ami.originate(
            f"Local/s@{const.CONTEXT_SIM_LISTENER}",
            context=const.CONTEXT_AGI_TEST,
            exten="s",
            variables={"SIM_HOLD": "15", "CALLCENTER_AGI": f"agi://127.0.0.1:{server.port}"},
        )
        seen = await asyncio.wait_for(outcome.get(), WAIT)
    finally:
        await server.stop()
    assert seen == ["played", "missing:callcenter/not-built-yet", "alive"]
