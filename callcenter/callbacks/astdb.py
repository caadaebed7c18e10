"""What Asterisk itself remembers of a callback's dial (AstDB), for a server that was away.

The dialplan (``callcenter-callback``) writes ``callcenter-callback/<channel id>`` = ``dialling``
before it rings the patient and the ``DIALSTATUS`` after; AMI ``DBGet`` (class "reporting")
reads it back. Not found: the patient was never rung for that placement.
"""

from __future__ import annotations

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiActionError

FAMILY = "callcenter-callback"
DIALLING = "dialling"


async def dial_record(ami: AmiBridge, channel_id: str) -> str | None:
    """The stored dial state of one placement, or None when it was never dialled."""
    try:
        response = await ami.send_list_action(
            {"Action": "DBGet", "Family": FAMILY, "Key": channel_id}
        )
    except AmiActionError:
        return None  # "Database entry not found"
    for event in response.events:
        if event.name == "DBGetResponse":
            return event.get("Val") or None
    return None
