"""Typed errors of the recording slice (translated once to HTTP by the console middleware)."""

from __future__ import annotations

from callcenter.errors import CallcenterDomainError, CallcenterError
from callcenter.errors import TelephonyUnavailable as TelephonyUnavailable
from hcrm_core.errors import Conflict, NotFound


class RecordingNotFound(CallcenterError, NotFound):
    code = "recording_not_found"


class NotRecording(CallcenterError, Conflict):
    """Pause/resume asked for a call that has no recording in progress."""

    code = "not_recording"


class RecordingAccessDenied(CallcenterDomainError):
    code = "recording_forbidden"
    http_status = 403


class AudioUnavailable(CallcenterError, Conflict):
    """The recording has no playable audio (not processed yet, failed or deleted)."""

    code = "audio_unavailable"


class UnsafeRecordingPath(CallcenterError, ValueError):
    """A file name that is not one of ours (only server-side ids make recording names)."""


class LeaseLost(CallcenterError):
    """A job's lease ran out and another worker took it: this worker's results are dropped."""


class BadRecordingKey(CallcenterError, ValueError):
    """recording.key is not 32 bytes of URL-safe base64."""
