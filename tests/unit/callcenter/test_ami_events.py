"""Typed AMI events: values Asterisk escapes are handed on as the caller sent them."""

from __future__ import annotations

import pytest

from callcenter.ami_events import AmiEvent, Headers, unescape_c


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("王芳", "王芳"),
        (r"Evil \"Quote\" O\'Brien", 'Evil "Quote" O\'Brien'),
        (r"a\\b", "a\\b"),
        (r"x\r\nAction: Hangup", "x\r\nAction: Hangup"),
        (r"tab\there\?", "tab\there?"),
        (r"unknown \q kept", r"unknown \q kept"),
        ("trailing \\", "trailing \\"),
    ],
)
def test_unescape_c_undoes_asterisk_escaping(sent: str, meant: str) -> None:
    assert unescape_c(sent) == meant


def test_caller_id_name_is_unescaped_and_the_raw_header_kept() -> None:
    event = AmiEvent(
        "Newchannel",
        Headers([("CallerIDName", r"O\'Brien"), ("ConnectedLineName", r"\"VIP\"")]),
    )
    assert event.caller_id_name == "O'Brien"
    assert event.connected_line_name == '"VIP"'
    assert event.get("CallerIDName") == r"O\'Brien"  # the stored raw event stays as received


def test_header_lookup_ignores_case_and_absent_headers_are_absent() -> None:
    headers = Headers([("Uniqueid", "1.1"), ("ChanVariable", "A=1"), ("ChanVariable", "B=2")])
    assert headers["UniqueID"] == headers["uniqueid"] == "1.1"
    assert headers.get("UNIQUEID") == "1.1"
    assert "uniqueID" in headers
    assert headers.get("UserEvent") is None and "UserEvent" not in headers
    assert headers.get("Linkedid", "none") == "none"
    assert headers.get("chanvariable") == "B=2"  # the last of a repeated header
    with pytest.raises(KeyError):
        headers["Queue"]
