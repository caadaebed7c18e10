"""The campaign form's fields to settings and back (pure; the pages are integration-tested)."""

from __future__ import annotations

from hcrm_core.models import CampaignKind
from hcrm_core.services.campaigns_config import CampaignConfig, parse_config, stored
from web_console.campaign_form import (
    FORM_SETTINGS,
    MRNS,
    error_list,
    form_from_post,
    form_from_settings,
    settings_from_form,
)


def test_stored_settings_come_back_unchanged_through_the_form() -> None:
    settings = stored(
        parse_config(
            CampaignKind.POST_DISCHARGE,
            {
                "max_abandon_rate": 0.025,
                "window": {"start": "09:30", "weekdays": [1, 3], "holidays": ["2026-12-25"]},
                "targets": {"department_id": 3, "condition_code": "E11"},
                "recording": "always",
            },
        )
    )
    state = form_from_settings(settings, ["MRN-1"])
    assert state.get("max_abandon_rate") == "2.5"
    assert state.get("window.start") == "09:30"
    assert state.get(MRNS) == "MRN-1"
    parsed = settings_from_form(form_from_post(state.values))
    assert parsed.errors == {}
    assert parsed.mrns == ["MRN-1"]
    again = stored(parse_config(CampaignKind.POST_DISCHARGE, parsed.settings))
    assert again == settings


def test_blank_and_removed_questions_are_left_out_and_refusals_name_the_block() -> None:
    state = form_from_post(
        {
            "window.weekdays.0": "on",
            "questions.0.key": "gone",
            "questions.0.remove": "on",
            "questions.1.key": "",
            "questions.1.kind": "choice",
            "questions.4.key": "BAD",
            "questions.4.text.en": "Hello?",
            "questions.4.options.1": "yes",
            "max_concurrent": "1e3",
            "retries.busy.max_attempts": "2",
        }
    )
    assert state.questions == [0, 1, 4]
    parsed = settings_from_form(state)
    assert [q["key"] for q in parsed.settings["questions"]] == ["BAD"]
    assert parsed.question_blocks == [4]
    assert parsed.form_field("questions.0.key") == "questions.4.key"
    assert parsed.form_field("questions.0.text") == "questions.4.text.en"
    assert parsed.form_field("questions.0.escalate_on") == "questions.4.options"
    assert parsed.form_field("targets.patient_ids.3") == MRNS
    assert parsed.errors == {
        "max_concurrent": "enter a whole number",
        "retries.busy.retry_delay_minutes": "is required with the other value",
    }
    state.errors = parsed.errors
    assert error_list(state)[0] == (
        "c-max_concurrent",
        "Calls at the same time",
        "enter a whole number",
    )


def test_the_form_edits_every_setting() -> None:
    """A setting added to CampaignConfig needs its field here (until then, saves keep it)."""
    assert set(CampaignConfig.model_fields) == FORM_SETTINGS
