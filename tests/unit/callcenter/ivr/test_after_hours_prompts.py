"""The closed branch's prompts are rendered with the others, and the dialplan transfers."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from callcenter.agi.channel import sound
from callcenter.asterisk.render import render_config
from callcenter.ivr import after_hours_prompts as closed
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from callcenter.ivr.flows.after_hours import TRANSFER_VARIABLE
from callcenter.ivr.prompts import Spoken
from callcenter.settings import AmiSettings, Settings
from hcrm_core.services.opening_hours import ClosedOptions


def test_every_closed_prompt_is_built_in_both_languages_with_a_safe_name() -> None:
    for language in prompts.LANGUAGES:
        built = language_prompts(language)
        for name in closed.TEXTS[prompts.ENGLISH]:
            assert sound(name) == name
            assert built[name].voice == language and built[name].text
    assert closed.TEXTS[prompts.ENGLISH].keys() == closed.TEXTS[prompts.MANDARIN].keys()


def test_the_inbound_dialplan_dials_the_transfer_the_ivr_names(tmp_path: Path) -> None:
    settings = Settings(ami=AmiSettings(secret=SecretStr("unit-test-secret")))
    render_config(settings, tmp_path, sandbox=False)
    text = (tmp_path / "extensions.conf").read_text()
    inbound = text[text.index("[hospital-inbound]") : text.index("exten => _[+0-9].,1,Goto(s,1)")]
    assert f"Set({TRANSFER_VARIABLE}=)" in inbound  # never inherited from an earlier call
    assert f'GotoIf($["${{{TRANSFER_VARIABLE}}}" != ""]?transfer)' in inbound
    assert f"n(transfer),Dial(${{{TRANSFER_VARIABLE}}},60)" in inbound


def test_a_queues_own_closed_message_is_rendered_in_its_language() -> None:
    options = [
        ClosedOptions("walk-in", closed_messages={"en": "Closed today.", "zh": "今天休息。"}),
        ClosedOptions("lab"),
    ]
    name = closed.closed_message_prompt("walk-in")
    assert sound(name) == name == "callcenter/closed-message-walk-in"
    assert closed.closed_message_prompts(prompts.MANDARIN, options) == {
        name: Spoken("今天休息。", prompts.MANDARIN)
    }
    assert closed.closed_message_prompt("../X Y") == "callcenter/closed-message-x-y"
