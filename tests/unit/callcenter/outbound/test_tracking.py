"""What an Originate's or a hang-up's codes say of an attempt."""

from __future__ import annotations

import pytest

from callcenter.outbound.tracking import failure_outcome, hangup_outcome
from hcrm_core.models import AttemptStatus


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        ("17", (AttemptStatus.BUSY, "busy")),
        ("34", (AttemptStatus.FAILED, "congestion")),
        ("16", (AttemptStatus.NO_ANSWER, "no_answer")),
        ("19", (AttemptStatus.NO_ANSWER, "no_answer")),
        ("", (AttemptStatus.NO_ANSWER, "no_answer")),
    ],
)
def test_hangup_cause_of_an_adopted_call(cause: str, expected: tuple[AttemptStatus, str]) -> None:
    assert hangup_outcome(cause) == expected


def test_unknown_originate_reason_is_a_failure_named_by_its_code() -> None:
    assert failure_outcome("5") == (AttemptStatus.BUSY, "busy")
    assert failure_outcome("99") == (AttemptStatus.FAILED, "reason_99")
    assert failure_outcome("") == (AttemptStatus.FAILED, "reason_none")
