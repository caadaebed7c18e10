"""Recording consent on the way to an agent (``recording.consent = "ask"``), on a scripted channel.

The whole inbound dialog runs: a caller with a withheld number presses 0 at the language menu
and is handed to an agent, being asked first whether the call may be recorded. What the dialplan
then does with ``CALLCENTER_RECORD`` is checked in tests/unit/callcenter/asterisk/test_render.py
and on the real Asterisk in tests/integration/callcenter/recording/test_recording_asterisk.py.
"""

from __future__ import annotations

from typing import cast

import pytest

from callcenter.agi.channel import AgiChannel
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.flows.main_menu import (
    AGENT_QUEUE,
    QUEUE_VARIABLE,
    RECORD_VARIABLE,
    IvrServices,
    inbound,
)
from callcenter.settings import RecordingSettings
from hcrm_core.services.patients import PatientService
from tests.unit.callcenter.agi.test_dialog import FakeAgi, Published


class ConsentAgi(FakeAgi):
    """A FakeAgi that answers and remembers the variables the dialog sets, in order."""

    def __init__(self, keys: list[str | None]) -> None:
        super().__init__(keys)
        self.env.caller_id = ""  # withheld: no lookup, the language menu is asked
        self.variables: list[tuple[str, str]] = []
        self.linkedid = "1700000000.1"

    async def answer(self) -> None:
        return None

    async def set_variable(self, name: str, value: str) -> None:
        self.variables.append((name, value))


async def _call_to_agent(keys: list[str | None], *, ask: bool) -> tuple[ConsentAgi, list[str]]:
    """Run the inbound dialog; "0" at the language menu, then ``keys``. Returns the steps."""
    agi = ConsentAgi(["0", *keys])
    bus = Published()
    services = IvrServices(
        cast(PatientService, None),
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        ask_recording_consent=ask,
    )
    await inbound(cast(AgiChannel, agi), bus=cast(EventBus, bus), services=services)
    assert not agi.keys, "every scripted key was used"
    steps = [item.step for item in bus.items if isinstance(item, IvrProgress)]
    return agi, steps


@pytest.mark.parametrize(
    ("keys", "answer", "step"),
    [
        (["1"], "yes", "consent-given"),
        (["2"], "no", "consent-refused"),
        (["7", "2"], "no", "consent-refused"),  # a wrong key asks again
        ([None, None, None], "no", "consent-refused"),  # silence: not recorded
        (["9", None, "5"], "no", "consent-refused"),  # no valid answer: not recorded
        (["0"], "no", "consent-refused"),  # asked for an agent again: not a yes
    ],
)
async def test_the_caller_is_asked_before_the_agent_and_the_dialplan_is_told(
    keys: list[str | None], answer: str, step: str
) -> None:
    agi, steps = await _call_to_agent(keys, ask=True)
    assert agi.asked[1:] == [prompts.RECORDING_CONSENT] * len(keys)
    # The answer is on the channel before the queue is named, and the caller still gets there.
    assert agi.variables == [(RECORD_VARIABLE, answer), (QUEUE_VARIABLE, AGENT_QUEUE)]
    assert agi.played[-1] == prompts.TO_AGENT
    assert step in steps
    assert steps.index("recording-consent") < steps.index(step) < steps.index("to-agent")


async def test_by_default_the_caller_is_not_asked() -> None:
    agi, steps = await _call_to_agent([], ask=False)
    assert prompts.RECORDING_CONSENT not in agi.asked + agi.played
    assert agi.variables == [(QUEUE_VARIABLE, AGENT_QUEUE)]  # the dialplan's policy applies
    assert not {"recording-consent", "consent-given", "consent-refused"} & set(steps)


def test_the_consent_setting_is_checked() -> None:
    assert RecordingSettings().consent == "none"
    assert RecordingSettings(consent="ask").consent == "ask"
    with pytest.raises(ValueError, match="consent"):
        RecordingSettings(consent="yes")


def test_the_consent_prompt_is_in_both_catalogues() -> None:
    for language in prompts.LANGUAGES:
        assert prompts.RECORDING_CONSENT in prompts.catalogue(language)
