"""Ids, numbers, JSON bodies and text as the console reads them (pure functions)."""

from __future__ import annotations

import pytest

from hcrm_core.errors import ValidationFailed
from web_console.input_text import BadInput, check_text
from web_console.json_body import MAX_DEPTH, parse_json
from web_console.views import ascii_int, id_from, int_param


@pytest.mark.parametrize("raw", ["²", "１", "٣", "1_000", " 1", "+1", "-1", "", "1" * 13, "1\x00"])
def test_only_ascii_digits_make_an_id(raw: str) -> None:
    assert ascii_int(raw) is None
    with pytest.raises(ValidationFailed) as refused:
        id_from(raw, "patient_id")
    assert refused.value.field == "patient_id"


def test_ascii_digits_do() -> None:
    assert ascii_int("0042") == 42
    assert id_from("7", "x") == 7
    assert int_param("5", "limit", default=1, low=1, high=10) == 5
    with pytest.raises(ValidationFailed, match="limit"):
        int_param("５", "limit", default=1, low=1, high=10)


def test_json_nested_past_the_limit_is_400_naming_the_field() -> None:
    with pytest.raises(BadInput) as deep:
        parse_json("[" * 50_000, "body")
    assert (deep.value.field, deep.value.http_status) == ("body", 400)
    just = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(just, "body") is not None
    with pytest.raises(BadInput) as inside:
        parse_json('{"note": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}", "body")
    assert inside.value.field == "note"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"note": "a\\u0000b"}', "note"),
        ('{"note": "\\ud800"}', "note"),
        ('{"note": ["ok", {"deep": "\\udfff"}]}', "note"),
        ('{"a\\u0000": 1}', "body"),
        (b'{"note": "\xff"}', "body"),
    ],
)
def test_nul_surrogates_and_bad_bytes_are_refused(text: str | bytes, field: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_json(text, "body")
    assert refused.value.field == field


def test_check_text_passes_ordinary_text() -> None:
    check_text("Zoë 王芳 😀 tab\there", "name")
    with pytest.raises(BadInput, match="NUL"):
        check_text("a\x00", "name")
