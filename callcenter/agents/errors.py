"""Typed errors of the agent desk, translated once to HTTP statuses by the console."""

from __future__ import annotations

from hcrm_core.errors import Conflict, DomainError, ValidationFailed


class AgentError(DomainError):
    code = "agent_error"
    http_status = 409


class NotSignedIn(AgentError):
    code = "not_signed_in"


class ExtensionInUse(Conflict):
    code = "extension_in_use"


class TelephonyUnavailable(DomainError):
    """Asterisk cannot be asked right now (link down, not booted); nothing was changed."""

    code = "telephony_unavailable"
    http_status = 503


class InvalidExtension(ValidationFailed):
    def __init__(self, message: str = "use 2-8 digits") -> None:
        super().__init__("extension", message)


class InvalidNumber(ValidationFailed):
    def __init__(self, message: str) -> None:
        super().__init__("number", message)


class PopNotFound(DomainError):
    code = "pop_not_found"
    http_status = 404
