"""Typed errors of the AMI bridge: callers catch these, never panoramisk's internals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.errors import CallcenterError

if TYPE_CHECKING:
    from callcenter.ami.events import AmiResponse


class AmiError(CallcenterError):
    """Base of every AMI bridge error."""


class AsteriskUnavailable(AmiError):
    """Asterisk cannot take calls now: not connected, or shut down and not fully booted again."""


class AmiNotConnected(AsteriskUnavailable):
    """No logged-in AMI session (connecting, auth failed, or the connection was lost)."""


class AmiAuthError(AmiError):
    """Asterisk refused the AMI username/secret."""


class AmiTimeout(AmiError, TimeoutError):
    """No complete response to an action within its timeout."""

    def __init__(self, action: str, action_id: str, timeout: float) -> None:
        super().__init__(f"no response to {action} (ActionID {action_id}) within {timeout:g} s")
        self.action = action
        self.action_id = action_id
        self.timeout = timeout


class AmiActionError(AmiError):
    """Asterisk answered an action with ``Response: Error`` (or Fail/Failure)."""

    def __init__(self, response: AmiResponse) -> None:
        super().__init__(
            f"{response.action} failed (ActionID {response.action_id}): "
            f"{response.message or response.response}"
        )
        self.response = response

    @property
    def message(self) -> str:
        """Asterisk's ``Message:`` header, e.g. ``Channel not found``."""
        return self.response.message
