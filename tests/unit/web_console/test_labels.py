"""Readable labels for the console's codes."""

from __future__ import annotations

import json

from callcenter.agents.state import AgentState
from callcenter.calls.state import EndReason
from hcrm_core.services.call_records import DISPOSITIONS
from web_console.labels import LABELS, label, labels_json


def test_the_issues_codes_read_as_words() -> None:
    assert label("on_call") == "On a call"
    assert label("wrap_up") == "Wrap-up"
    assert label("caller_hung_up_in_ivr") == "Hung up in the phone menu"
    assert label("wrong_number") == "Wrong number"
    assert label("en") == "English"
    assert label("zh") == "Mandarin"
    assert label("to-agent") == "Asked for an agent"
    assert label("identify-caller-id") == "Identify by phone number"


def test_every_state_disposition_and_end_reason_has_a_label() -> None:
    for code in [*AgentState, *EndReason, *DISPOSITIONS]:
        assert str(code) in LABELS, code


def test_unknown_codes_are_humanised_never_raw() -> None:
    assert label("no_show_twice") == "No show twice"
    assert label("ivr-retry") == "IVR retry"
    assert label(None) == ""
    assert label("") == ""


def test_the_json_block_cannot_end_the_script_element() -> None:
    text = labels_json()
    assert "</" not in text
    assert json.loads(text)["on_call"] == "On a call"
