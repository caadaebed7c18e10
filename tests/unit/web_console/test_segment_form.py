"""The segment form: fields to a definition and back, numbers refused at their field."""

from __future__ import annotations

from multidict import MultiDict, MultiDictProxy

from web_console.segment_form import (
    definition_from_form,
    form_errors,
    form_from_post,
    form_from_segment,
)


def _post(*pairs: tuple[str, str]) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(pairs))


def test_fields_become_a_definition_and_back() -> None:
    form = form_from_post(
        _post(
            ("name", "Lapsed"),
            ("tags", "diabetes"),
            ("tags", "cardiac-rehab"),
            ("rfm_groups", "lapsed"),
            ("conditions", "E11, I10"),
            ("chronic_care", "yes"),
            ("vip", ""),
            ("no_visit_for_days", "180"),
            ("rfm.r_max", "2"),
        )
    )
    definition = definition_from_form(form)
    assert definition == {
        "tags": ["diabetes", "cardiac-rehab"],
        "rfm_groups": ["lapsed"],
        "conditions": ["E11", "I10"],
        "chronic_care": True,
        "no_visit_for_days": 180,
        "rfm": {"r_max": 2},
    }
    again = form_from_segment("Lapsed", None, definition)
    assert again.get("rfm.r_max") == "2" and again.get("chronic_care") == "yes"
    assert again.checked("tags", "diabetes") and again.get("conditions") == "E11, I10"


def test_text_that_is_not_a_number_is_refused_at_its_field() -> None:
    form = form_from_post(_post(("name", "x"), ("last_visit_within_days", "soon")))
    definition_from_form(form)
    assert form.errors == {"last_visit_within_days": "enter a whole number"}


def test_service_refusals_land_on_the_form_fields() -> None:
    assert form_errors({"definition.rfm.r_max": "m", "definition": "n", "name": "o"}) == {
        "rfm.r_max": "m",
        "definition": "n",
        "name": "o",
    }


def test_a_definition_reads_as_one_line_on_the_list() -> None:
    from web_console.segment_views import definition_summary

    line = definition_summary(
        {
            "tags": ["diabetes"],
            "chronic_care": True,
            "vip": False,
            "no_visit_for_days": 365,
            "rfm_groups": ["lapsed", "at_risk"],
            "rfm": {"r_max": 2, "f_min": None},
        }
    )
    assert line == (
        "tags diabetes · not VIP · chronic care · no visit for 365 days · "
        "RFM lapsed, at risk · scores r max 2"
    )
    assert definition_summary({}) == ""
