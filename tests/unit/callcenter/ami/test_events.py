"""Typed AMI events: values Asterisk escapes are handed on as the caller sent them."""

from __future__ import annotations

import pytest

from callcenter.ami.events import AmiEvent, Headers, unescape_c


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


def test_parsed_message_text_gives_the_same_headers_as_pairs() -> None:
    text = (
        "Event: VarSet\r\nChannel: PJSIP/7001-00000001\r\nChanVariable: A=1\r\n"
        "ChanVariable: B=2\r\nValue: a: b\r\nAccountCode: \r\nUniqueid: 1.1"
    )
    parsed = Headers.parse(text)
    assert parsed == Headers(
        [
            ("Event", "VarSet"),
            ("Channel", "PJSIP/7001-00000001"),
            ("ChanVariable", "A=1"),
            ("ChanVariable", "B=2"),
            ("Value", "a: b"),  # split at the first ": " only
            ("AccountCode", ""),
            ("Uniqueid", "1.1"),
        ]
    )
    assert parsed.get_all("chanvariable") == ("A=1", "B=2")
    assert parsed["ChanVariable"] == "B=2" and parsed["uniqueid"] == "1.1"
    assert list(parsed) == ["Event", "Channel", "ChanVariable", "Value", "AccountCode", "Uniqueid"]
    assert dict(parsed.as_dict()) == parsed.to_dict()


@pytest.mark.parametrize(
    "text",
    [
        "\r\nEvent: Hangup\r\nUniqueid: 1.1",  # a stray blank line first
        "Event: Hangup\r\nnot a header\r\nUniqueid: 1.1",
        "Event: Hangup\r\nBroken:no-space\r\nUniqueid: 1.1",
    ],
)
def test_lines_that_are_not_headers_are_skipped(text: str) -> None:
    parsed = Headers.parse(text)
    assert parsed.to_dict() == {"Event": "Hangup", "Uniqueid": "1.1"}
    assert len(parsed) == 2
