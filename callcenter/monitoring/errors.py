"""Typed errors of the monitoring slice (translated once to HTTP by the console middleware)."""

from __future__ import annotations

from callcenter.errors import CallcenterError
from callcenter.errors import TelephonyUnavailable as TelephonyUnavailable
from hcrm_core.errors import Conflict


class NotMonitorable(CallcenterError, Conflict):
    """The call has no agent channel that ChanSpy could be pointed at."""

    code = "not_monitorable"
