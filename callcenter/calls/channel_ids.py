"""Naming a campaign attempt's call in Asterisk, so the tracker and the dialer agree on it.

The attempt id is given to Originate as ``ChannelId`` (prefixed, so it cannot collide with
Asterisk's own ``<epoch>.<n>`` ids): the ``;1`` half of the Local channel then has that
Uniqueid and the whole call that Linkedid, and after a crash the call is found by it in
``CoreShowChannels`` and in the call log. The tracker reads these names to tell a campaign call
from an inbound one; it must not depend on the dialer for that, so they live here.
"""

from __future__ import annotations


def channel_id(prefix: str, attempt_id: int) -> str:
    return f"{prefix}{int(attempt_id)}"


def other_channel_id(prefix: str, attempt_id: int) -> str:
    """The ``;2`` half's Uniqueid (the far end of the Local pair)."""
    return f"{prefix}{int(attempt_id)}-b"


def attempt_of(prefix: str, uniqueid: str) -> int | None:
    """The attempt id named by an Asterisk Uniqueid/Linkedid, or None if it is not ours."""
    if not uniqueid.startswith(prefix):
        return None
    rest = uniqueid[len(prefix) :]
    return int(rest) if rest.isdigit() and len(rest) < 19 else None
