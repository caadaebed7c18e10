"""Naming a campaign attempt's call in Asterisk, so the tracker and the dialer agree on it.

The attempt id is given to Originate as ``ChannelId`` (prefixed, so it cannot collide with
Asterisk's own ``<epoch>.<n>`` ids): the ``;1`` half of the Local channel then has that
Uniqueid and the whole call that Linkedid, and after a crash the call is found by it in
``CoreShowChannels`` and in the call log. The tracker reads these names to tell a campaign call
from an inbound one; it must not depend on the dialer for that, so they live here.
"""

from __future__ import annotations

import re

# A callback placement's Linkedid, whatever the site's prefix (callbacks.channel_prefix allows
# [a-z][a-z0-9]{0,15}-): never the shape of Asterisk's own "<epoch>.<n>" or an attempt's.
_CALLBACK_LINKEDID = re.compile(r"[a-z][a-z0-9]{0,15}-[0-9]{1,18}-[0-9]{1,18}")

# Widths of the padded numbers: ids (database keys) up to 10^12, placements up to 10^4 (a
# callback is placed a handful of times). A wider number is written in full: it parses, only the
# prefix-freedom is lost, and only against ids 10^12 apart.
ID_WIDTH = 12
PLACEMENT_WIDTH = 4


def _padded(number: int, width: int) -> str:
    return f"{int(number):0{width}d}"


def channel_id(prefix: str, attempt_id: int) -> str:
    """The ``;1`` half's Uniqueid (and the call's Linkedid) for a campaign attempt."""
    return f"{prefix}{_padded(attempt_id, ID_WIDTH)}"


def other_channel_id(prefix: str, attempt_id: int) -> str:
    """The ``;2`` half's Uniqueid (the far end of the Local pair)."""
    return f"{channel_id(prefix, attempt_id)}-b"


def attempt_of(prefix: str, uniqueid: str) -> int | None:
    """The attempt id named by an Asterisk Uniqueid/Linkedid, or None if it is not ours."""
    if not uniqueid.startswith(prefix):
        return None
    rest = uniqueid[len(prefix) :]
    return int(rest) if rest.isdigit() and len(rest) < 19 else None


def callback_channel_id(prefix: str, callback_id: int, placement: int) -> str:
    """A queue callback's placeholder call: the ``;1`` half (it dials the patient); the
    ``;2`` half, ``<this>-b``, is what waits in the queue in the caller's place."""
    return f"{prefix}{_padded(callback_id, ID_WIDTH)}-{_padded(placement, PLACEMENT_WIDTH)}"


def callback_of(prefix: str, uniqueid: str) -> tuple[int, int] | None:
    """(callback id, placement) named by a Uniqueid/Linkedid of either half, or None."""
    if not uniqueid.startswith(prefix):
        return None
    parts = uniqueid[len(prefix) :].removesuffix("-b").split("-")
    if len(parts) != 2 or not all(p.isdigit() and len(p) < 19 for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def is_callback_call(linkedid: str) -> bool:
    """The call is a queue callback's placement (the screen pop marks it as a callback)."""
    return _CALLBACK_LINKEDID.fullmatch(linkedid) is not None
