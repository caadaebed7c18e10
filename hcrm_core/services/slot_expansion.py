"""Slots from schedules: what templates and extra sessions give, what exceptions block.

One mechanism for every writer of slots: :meth:`SchedulingService.expand_slots` (the seed,
tests) and :class:`~hcrm_core.services.slot_keeper.SlotKeeper` (the horizon, schedule changes).
Times are hospital-local wall times turned into UTC through the policy's zone, so a clinic at
09:00 stays at 09:00 across daylight-saving changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.models import Doctor, ExceptionKind, ScheduleException, ScheduleTemplate, Slot
from hcrm_core.policy import BookingPolicy

# Rows per INSERT batch: large enough to amortise the round trip, small enough for SQLite's
# bound-parameter limit when a driver turns the batch into one multi-row statement.
INSERT_BATCH = 10_000
_UNIQUE_SLOT = ["doctor_id", "starts_at"]
# Rows per multi-row INSERT: 6 parameters each stays under SQLite's 32766 and PG's 32767.
_ROWS_PER_STATEMENT = 5_000


@dataclass(frozen=True, slots=True)
class WantedSlot:
    """A slot a doctor's schedule gives (blocked or not)."""

    doctor_id: int
    starts_at: datetime
    ends_at: datetime
    local_date: date


@dataclass(frozen=True, slots=True)
class Span:
    doctor_id: int | None  # None: hospital-wide (a holiday)
    starts_at: datetime
    ends_at: datetime


def day_bounds(first_day: date, last_day: date, policy: BookingPolicy) -> tuple[datetime, datetime]:
    """Local midnight starting ``first_day`` and local midnight ending ``last_day``, in UTC."""
    tz = policy.timezone
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def template_slots(
    template: ScheduleTemplate, day: date, policy: BookingPolicy
) -> Iterator[tuple[datetime, datetime]]:
    """The slots one template gives on one day, in UTC (local wall time -> UTC via the zone)."""
    if day.weekday() != template.weekday:
        return
    if template.valid_from and day < template.valid_from:
        return
    if template.valid_until and day > template.valid_until:
        return
    step = timedelta(minutes=template.slot_minutes)
    start = datetime.combine(day, template.start_time, tzinfo=policy.timezone)
    end = datetime.combine(day, template.end_time, tzinfo=policy.timezone)
    if start.utcoffset() == end.utcoffset():
        # No clock change inside the session (the usual case): plain UTC arithmetic, which
        # costs a fraction of a zone conversion per slot (a year of slots is 100k of them).
        utc_start, utc_end = start.astimezone(UTC), end.astimezone(UTC)
        while utc_start + step <= utc_end:
            yield utc_start, utc_start + step
            utc_start += step
        return
    while start + step <= end:
        yield start.astimezone(UTC), (start + step).astimezone(UTC)
        start += step


def _session_slots(session: ScheduleException) -> Iterator[tuple[datetime, datetime]]:
    """The slots of an extra session: ``slot_minutes`` each from its start to its end."""
    step = timedelta(minutes=session.slot_minutes or 0)
    if step <= timedelta(0):
        return
    start = session.starts_at
    while start + step <= session.ends_at:
        yield start, start + step
        start += step


def _adds_time(kind: ExceptionKind) -> bool:
    # Compared by value: the extra-session kind is added by the doctors' schedule pages.
    return str(kind) == "extra_session"


