"""RFM: how recently, how often and for how much each patient visits, scored 1-5 in SQL.

A visit is an attended appointment (status ``completed``), over the whole history on record.
Recency is the last visit, frequency the number of visits, monetary the sum of the list
price of each visit's department (``departments.visit_fee_cents``: an estimate of value, not
billing). Each is scored by quintile over the active patients with at least one visit:
``1 + 5 * (rank - 1) // n``, ranking from the least to the most recent, frequent or valuable,
so patients tied on a value share a score (the lowest their tie allows). Patients without a
visit have no scores and are in the group ``no_visits``.

The groups follow the usual RFM segment map on recency and the mean of frequency and
monetary (FM, rounded up), first match wins:

======================  =========================================================
``new``                 one visit only, and recent (R 4-5)
``champions``           R 4-5 and FM 4-5: recent, frequent, high value
``loyal``               R 3-5 and FM 3-5: returning patients
``promising``           R 3-5 and FM 1-2: recent but few or low-value visits
``at_risk``             R 1-2 and FM 3-5: were valuable, have not come back
``lapsed``              R 1-2 and FM 1-2: long gone, few visits
======================  =========================================================

Window functions (``rank``, ``count(*) over ()``) run on SQLite 3.25+ and PostgreSQL alike;
``//`` is integer division on both.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, Subquery, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.models import Appointment, AppointmentStatus, Department, Patient

NO_VISITS: Final = "no_visits"
# In the order the CASE tries them; then the patients without visits.
RFM_GROUPS: Final = ("new", "champions", "loyal", "promising", "at_risk", "lapsed", NO_VISITS)
GROUP_LABELS: Final = {
    "new": "New",
    "champions": "Champions (high value)",
    "loyal": "Loyal (returning)",
    "promising": "Promising",
    "at_risk": "At risk",
    "lapsed": "Lapsed",
    NO_VISITS: "No visits",
}


def _visits() -> Subquery:
    return (
        select(
            Appointment.patient_id.label("patient_id"),
            func.max(Appointment.starts_at).label("last_visit"),
            func.count().label("frequency"),
            func.coalesce(func.sum(Department.visit_fee_cents), 0).label("monetary"),
        )
        .join(Department, Department.id == Appointment.department_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.status == AppointmentStatus.COMPLETED, Patient.active)
        .group_by(Appointment.patient_id)
        .subquery("visits")
    )


def _quintile(column: ColumnElement[Any]) -> ColumnElement[int]:
    rank = func.rank().over(order_by=column)
    return literal(1) + (literal(5) * (rank - 1)) // func.count().over()


def rfm_scores() -> Subquery:
    """One row per patient with a visit: ``patient_id, last_visit, frequency, monetary, r, f,
    m, rfm_group`` (a subquery to join on ``patient_id``)."""
    visits = _visits()
    ranked = select(
        *visits.c,
        _quintile(visits.c.last_visit).label("r"),
        _quintile(visits.c.frequency).label("f"),
        _quintile(visits.c.monetary).label("m"),
    ).subquery("ranked")
    fm = (ranked.c.f + ranked.c.m + 1) // 2
    group = case(
        ((ranked.c.frequency == 1) & (ranked.c.r >= 4), "new"),
        ((ranked.c.r >= 4) & (fm >= 4), "champions"),
        ((ranked.c.r >= 3) & (fm >= 3), "loyal"),
        (ranked.c.r >= 3, "promising"),
        (fm >= 3, "at_risk"),
        else_="lapsed",
    )
    return select(*ranked.c, group.label("rfm_group")).subquery("rfm")


def group_of(scores: Subquery) -> ColumnElement[str]:
    """The RFM group column of a query outer-joined to :func:`rfm_scores`."""
    return func.coalesce(scores.c.rfm_group, NO_VISITS)


async def group_counts(session: AsyncSession) -> dict[str, int]:
    """Active patients per RFM group, every group present (0 when empty)."""
    scores = rfm_scores()
    group = group_of(scores)
    query = (
        select(group, func.count())
        .select_from(Patient)
        .outerjoin(scores, scores.c.patient_id == Patient.id)
        .where(Patient.active)
        .group_by(group)
    )
    counts = {name: 0 for name in RFM_GROUPS}
    for name, count in await session.execute(query):
        counts[str(name)] = int(count)
    return counts
