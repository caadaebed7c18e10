"""What the dialplan needs to know about recording, rendered as ``[globals]``.

The ``callcenter-record`` context (asterisk_conf/extensions.conf) reads these globals to pick a
policy per queue; nothing a caller sends reaches them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from callcenter.settings import RECORDING_POLICIES, RecordingSettings

# Dialplan variable names and sound names: letters, digits, '-', '_' and '/' (sounds) only.
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
_SOUND_NAME = re.compile(r"^[A-Za-z0-9_/-]{1,120}$")


def dialplan_globals(recording: RecordingSettings) -> dict[str, str]:
    """``CALLCENTER_RECORD_*`` globals: default, inbound, per-queue policies, announcement."""
    values = {
        "CALLCENTER_RECORD_DEFAULT": recording.default_policy,
        "CALLCENTER_RECORD_INBOUND": recording.inbound_policy,
        "CALLCENTER_RECORD_ANNOUNCE": _announcement(recording),
    }
    for queue, policy in sorted(recording.queue_policies.items()):
        if not _QUEUE_NAME.match(queue):
            raise ValueError(f"recording.queue_policies: {queue!r} is not a queue name")
        values[f"CALLCENTER_RECORD_POLICY_{queue}"] = policy
    return values


def _announcement(recording: RecordingSettings) -> str:
    if not recording.announce or not recording.announcement:
        return ""
    if not _SOUND_NAME.match(recording.announcement) or ".." in recording.announcement:
        raise ValueError("recording.announcement: a sound name like 'conf-now-recording'")
    return recording.announcement


def campaign_record_variables(campaign_settings: Mapping[str, Any]) -> dict[str, str]:
    """Originate variables that apply a campaign's recording policy to its calls.

    The policy is ``campaign.settings["recording"]`` (always | never | on_demand; missing means
    the queue's or the default policy). The dialer adds these to its Originate ``Variable``s.
    """
    policy = campaign_settings.get("recording")
    if policy is None:
        return {}
    if policy not in RECORDING_POLICIES:
        raise ValueError(
            f"campaign recording policy must be one of {', '.join(RECORDING_POLICIES)}"
        )
    return {"CALLCENTER_RECORD": str(policy)}
