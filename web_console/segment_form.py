"""The segment form: fields in, a definition out, and every refusal back at its field.

Field names are the definition's own paths (``tags``, ``rfm.r_min``), so a refusal from
:mod:`hcrm_core.services.segments_definition`, which names ``definition.<path>``, lands next to
the field that caused it. The form keeps what was typed, so a refused form comes back whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from multidict import MultiDictProxy

from hcrm_core.services.segments_definition import SCORES

LISTS: Final = ("tags", "age_bands", "rfm_groups")  # checkboxes: one value per box ticked
TYPED_LISTS: Final = ("conditions", "languages")  # typed, separated by commas or spaces
DAYS: Final = ("last_visit_within_days", "no_visit_for_days")
FLAGS: Final = ("vip", "chronic_care")  # "", "yes" or "no"
BOUNDS: Final = tuple(f"rfm.{score}_{end}" for score in SCORES for end in ("min", "max"))
_SPLIT = re.compile(r"[\s,;]+")
LABELS: Final = {
    "name": "Name",
    "description": "Description",
    "definition": "Filters",
    "tags": "Tags",
    "conditions": "Conditions",
    "age_bands": "Age bands",
    "languages": "Languages",
    "vip": "VIP",
    "chronic_care": "Chronic care",
    "last_visit_within_days": "Last visit within (days)",
    "no_visit_for_days": "No visit for (days)",
    "rfm_groups": "RFM groups",
    **{
        f"rfm.{score}_{end}": f"{title} score {'from' if end == 'min' else 'to'}"
        for score, title in (("r", "Recency"), ("f", "Frequency"), ("m", "Value"))
        for end in ("min", "max")
    },
}


@dataclass
class SegmentForm:
    """The form as typed: single values, the ticked boxes of each list, and the refusals."""

    values: dict[str, str] = field(default_factory=dict)
    ticked: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def checked(self, name: str, value: str) -> bool:
        return value in self.ticked.get(name, [])

    def error_list(self) -> list[tuple[str, str, str]]:
        """(the field's id, its label, the message) for the list above the form."""
        return [
            (field_id(name), LABELS.get(name, name), message)
            for name, message in self.errors.items()
        ]


def field_id(name: str) -> str:
    return "s-" + name.replace(".", "-")


def form_from_post(post: MultiDictProxy[Any]) -> SegmentForm:
    values = {str(k): str(v) for k, v in post.items() if isinstance(v, str) and k not in LISTS}
    ticked = {name: [str(v) for v in post.getall(name, []) if isinstance(v, str)] for name in LISTS}
    return SegmentForm(values, ticked)


def form_from_segment(
    name: str, description: str | None, definition: Mapping[str, Any]
) -> SegmentForm:
    values = {"name": name, "description": description or ""}
    for key in TYPED_LISTS:
        values[key] = ", ".join(definition.get(key) or [])
    for key in DAYS:
        values[key] = "" if definition.get(key) is None else str(definition[key])
    for key in FLAGS:
        flag = definition.get(key)
        values[key] = "" if flag is None else ("yes" if flag else "no")
    bounds = definition.get("rfm") or {}
    for key in BOUNDS:
        found = bounds.get(key.removeprefix("rfm."))
        values[key] = "" if found is None else str(found)
    ticked = {key: list(definition.get(key) or []) for key in LISTS}
    return SegmentForm(values, ticked)


def definition_from_form(form: SegmentForm) -> dict[str, Any]:
    """The definition the form gives, for the service to validate; text that is not even a
    number is refused here, at its field (in ``form.errors``)."""
    definition: dict[str, Any] = {key: form.ticked.get(key, []) for key in LISTS}
    for key in TYPED_LISTS:
        definition[key] = [part for part in _SPLIT.split(form.get(key)) if part]
    for key in FLAGS:
        choice = form.get(key)
        if choice in ("yes", "no"):
            definition[key] = choice == "yes"
    for key in DAYS:
        _put_number(form, key, definition, key)
    bounds: dict[str, Any] = {}
    for key in BOUNDS:
        _put_number(form, key, bounds, key.removeprefix("rfm."))
    definition["rfm"] = bounds
    return {key: value for key, value in definition.items() if value not in ([], {})}


def _put_number(form: SegmentForm, key: str, target: dict[str, Any], name: str) -> None:
    text = form.get(key).strip()
    if not text:
        return
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        form.errors[key] = "enter a whole number"
        return
    target[name] = int(text)


def form_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """The service's refusals (``definition.rfm.r_max``) by the form's field names."""
    return {
        (path.removeprefix("definition.") if path != "definition" else path): message
        for path, message in errors.items()
    }
