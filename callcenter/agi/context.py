"""What the IVR knows about one call, and how it leaves: published for the call log and the agent.

Every step is published as :class:`IvrProgress`; the call tracker folds it into the call, so the
call log shows the last step a caller reached and the agent's screen pop shows who the caller is,
what they tried and where it failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress

_LOG = logging.getLogger(__name__)


class ToAgent(Exception):
    """The caller is to be handed to an agent (pressed 0, too many failures, cannot be served).

    Raised from anywhere in a dialog; the entry dialog catches it once and transfers. Control
    flow, not an error: it is not a :class:`~callcenter.errors.CallcenterError`.
    """

    def __init__(self, reason: str, step: str) -> None:
        super().__init__(f"{reason} at {step}")
        self.reason = reason
        self.step = step


@dataclass
class CallContext:
    """The IVR's running record of one call."""

    linkedid: str
    bus: EventBus
    patient_id: int | None = None
    step: str = "start"
    tried: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def enter(self, step: str, **context: Any) -> None:
        """The caller reached ``step``: publish it (with anything worth showing an agent)."""
        self.step = step
        _LOG.info("IVR step %s (linkedid=%s) %s", step, self.linkedid, context or "")
        self.bus.publish(IvrProgress(self.linkedid, step, context, patient_id=self.patient_id))

    def tried_to(self, action: str) -> None:
        """Remember what the caller attempted (``book``, ``identify-mrn``...) for the agent."""
        if action not in self.tried:
            self.tried.append(action)

    def failed(self, step: str) -> int:
        """Count one failure at ``step``; returns the count so far."""
        self.failures[step] = self.failures.get(step, 0) + 1
        return self.failures[step]

    def identified(self, patient_id: int, method: str) -> None:
        self.patient_id = patient_id
        self.enter("identified", patient_id=patient_id, identified_by=method)

    def leave(self, step: str, **context: Any) -> None:
        """The caller leaves the IVR (to an agent, or done): the last word for the call log."""
        self.step = step
        payload = {"tried": list(self.tried), "failures": dict(self.failures), **context}
        _LOG.info("IVR leaves at %s (linkedid=%s) %s", step, self.linkedid, payload)
        self.bus.publish(
            IvrProgress(self.linkedid, step, payload, left=True, patient_id=self.patient_id)
        )
