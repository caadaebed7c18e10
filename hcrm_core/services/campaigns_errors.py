"""Typed errors of campaigns and their attempts (translated once, like every DomainError)."""

from __future__ import annotations

from hcrm_core.errors import Conflict, DomainError, NotFound


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class AttemptNotFound(NotFound):
    code = "attempt_not_found"


class CampaignStateError(Conflict):
    """The campaign cannot do that in its current status (e.g. start a stopped campaign)."""

    code = "campaign_state"


class NotDialable(DomainError):
    """This attempt must not be dialled now; ``reason`` says why (the dialer logs it)."""

    code = "not_dialable"
    http_status = 409

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PatientOnCall(NotDialable):
    """Another attempt to this patient is in flight (any campaign, any server process)."""

    code = "patient_on_call"

    def __init__(self, message: str) -> None:
        super().__init__("patient_on_call", message)
