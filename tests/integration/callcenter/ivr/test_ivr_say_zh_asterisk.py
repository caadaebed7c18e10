"""Asterisk's own SAY commands in Mandarin find every file they need among ours.

Debian packages no ``zh`` core sounds; ``prompts build`` renders them
(:mod:`callcenter.agi.core_sounds_zh`). Asterisk falls back to English for a file missing in
``zh``, so a gap would be heard, not failed: the test reads Asterisk's verbose log, where each
file played is named with its format, and requires every file of the call to be one of ours
(WAV, logged as ``slin``) rather than a packaged English one (``gsm``).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from callcenter.agi import core_sounds_zh
from callcenter.agi.channel import AgiChannel
from callcenter.agi.localised import LANGUAGE_VARIABLE
from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk import const
from callcenter.ivr.build_prompts import language_prompts
from callcenter.settings import AgiSettings
from tests.support.asterisk_sandbox import AsteriskSandboxHandle

pytestmark = pytest.mark.asterisk
WAIT = 120.0
# Each kind of file once, and no more: every file is a second of the test's time.
NUMBERS = (15, 105, 10005, 200000000)
SAYINGS = (
    # A Monday morning on the hour, as the IVR says appointment times.
    (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), core_sounds_zh.DATETIME_FORMAT_ON_THE_HOUR),
    # A Saturday afternoon with minutes, and the parts appointment times do not use.
    (datetime(2026, 6, 6, 15, 45, 30, tzinfo=UTC), core_sounds_zh.DATETIME_FORMAT),
    (datetime(2026, 6, 6, 15, 45, 30, tzinfo=UTC), "Y k S"),
)
_PLAYING = re.compile(
    r"<(?P<channel>[^>]+)> Playing '(?P<file>[^']+)'.*\(language '(?P<lang>\w+)'\)"
)


async def _say_everything(agi: AgiChannel) -> None:
    await agi.answer()
    await agi.set_variable(LANGUAGE_VARIABLE, "zh")
    for number in NUMBERS:
        await agi.say_number(number)
    await agi.say_digits("0123456789*#")
    for moment, fmt in SAYINGS:
        await agi.say_datetime(int(moment.timestamp()), fmt=fmt, timezone="UTC")


async def test_mandarin_say_commands_play_only_mandarin_files(
    asterisk_sandbox: AsteriskSandboxHandle, ami: AmiBridge
) -> None:
    zh_dir = sounds_language_dir(asterisk_sandbox.settings, sandbox=True, language="zh")
    await asyncio.to_thread(build_prompts, language_prompts("zh"), zh_dir)
    log = asterisk_sandbox.sandbox.log_path
    start = log.stat().st_size
    done: asyncio.Queue[str] = asyncio.Queue()

    async def flow(agi: AgiChannel) -> None:
        await _say_everything(agi)
        await done.put(agi.env.channel)

    server = FastAgiServer(AgiSettings(port=0), {const.AGI_ROUTE_ECHO_DIGITS: flow})
    await server.start()
    try:
        await ami.originate(
            f"Local/s@{const.CONTEXT_SIM_LISTENER}",
            context=const.CONTEXT_AGI_TEST,
            exten="s",
            variables={"SIM_HOLD": "120", "CALLCENTER_AGI": f"agi://127.0.0.1:{server.port}"},
        )
        channel = await asyncio.wait_for(done.get(), WAIT)
    finally:
        await server.stop()
    with log.open("rb") as handle:
        handle.seek(start)
        text = handle.read().decode("utf-8", errors="replace")
    played = [m.group("file") for m in _PLAYING.finditer(text) if m.group("channel") == channel]
    assert played, "Asterisk logged no playback for the call"
    assert all(
        m.group("lang") == "zh" for m in _PLAYING.finditer(text) if m.group("channel") == channel
    )
    # A file found in no language at all is skipped with a warning (not tagged by channel).
    assert not re.findall(r"File (?:digits/\S+|minute|second) does not exist", text)
    fallbacks = sorted({f for f in played if not f.endswith(".slin")})
    assert fallbacks == [], f"played from the English core sounds: {fallbacks}"
