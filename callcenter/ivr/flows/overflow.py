"""The message overflow (route ``queue-overflow``): a caller who waited a queue's maximum wait.

The dialplan (``callcenter-queues``, extension ``leave-message``) runs this route when the
queue's overflow is "message", with the queue's name as the AGI argument. Menu map
(docs/ivr.md): "We are sorry, all our agents are still busy" -> the closed branch's menu
without its emergency key: 1 leave a message (recorded after the tone), 2 be called back ->
goodbye. Each is stored as an after-hours request of the same kind for the queue; the patient
the IVR identified before the hand-off (``CALLCENTER_PATIENT``) gets the follow-up task. The
caller hears their own language: the IVR set the channel's before the queue.
"""

from __future__ import annotations

import logging
import re

from callcenter.agi import prompts as kit_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.ivr import after_hours_prompts as closed
from callcenter.ivr import prompts
from callcenter.ivr.flows.after_hours import AfterHoursServices, message_menu
from callcenter.ivr.queue_handoff import PATIENT_VARIABLE

_LOG = logging.getLogger(__name__)
_QUEUE = re.compile(r"[a-z][a-z0-9_-]{1,31}")


async def _patient_id(agi: AgiChannel) -> int | None:
    """The patient the IVR identified before the hand-off (set by us on this channel)."""
    value = (await agi.get_variable(PATIENT_VARIABLE) or "").strip()
    return int(value) if value.isdigit() else None


async def queue_overflow(
    agi: AgiChannel, *, bus: EventBus, after_hours: AfterHoursServices | None
) -> None:
    """The whole dialog for a caller past a queue's maximum wait."""
    queue = agi.env.arguments[0] if agi.env.arguments else ""
    if not _QUEUE.fullmatch(queue) or after_hours is None:
        # Not from our dialplan (or no place to keep requests): the dialplan's after-queue.
        _LOG.warning("queue overflow for %r not served (linkedid=%s)", queue, agi.linkedid)
        return
    ivr = LocalisedIvr(agi, CallContext(agi.linkedid, bus, patient_id=await _patient_id(agi)))
    language = kit_prompts.supported(agi.env.language)
    if language:
        ivr.language = language  # already the channel's: no need to set it again
    ivr.call.enter("overflow", queue=queue)
    await ivr.play(closed.OVERFLOW_SORRY)
    choice = await message_menu(ivr, after_hours, queue)
    await ivr.play(prompts.GOODBYE)
    ivr.call.leave("overflow", queue=queue, choice=choice.value if choice else None)
