"""The one base of the call center's own errors, and the errors every slice shares.

Every error a ``callcenter`` module raises on purpose derives from :class:`CallcenterError`
(``except CallcenterError`` catches ours, never a library's). Those a person can act upon also
derive from :class:`hcrm_core.errors.DomainError` (:class:`CallcenterDomainError`, or a slice
error subclassing both): the web console translates them once to their ``http_status``
(``web_console.errors``) and the IVR to a prompt.

Control-flow exceptions (``ToAgent``, ``OptedOut``) are not errors and do not derive from it.
"""

from __future__ import annotations

from hcrm_core.errors import DomainError


class CallcenterError(Exception):
    """Base of every error raised by the call center itself."""


class CallcenterDomainError(CallcenterError, DomainError):
    """A call-center error with a message for a person, an error ``code`` and an HTTP status."""

    code = "callcenter_error"


class TelephonyUnavailable(CallcenterDomainError):
    """Asterisk cannot be asked right now (AMI down, not booted); nothing was changed."""

    code = "telephony_unavailable"
    http_status = 503
