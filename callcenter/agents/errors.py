"""Typed errors of the agent desk, translated once to HTTP statuses by the console."""

from __future__ import annotations

from callcenter.errors import CallcenterDomainError, CallcenterError
from callcenter.errors import TelephonyUnavailable as TelephonyUnavailable
from hcrm_core.errors import Conflict, ValidationFailed


class AgentError(CallcenterDomainError):
    code = "agent_error"
    http_status = 409


class NotSignedIn(AgentError):
    code = "not_signed_in"


class ExtensionInUse(CallcenterError, Conflict):
    code = "extension_in_use"


class InvalidExtension(CallcenterError, ValidationFailed):
    def __init__(self, message: str = "use 2-8 digits") -> None:
        super().__init__("extension", message)


class ExtensionNotYours(CallcenterError, ValidationFailed):
    """Not the extension assigned to the user: their calls would ring someone else's phone."""

    code = "extension_not_assigned"
    http_status = 403

    def __init__(self, message: str) -> None:
        super().__init__("extension", message)


class InvalidNumber(CallcenterError, ValidationFailed):
    def __init__(self, message: str) -> None:
        super().__init__("number", message)


class PopNotFound(CallcenterDomainError):
    code = "pop_not_found"
    http_status = 404


class CallStillLive(AgentError):
    """A disposition says how a call ended: it waits for the end (a note may be added now)."""

    code = "call_still_live"


class NotOnCall(AgentError):
    code = "not_on_call"


class CallGone(AgentError):
    """The call (or the caller) hung up a moment before the button was pressed."""

    code = "call_gone"


class TransferTargetInvalid(CallcenterError, ValidationFailed):
    """Where a transfer should go cannot take it (no such queue, agent paused, bad number)."""

    code = "transfer_target_invalid"
