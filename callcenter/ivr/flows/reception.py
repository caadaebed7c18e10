"""The front door until the full IVR lands: greet the caller and hand them to a queue.

Calls enter through ``hospital-inbound``, whose dialplan sends the caller to the queue named in
``CALLCENTER_QUEUE`` once this dialog returns. The call log learns that the caller was in the
IVR (``IvrProgress``), so a hang-up here is logged as one.
"""

from __future__ import annotations

from callcenter.asterisk.const import FALLBACK_QUEUE
from callcenter.call_state import IvrProgress
from callcenter.events import EventBus
from callcenter.ivr.agi import AgiChannel

GREETING = "silence/1"


async def reception(agi: AgiChannel, bus: EventBus) -> None:
    bus.publish(IvrProgress(agi.linkedid, "reception"))
    await agi.answer()
    await agi.stream_file(GREETING)
    await agi.set_variable("CALLCENTER_QUEUE", FALLBACK_QUEUE)
    bus.publish(IvrProgress(agi.linkedid, "to-queue", {"queue": FALLBACK_QUEUE}, left=True))
