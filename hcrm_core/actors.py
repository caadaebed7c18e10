"""Who is doing something: recorded on bookings and in the audit log."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    label: str  # "user:alice", "ivr", "dialer", "system"
    user_id: int | None = None
    source: str | None = None  # remote address, or the call's Linkedid

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def ivr(cls, linkedid: str | None = None) -> Actor:
        return cls("ivr", source=linkedid)

    @classmethod
    def user(cls, user_id: int, username: str, source: str | None = None) -> Actor:
        return cls(f"user:{username}", user_id=user_id, source=source)
