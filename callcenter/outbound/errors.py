"""What can go wrong in the dialer, typed."""

from __future__ import annotations

from callcenter.errors import CallcenterError


class OutboundError(CallcenterError):
    """Base of the dialer's own failures."""


class NoCallerId(OutboundError):
    """No valid hospital caller ID is configured: campaigns may not dial (docs/outbound.md)."""


class OptedOut(Exception):
    """The patient pressed the opt-out key: no more calls, ever, until staff change it.

    Control flow, not an error: raised to leave the dialog at once (like ``ToAgent``), so it
    is not a :class:`~callcenter.errors.CallcenterError`."""
