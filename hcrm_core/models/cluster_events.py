"""Events relayed between the server processes that share one PostgreSQL database.

A process writes here what only it saw (an IVR step of a dialog it served, a change made in
its console) and sends a NOTIFY with the row's id; the other processes read the row and
publish it on their own event bus (``callcenter/cluster/relay.py``). The rows are kept a
little while (an hour) so that a process whose listening connection dropped reads what it
missed; nobody reads them later. Unused on SQLite (one process).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime


class ClusterEvent(Base):
    """One event published by process ``origin``: ``kind`` names its type, ``payload`` its
    fields (the event's own ``to_dict``)."""

    __tablename__ = "cluster_events"
    __table_args__ = (Index("ix_cluster_events_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