class Sources:
    """The doctors, templates, extra sessions and blocking spans of one window, loaded once."""

    def __init__(
        self,
        policy: BookingPolicy,
        doctors: dict[int, tuple[int, bool]],
        templates: Iterable[ScheduleTemplate],
        exceptions: Iterable[ScheduleException],
    ) -> None:
        self._policy = policy
        self._doctors = doctors
        self._templates: dict[int, list[ScheduleTemplate]] = defaultdict(list)
        for template in templates:
            self._templates[template.weekday].append(template)
        self._sessions: list[ScheduleException] = []
        self._spans: dict[int | None, list[Span]] = defaultdict(list)
        for exception in exceptions:
            if _adds_time(exception.kind):
                self._sessions.append(exception)
            else:
                span = Span(exception.doctor_id, exception.starts_at, exception.ends_at)
                self._spans[exception.doctor_id].append(span)

    @property
    def doctor_ids(self) -> list[int]:
        return list(self._doctors)

    def department_of(self, doctor_id: int) -> int:
        return self._doctors[doctor_id][0]

    def active(self, doctor_id: int) -> bool:
        found = self._doctors.get(doctor_id)
        return found is not None and found[1]

    def blocked(self, doctor_id: int, start: datetime, end: datetime) -> bool:
        """True when a leave, sick day or holiday overlaps ``start``-``end``."""
        for spans in (self._spans.get(doctor_id), self._spans.get(None)):
            for span in spans or ():
                if span.starts_at < end and start < span.ends_at:
                    return True
        return False

    def gives(self, doctor_id: int, starts_at: datetime, ends_at: datetime) -> bool:
        """True when the doctor is active and a template or extra session gives exactly this
        slot (loaded for a window holding it)."""
        if not self.active(doctor_id):
            return False
        day = starts_at.astimezone(self._policy.timezone).date()
        for template in self._templates.get(day.weekday(), ()):
            if template.doctor_id == doctor_id and (starts_at, ends_at) in set(
                template_slots(template, day, self._policy)
            ):
                return True
        return any(
            session.doctor_id == doctor_id and (starts_at, ends_at) in set(_session_slots(session))
            for session in self._sessions
        )

    def wanted(self, first_day: date, last_day: date) -> Iterator[WantedSlot]:
        """Every slot the active doctors' schedules give from ``first_day`` to ``last_day``."""
        day = first_day
        while day <= last_day:
            for template in self._templates.get(day.weekday(), ()):
                if not self.active(template.doctor_id):
                    continue
                for start, end in template_slots(template, day, self._policy):
                    yield WantedSlot(template.doctor_id, start, end, day)
            day += timedelta(days=1)
        tz = self._policy.timezone
        for session in self._sessions:
            if session.doctor_id is None or not self.active(session.doctor_id):
                continue
            for start, end in _session_slots(session):
                local_day = start.astimezone(tz).date()
                if first_day <= local_day <= last_day:
                    yield WantedSlot(session.doctor_id, start, end, local_day)


async def load_sources(
    session: AsyncSession,
    policy: BookingPolicy,
    first_day: date,
    last_day: date,
    doctor_ids: Sequence[int] | None = None,
) -> Sources:
    """Read what gives and blocks slots in the window (``doctor_ids``: those doctors only)."""
    window_start, window_end = day_bounds(first_day, last_day, policy)
    doctors_query = select(Doctor.id, Doctor.department_id, Doctor.active)
    templates_query = select(ScheduleTemplate)
    exceptions_query = select(ScheduleException).where(
        ScheduleException.starts_at < window_end, ScheduleException.ends_at > window_start
    )
    if doctor_ids is not None:
        doctors_query = doctors_query.where(Doctor.id.in_(doctor_ids))
        templates_query = templates_query.where(ScheduleTemplate.doctor_id.in_(doctor_ids))
        exceptions_query = exceptions_query.where(
            ScheduleException.doctor_id.in_(doctor_ids) | ScheduleException.doctor_id.is_(None)
        )
    doctors = {
        row.id: (row.department_id, row.active) for row in await session.execute(doctors_query)
    }
    templates = list(await session.scalars(templates_query))
    exceptions = list(await session.scalars(exceptions_query))
    return Sources(policy, doctors, templates, exceptions)


