"""Rules the domain applies, built by the caller from the site settings (hcrm_core reads none)."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class BookingPolicy:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    phone_region: str = "US"
    horizon_days: int = 90
    cancel_cutoff_hours: int = 24
    min_lead_minutes: int = 0
