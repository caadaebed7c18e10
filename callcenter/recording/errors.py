"""Typed errors of the recording slice (translated once to HTTP by the console middleware)."""

from __future__ import annotations

from hcrm_core.errors import Conflict, DomainError, NotFound


class RecordingNotFound(NotFound):
    code = "recording_not_found"


class NotRecording(Conflict):
    """Pause/resume asked for a call that has no recording in progress."""

    code = "not_recording"


class TelephonyUnavailable(DomainError):
    """Asterisk cannot be asked right now (AMI down, not booted); nothing was changed."""

    code = "telephony_unavailable"
    http_status = 503


class RecordingAccessDenied(DomainError):
    code = "recording_forbidden"
    http_status = 403


class AudioUnavailable(Conflict):
    """The recording has no playable audio (not processed yet, failed or deleted)."""

    code = "audio_unavailable"


class UnsafeRecordingPath(ValueError):
    """A file name that is not one of ours (only server-side ids make recording names)."""


class LeaseLost(Exception):
    """A job's lease ran out and another worker took it: this worker's results are dropped."""


class BadRecordingKey(ValueError):
    """recording.key is not 32 bytes of URL-safe base64."""