def insert_ignoring_duplicates(dialect: str) -> Insert:
    """INSERT INTO slots that skips a row whose (doctor_id, starts_at) exists: two writers
    extending at once (the nightly job and the CLI) both succeed, each slot once."""
    if dialect == "postgresql":
        return postgresql.insert(Slot).on_conflict_do_nothing(index_elements=_UNIQUE_SLOT)
    if dialect == "sqlite":
        return sqlite.insert(Slot).on_conflict_do_nothing(index_elements=_UNIQUE_SLOT)
    raise ValueError(f"unsupported database dialect {dialect!r}")


async def insert_slots(session: AsyncSession, rows: Sequence[dict[str, object]]) -> int:
    """Insert ``rows`` (duplicates skipped); returns how many were inserted (rows another
    writer inserted first are not counted).

    On PostgreSQL, RETURNING makes SQLAlchemy send multi-row VALUES batches
    ("insertmanyvalues") instead of one statement per row through asyncpg: several times
    faster for a year of slots; the ids returned count the rows. SQLite's own executemany is
    faster than that, and its rowcount is the sum of the rows each statement inserted.
    """
    if not rows:
        return 0
    connection = await session.connection()
    dialect = connection.dialect.name
    statement = insert_ignoring_duplicates(dialect)
    returning = dialect == "postgresql"
    if returning:
        statement = statement.returning(Slot.id).execution_options(
            insertmanyvalues_page_size=_ROWS_PER_STATEMENT
        )
    inserted = 0
    for first in range(0, len(rows), INSERT_BATCH):
        result = await connection.execute(statement, list(rows[first : first + INSERT_BATCH]))
        inserted += len(result.all()) if returning else result.rowcount
    return inserted


def slot_row(wanted: WantedSlot, department_id: int) -> dict[str, object]:
    return {
        "doctor_id": wanted.doctor_id,
        "department_id": department_id,
        "starts_at": wanted.starts_at,
        "ends_at": wanted.ends_at,
        "local_date": wanted.local_date,
        "available": True,
    }


async def set_available(session: AsyncSession, slot_ids: Sequence[int], available: bool) -> None:
    for first in range(0, len(slot_ids), INSERT_BATCH):
        chunk = slot_ids[first : first + INSERT_BATCH]
        await session.execute(update(Slot).where(Slot.id.in_(chunk)).values(available=available))


async def expand(
    session: AsyncSession,
    policy: BookingPolicy,
    first_day: date,
    last_day: date,
    *,
    not_before: datetime | None = None,
) -> int:
    """Create the missing slots of every active doctor for the days given (none starting
    before ``not_before``), and block or unblock existing ones by the exceptions.

    Idempotent: existing slots are kept (their bookings with them); a slot that falls in a
    leave or holiday is marked unavailable and comes back when the exception goes. Returns
    the number of slots created.
    """
    sources = await load_sources(session, policy, first_day, last_day)
    window_start, window_end = day_bounds(first_day, last_day, policy)
    # Core, not ORM, execution: a year of slots is 100k rows, and the ORM's result handling
    # costs more per row than the database does.
    connection = await session.connection()
    existing = {
        (doctor_id, starts_at): (slot_id, available)
        for slot_id, doctor_id, starts_at, available in await connection.execute(
            select(Slot.id, Slot.doctor_id, Slot.starts_at, Slot.available).where(
                Slot.starts_at >= window_start, Slot.starts_at < window_end
            )
        )
    }
    new_rows: list[dict[str, object]] = []
    now_blocked: list[int] = []
    now_open: list[int] = []
    for wanted in sources.wanted(first_day, last_day):
        if not_before is not None and wanted.starts_at < not_before:
            continue
        blocked = sources.blocked(wanted.doctor_id, wanted.starts_at, wanted.ends_at)
        found = existing.get((wanted.doctor_id, wanted.starts_at))
        if found is None:
            if not blocked:
                new_rows.append(slot_row(wanted, sources.department_of(wanted.doctor_id)))
        elif blocked and found[1]:
            now_blocked.append(found[0])
        elif not blocked and not found[1]:
            now_open.append(found[0])
    created = await insert_slots(session, new_rows)
    await set_available(session, now_blocked, False)
    await set_available(session, now_open, True)
    return created
