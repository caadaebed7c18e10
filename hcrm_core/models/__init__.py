"""The HCRM domain models (SQLAlchemy 2, typed declarative)."""

from hcrm_core.models.agent_history import AgentStateChange
from hcrm_core.models.appointments import Appointment
from hcrm_core.models.audit import AuditEvent
from hcrm_core.models.base import Base, utcnow
from hcrm_core.models.callbacks import CallbackStatus, QueueCallback
from hcrm_core.models.calls import Call, CallEvent, Recording, Transcript
from hcrm_core.models.case_history import ComplaintStatusChange, TaskStatusChange
from hcrm_core.models.cluster import ClusterLeadership
from hcrm_core.models.cluster_events import ClusterEvent
from hcrm_core.models.console import ConsoleSession, LoginBackoff, LoginFailure
from hcrm_core.models.enums import (
    AppointmentStatus,
    AttemptStatus,
    AuditAction,
    CallDirection,
    CampaignKind,
    CampaignStatus,
    Channel,
    ComplaintSeverity,
    ComplaintStatus,
    ExceptionKind,
    FollowUpStatus,
    PhoneKind,
    RecordingStatus,
    Role,
    Sex,
    TaskSource,
)
from hcrm_core.models.hours import (
    AfterHoursKind,
    AfterHoursOptions,
    AfterHoursRequest,
    AfterHoursStatus,
    Holiday,
    OpeningInterval,
)
from hcrm_core.models.outreach import (
    Campaign,
    CampaignAttempt,
    Complaint,
    ComplaintCall,
    ComplaintContact,
    FollowUpTask,
    SurveyAnswer,
)
from hcrm_core.models.patients import Allergy, ChronicCondition, Patient, PatientPhone
from hcrm_core.models.prompt_renders import CampaignPromptRender, PromptRenderState
from hcrm_core.models.queues import CallQueue, QueueAgent, QueueSkill, Skill, UserSkill
from hcrm_core.models.recordings import RecordingJob, RecordingReview, TranscriptTerm
from hcrm_core.models.scheduling import (
    Department,
    Doctor,
    ScheduleException,
    ScheduleTemplate,
    Slot,
)
from hcrm_core.models.segments import PatientTag, PatientTagLink, Segment
from hcrm_core.models.users import AgentSignIn, User

__all__ = [
    "AfterHoursKind",
    "AfterHoursOptions",
    "AfterHoursRequest",
    "AfterHoursStatus",
    "AgentSignIn",
    "AgentStateChange",
    "Allergy",
    "Appointment",
    "AppointmentStatus",
    "AttemptStatus",
    "AuditAction",
    "AuditEvent",
    "Base",
    "Call",
    "CallDirection",
    "CallEvent",
    "CallQueue",
    "CallbackStatus",
    "Campaign",
    "CampaignAttempt",
    "CampaignKind",
    "CampaignPromptRender",
    "CampaignStatus",
    "Channel",
    "ChronicCondition",
    "ClusterEvent",
    "ClusterLeadership",
    "Complaint",
    "ComplaintCall",
    "ComplaintContact",
    "ComplaintSeverity",
    "ComplaintStatus",
    "ComplaintStatusChange",
    "ConsoleSession",
    "Department",
    "Doctor",
    "ExceptionKind",
    "FollowUpStatus",
    "FollowUpTask",
    "Holiday",
    "LoginBackoff",
    "LoginFailure",
    "OpeningInterval",
    "Patient",
    "PatientPhone",
    "PatientTag",
    "PatientTagLink",
    "PhoneKind",
    "PromptRenderState",
    "QueueAgent",
    "QueueCallback",
    "QueueSkill",
    "Recording",
    "RecordingJob",
    "RecordingReview",
    "RecordingStatus",
    "Role",
    "ScheduleException",
    "ScheduleTemplate",
    "Segment",
    "Sex",
    "Skill",
    "Slot",
    "SurveyAnswer",
    "TaskSource",
    "TaskStatusChange",
    "Transcript",
    "TranscriptTerm",
    "User",
    "UserSkill",
    "utcnow",
]
