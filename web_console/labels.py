"""Readable labels for the codes the console shows: one table, for pages and the browser.

The database, the API and the bus keep the codes (``on_call``, ``caller_hung_up_in_ivr``,
``zh``); people see the labels. Templates use the ``label`` filter (``{{ state | label }}``),
scripts read the same table from the page (``base.html`` puts it in a JSON data block, read by
``static/labels.js``). A code missing from the table is shown humanised (``no_answer`` ->
"No answer"), never raw.
"""

from __future__ import annotations

import json
from typing import Final

LABELS: Final[dict[str, str]] = {
    # Agent states (callcenter.agents.state.AgentState)
    "signed_out": "Signed out",
    "ready": "Ready",
    "paused": "Paused",
    "ringing": "Ringing",
    "on_call": "On a call",
    "wrap_up": "Wrap-up",
    "idle": "Idle",
    # Dispositions (hcrm_core.services.call_records.DISPOSITIONS)
    "booked": "Booked",
    "rescheduled": "Rescheduled",
    "cancelled": "Cancelled",
    "information": "Information given",
    "complaint": "Complaint",
    "callback": "Call back",
    "wrong_number": "Wrong number",
    "no_action": "No action needed",
    "other": "Other",
    # How a call ended (callcenter.calls.state.EndReason)
    "completed": "Completed",
    "abandoned_in_queue": "Hung up while waiting",
    "queue_timeout": "Not answered in the queue",
    "caller_hung_up_in_ivr": "Hung up in the phone menu",
    "not_answered": "Not answered",
    "hung_up": "Hung up",
    "gone_from_asterisk": "Ended (hang-up not seen)",
    "asterisk_unreachable": "Ended (phone system unreachable)",
    "asterisk_shut_down": "Ended (phone system shut down)",
    "server_restarted": "Ended (server restarted)",
    # Call directions and booking channels
    "inbound": "Inbound",
    "outbound": "Outbound",
    "internal": "Internal",
    "ivr": "Phone menu",
    "agent": "Agent",
    "web": "Web",
    # Roles
    "supervisor": "Supervisor",
    "admin": "Administrator",
    # Appointments, campaigns, attempts, recordings, complaints, follow-ups
    "no_show": "No-show",
    "draft": "Draft",
    "running": "Running",
    "stopped": "Stopped",
    "reminder": "Appointment reminder",
    "post_discharge": "Post-discharge check",
    "adherence": "Medication adherence",
    "survey": "Survey",
    "scheduled": "Scheduled",
    "dialling": "Dialling",
    "answered": "Answered",
    "busy": "Busy",
    "no_answer": "No answer",
    "failed": "Failed",
    "machine": "Answering machine",
    "recording": "Recording",
    "pending": "Waiting to be processed",
    "processed": "Ready to play",
    "deleted": "Deleted",
    "open": "Open",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "closed": "Closed",
    "done": "Done",
    # Tasks and complaints (hcrm_core.models.enums TaskSource, FollowUpStatus, Complaint*)
    "cannot_reach": "Could not reach",
    "manual": "Made by hand",
    "campaign": "Campaign call",
    "ivr_no_agent": "No agent free",
    "voicemail": "Voicemail",
    "callback_request": "Callback request",
    "missed_callback": "Missed callback",
    "appointment_change": "Appointment changed",
    "received": "Received",
    "investigating": "Investigating",
    "responded": "Responded",
    "reopened": "Reopened",
    "waiting_time": "Waiting time",
    "in_person": "In person",
    # Sex
    "female": "Female",
    "male": "Male",
    "unknown": "Unknown",
    # Languages (settings.hospital.languages)
    "en": "English",
    "zh": "Mandarin",
    "es": "Spanish",
    # Steps of the phone menu (callcenter.ivr.flows, callcenter.agi.context)
    "start": "Start",
    "welcome": "Welcome",
    "language-set": "Chose a language",
    "consent-given": "Agreed to recording",
    "consent-refused": "Refused recording",
    "identify": "Identifying",
    "identify-caller-id": "Identify by phone number",
    "identify-mrn": "Identify by record number",
    "identify-dob": "Confirm date of birth",
    "identify-locked": "Identification locked",
    "identified": "Identified",
    "book": "Book an appointment",
    "book-doctor": "Choosing a doctor",
    "book-confirm": "Confirming a time",
    "book-slot-taken": "Time just taken",
    "book-failed": "Booking failed",
    "cancel-confirm": "Confirming a cancellation",
    "cancel-too-late": "Too late to cancel",
    "cancel-failed": "Cancellation failed",
    "review": "Review appointments",
    "review-none": "No appointments",
    "review-list": "Listening to appointments",
    "to-agent": "Asked for an agent",
    "outbound-hello": "Campaign greeting",
    "dob-mismatch": "date of birth did not match",
    "no-match": "no patient matched",
    "locked": "too many failures",
}

# Words that mean the same in any sentence (left as the admin typed them otherwise).
_UPPER = {"ivr": "IVR", "id": "ID", "mrn": "MRN", "vip": "VIP", "sms": "SMS"}


def label(code: object) -> str:
    """The readable label of a code; an unknown code humanised, ``None`` as ``""``."""
    if code is None:
        return ""
    text = str(code)
    known = LABELS.get(text)
    if known is not None:
        return known
    words = text.replace("_", " ").replace("-", " ").split()
    if not words:
        return text
    shown = [_UPPER.get(w.lower(), w) for w in words]
    first = shown[0]
    return " ".join([first[:1].upper() + first[1:], *shown[1:]])


def labels_json() -> str:
    """The table as JSON for the page's data block (``<script type="application/json">``).

    ``</`` is escaped so no label can end the block early.
    """
    return json.dumps(LABELS, sort_keys=True).replace("</", "<\\/")
