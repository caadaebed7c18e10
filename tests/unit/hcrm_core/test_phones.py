import pytest

from hcrm_core.errors import InvalidPhoneNumber
from hcrm_core.phones import is_e164, lookup_keys, to_e164


@pytest.mark.parametrize(
    "raw",
    [
        "(212) 555-0142",
        "212-555-0142",
        "+1 212 555 0142",
        "12125550142",
        "2125550142",
        "001 212 555 0142",
        " +1 (212) 555.0142 ",
    ],
)
def test_us_formats_normalise_to_one_e164(raw):
    assert to_e164(raw, "US") == "+12125550142"


@pytest.mark.parametrize("raw", ["13812345678", "+86 138 1234 5678", "008613812345678"])
def test_chinese_mobile_formats(raw):
    assert to_e164(raw, "CN") == "+8613812345678"
    # Written internationally, the hospital's own region does not matter.
    if not raw.startswith("1"):
        assert to_e164(raw, "US") == "+8613812345678"


@pytest.mark.parametrize(
    "raw", ["", "   ", "abc", "12", "x" * 200, '"; DROP TABLE patients; --', "${SHELL(id)}"]
)
def test_garbage_is_a_clear_error(raw):
    with pytest.raises(InvalidPhoneNumber, match="not a"):
        to_e164(raw, "US")
    assert lookup_keys(raw, "US") == []


@pytest.mark.parametrize("value", ["+12125550142", "+8613812345678", "+1234567"])
def test_e164_numbers_pass_the_dial_string_check(value):
    assert is_e164(value)


@pytest.mark.parametrize(
    "value",
    ["", "12125550142", "+0125550142", "+123456", "+1234567890123456", "+12125550142\n", "+1 212"],
)
def test_anything_else_fails_the_dial_string_check(value):
    assert not is_e164(value)
