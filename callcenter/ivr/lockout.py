"""Failed identity checks of one patient, counted across calls: the IVR's lockout.

Caller ID can be spoofed, so a date of birth is all that stands between a caller and a
patient's appointments; tried call after call, eight digits fall. Each failed check (a wrong date
of birth for the patient the caller ID or the record number named) is an audit row (action
``login``, entity ``ivr_identity``, the patient, the call's Linkedid as source), and the count
of those rows within ``ivr.identify_window_hours`` is the lockout: no new table or column, and
the audit log is append-only, so a caller cannot wipe the count.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from callcenter.settings import IvrSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, AuditEvent
from hcrm_core.services.audit import record_audit

_LOG = logging.getLogger(__name__)
ENTITY = "ivr_identity"


class IdentityLockout:
    """Counts failed IVR identity checks per patient in a sliding window."""

    def __init__(self, database: Database, settings: IvrSettings) -> None:
        self._db = database
        self._max = settings.identify_max_failures
        self._window = timedelta(hours=settings.identify_window_hours)

    async def failures(self, patient_id: int, *, now: datetime | None = None) -> int:
        """Failed checks of ``patient_id`` within the window ending ``now``."""
        since = (now or datetime.now(UTC)) - self._window
        async with self._db.session() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.patient_id == patient_id)
                .where(AuditEvent.at >= since)
                .where(AuditEvent.action == AuditAction.LOGIN)
                .where(AuditEvent.entity == ENTITY)
            )
        return int(count or 0)

    async def locked(self, patient_id: int) -> bool:
        """True once the patient reached ``identify_max_failures`` (0: never locked)."""
        return self._max > 0 and await self.failures(patient_id) >= self._max

    async def failed(self, patient_id: int, *, linkedid: str, method: str) -> None:
        """Record one failed check (``method``: ``caller-id`` or ``mrn``) for the call."""
        await record_audit(
            self._db,
            Actor.ivr(linkedid),
            AuditAction.LOGIN,
            ENTITY,
            patient_id,
            patient_id=patient_id,
            detail={"outcome": "failed", "method": method},
        )
        _LOG.info(
            "IVR identity check failed for patient %s by %s (linkedid=%s)",
            patient_id,
            method,
            linkedid,
        )
