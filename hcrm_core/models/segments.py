"""Patient segmentation: the tags the hospital keeps on patients, and saved segments.

A tag is a name the hospital manages (``diabetes-programme``, ``board-member``); the attributes
patients already carry (conditions, birth date, language, VIP, chronic care, visits) are read
where they are, not copied into tags. A segment is a saved definition (JSON, validated by
:mod:`hcrm_core.services.segments_definition`) whose members are computed when asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow


class PatientTag(Base):
    __tablename__ = "patient_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PatientTagLink(Base):
    """One patient carrying one tag; the pair is the key, so tagging twice is a no-op."""

    __tablename__ = "patient_tag_links"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("patient_tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    tagged_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    tagged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
