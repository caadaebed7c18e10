"""The installation check: read keys and say them back (``*99`` from an agent phone)."""

from __future__ import annotations

from callcenter.agi.channel import AgiChannel

PROMPT = "beep"
MAX_DIGITS = 8
TIMEOUT_MS = 5000


async def echo_digits(agi: AgiChannel) -> str | None:
    """Answer, collect up to 8 keys, say them back, and leave them in ECHO_DIGITS."""
    await agi.answer()
    digits = await agi.get_data(PROMPT, timeout_ms=TIMEOUT_MS, max_digits=MAX_DIGITS)
    await agi.set_variable("ECHO_DIGITS", digits or "")
    if digits:
        await agi.say_digits(digits)
    else:
        await agi.stream_file("vm-goodbye")
    return digits
