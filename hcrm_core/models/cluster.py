"""Leadership of the server processes sharing one database (issue 18).

One row (``id`` = 1) says who leads and since which epoch. The leader holds a PostgreSQL
advisory lock on a connection of its own; each takeover increments ``epoch`` and every
leader-only write checks it in its own transaction (:mod:`hcrm_core.services.leadership`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime

LEADERSHIP_ROW = 1


class ClusterLeadership(Base):
    __tablename__ = "cluster_leadership"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Incremented by every takeover: a write fenced with an older epoch is refused.
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    # "host:pid" of the leading process, for operators (/healthz, logs).
    leader: Mapped[str | None] = mapped_column(String(200))
    # The PostgreSQL backend that took the advisory lock (for operators; followers find the
    # holder in pg_locks and its last heartbeat in pg_stat_activity, written nowhere: a
    # heartbeat UPDATE here would queue behind the fenced writes holding this row FOR SHARE).
    lock_pid: Mapped[int | None] = mapped_column(Integer)
    elected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
