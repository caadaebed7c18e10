"""Closed vocabularies of the domain, stored as their string values."""

from __future__ import annotations

from enum import StrEnum


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    HOME = "home"
    WORK = "work"
    OTHER = "other"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class Channel(StrEnum):
    """Where a booking or cancellation came from."""

    IVR = "ivr"
    AGENT = "agent"
    WEB = "web"
    OUTBOUND = "outbound"


class ExceptionKind(StrEnum):
    LEAVE = "leave"
    HOLIDAY = "holiday"
    OTHER = "other"
    SICK = "sick"
    # Adds bookable time on one date (the only kind that does not block slots).
    EXTRA_SESSION = "extra_session"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class RecordingStatus(StrEnum):
    RECORDING = "recording"
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"
    DELETED = "deleted"


class CampaignKind(StrEnum):
    REMINDER = "reminder"
    POST_DISCHARGE = "post_discharge"
    ADHERENCE = "adherence"
    SURVEY = "survey"
    # Calls telling a patient the hospital moved or cancelled their appointment (slot keeper).
    APPOINTMENT_CHANGED = "appointment-changed"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


class AttemptStatus(StrEnum):
    SCHEDULED = "scheduled"
    DIALLING = "dialling"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"
    CANCELLED = "cancelled"


class ComplaintStatus(StrEnum):
    """received -> investigating -> responded -> closed; a closed one can be reopened."""

    RECEIVED = "received"
    INVESTIGATING = "investigating"
    RESPONDED = "responded"
    CLOSED = "closed"
    REOPENED = "reopened"


class ComplaintSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FollowUpStatus(StrEnum):
    """A task: open -> in_progress -> done or cannot_reach; cancelled when it no longer applies."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in_progress"
    CANNOT_REACH = "cannot_reach"


class TaskSource(StrEnum):
    """Where a task came from; ``source_ref`` on the task points at the row or call."""

    MANUAL = "manual"
    SURVEY = "survey"
    CAMPAIGN = "campaign"
    IVR_NO_AGENT = "ivr_no_agent"
    VOICEMAIL = "voicemail"
    CALLBACK_REQUEST = "callback_request"
    MISSED_CALLBACK = "missed_callback"
    APPOINTMENT_CHANGE = "appointment_change"
    COMPLAINT = "complaint"


class AuditAction(StrEnum):
    VIEW = "view"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    PLAY = "play"
    LOGIN = "login"
