"""Errors of the callback slice."""

from __future__ import annotations

from callcenter.errors import CallcenterError


class CallbackError(CallcenterError):
    """Base of the callback slice's errors."""
