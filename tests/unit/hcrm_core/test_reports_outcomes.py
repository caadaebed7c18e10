"""What one campaign attempt adds to the campaign report, from its status and detail."""

from __future__ import annotations

import pytest

from hcrm_core.models import AttemptStatus
from hcrm_core.services.reports_campaigns import outcome_of

S = AttemptStatus


@pytest.mark.parametrize(
    ("status", "detail", "figures"),
    [
        (S.COMPLETED, "confirmed", ("reached", "completed")),
        (S.COMPLETED, "escalated", ("reached", "completed")),
        (S.COMPLETED, None, ("reached", "completed")),
        (S.COMPLETED, "opted_out", ("reached", "opted_out")),
        (S.COMPLETED, "agents_closed_callback", ("reached", "to_agent")),
        (S.COMPLETED, "agent", ("reached", "to_agent")),
        (S.COMPLETED, "hung_up_in_dialog", ("reached", "hung_up")),
        (S.COMPLETED, "abandoned", ("reached", "hung_up")),
        (S.ANSWERED, None, ("reached",)),  # still in its dialog
        (S.MACHINE, "machine", ("machine",)),
        (S.NO_ANSWER, "no_answer", ("no_answer",)),
        (S.BUSY, "busy", ("busy",)),
        (S.FAILED, "congestion", ("failed",)),
        (S.CANCELLED, "bad_number", ("failed",)),  # dialled, then refused
        (S.DIALLING, None, ()),
    ],
)
def test_outcome_of_an_attempt(status, detail, figures):
    assert outcome_of(status, detail) == figures
