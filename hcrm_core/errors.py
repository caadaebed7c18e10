"""Typed domain errors. Messages are written for the person who will read them.

Each layer translates them once: the web console to an HTTP status (``http_status``), the IVR
to a prompt (``code``).
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class PatientNotFound(NotFound):
    code = "patient_not_found"


class DoctorNotFound(NotFound):
    code = "doctor_not_found"


class DepartmentNotFound(NotFound):
    code = "department_not_found"


class SlotNotFound(NotFound):
    code = "slot_not_found"


class AppointmentNotFound(NotFound):
    code = "appointment_not_found"


class InvalidPhoneNumber(DomainError):
    code = "invalid_phone"
    http_status = 422


class ValidationFailed(DomainError):
    """Input that breaks a rule of the domain; ``field`` names the bad field."""

    code = "invalid"
    http_status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class FieldErrors(ValidationFailed):
    """Several fields break rules at once: ``errors`` maps each field to its message, so a
    form can show them all together. ``field`` and ``message`` are the first of them."""

    def __init__(self, errors: dict[str, str]) -> None:
        if not errors:
            raise ValueError("FieldErrors needs at least one field")
        field, message = next(iter(errors.items()))
        super().__init__(field, message)
        self.errors = dict(errors)


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class SlotTaken(Conflict):
    code = "slot_taken"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class DuplicateDepartmentBooking(Conflict):
    code = "duplicate_department_booking"


class BookingInPast(DomainError):
    code = "booking_in_past"
    http_status = 422


class BeyondHorizon(DomainError):
    code = "beyond_horizon"
    http_status = 422


class CancellationTooLate(Conflict):
    code = "cancellation_too_late"


class AppointmentNotActive(Conflict):
    code = "appointment_not_active"


class DuplicateRecord(Conflict):
    code = "duplicate"


class PatientInactive(Conflict):
    code = "patient_inactive"


class StorageUnavailable(DomainError):
    """The database cannot be reached; nothing was changed. Safe to retry."""

    code = "storage_unavailable"
    http_status = 503
