"""The dial string for a patient's number; attempt ids are in `callcenter.calls.channel_ids`.

Only a validated E.164 number ever reaches the dial string (the dialplan filters it again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hcrm_core.phones import is_e164
from hcrm_core.services.campaigns_attempts import DialTarget


@dataclass(frozen=True, slots=True)
class DialPlan:
    """Where to send one call: the Originate channel and any extra channel variables."""

    channel: str
    variables: Mapping[str, str] = field(default_factory=dict)


class DialRoute(Protocol):
    def __call__(self, target: DialTarget) -> DialPlan: ...


class TemplateRoute:
    """The production route: ``template`` with ``{number}`` replaced by the E.164 number."""

    def __init__(self, template: str) -> None:
        if template.count("{number}") != 1:
            raise ValueError("the dial template must contain {number} exactly once")
        self._template = template

    def __call__(self, target: DialTarget) -> DialPlan:
        if not is_e164(target.phone_e164):
            raise ValueError(f"attempt {target.attempt_id}: number is not E.164")
        return DialPlan(self._template.replace("{number}", target.phone_e164))
