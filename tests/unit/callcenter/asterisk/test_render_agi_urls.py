"""Several FastAGI addresses (several server processes): every AGI() falls back in turn."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from callcenter.asterisk import const
from callcenter.asterisk.render import render_config
from callcenter.settings import AgiSettings, AmiSettings, Settings

URLS = ["agi://10.0.0.5:4573", "agi://10.0.0.6:4573", "hagi://agi.hospital.example"]
_ROUTES = (
    const.AGI_ROUTE_IVR,
    const.AGI_ROUTE_QUEUE_OVERFLOW,
    const.AGI_ROUTE_QUEUE_CALLBACK,
    const.AGI_ROUTE_SURVEY,
    const.AGI_ROUTE_ECHO_DIGITS,
)


def _dialplan(tmp_path: Path, urls: list[str]) -> str:
    settings = Settings(
        ami=AmiSettings(secret=SecretStr("s" * 24)), agi=AgiSettings(asterisk_urls=urls)
    )
    render_config(settings, tmp_path, sandbox=False)
    return (tmp_path / "extensions.conf").read_text()


def test_one_address_keeps_the_plain_agi_calls(tmp_path: Path) -> None:
    text = _dialplan(tmp_path, ["hagi://agi.hospital.example"])
    assert "CALLCENTER_AGI = hagi://agi.hospital.example" in text
    assert const.CONTEXT_AGI_FALLBACK not in text
    for route in _ROUTES:
        assert f"AGI(${{CALLCENTER_AGI}}/{route}" in text


def test_several_addresses_are_tried_in_order_at_every_agi_call(tmp_path: Path) -> None:
    text = _dialplan(tmp_path, URLS)
    assert "CALLCENTER_AGI = agi://10.0.0.5:4573" in text
    assert "CALLCENTER_AGI_1 = agi://10.0.0.5:4573" in text
    assert "CALLCENTER_AGI_2 = agi://10.0.0.6:4573" in text
    assert "CALLCENTER_AGI_3 = hagi://agi.hospital.example" in text
    for route in _ROUTES:
        assert f"Gosub({const.CONTEXT_AGI_FALLBACK},s,1({route}" in text
    section = text.split(f"[{const.CONTEXT_AGI_FALLBACK}]")[1].split("\n\n")[0]
    tried = re.findall(r"AGI\(\$\{(CALLCENTER_AGI(?:_\d)?)\}/\$\{ARG1\},\$\{ARG2\}\)", section)
    # CALLCENTER_AGI first (a campaign call's own server), then the whole list in order.
    assert tried == ["CALLCENTER_AGI", "CALLCENTER_AGI_1", "CALLCENTER_AGI_2", "CALLCENTER_AGI_3"]
    # The next address only when this one could not be reached: a dialog never runs twice;
    # an address equal to the one tried first is skipped.
    assert section.count('GotoIf($["${AGISTATUS}" != "FAILURE"]?done)') == 3
    assert '$["${CALLCENTER_AGI_1}" = "${CALLCENTER_AGI}"]?tried1' in section
    assert section.rstrip().endswith("same => n(done),Return()")
    # Every AGI() outside the fallback goes through it.
    outside = text.replace(section, "")
    assert "AGI(${CALLCENTER_AGI}/" not in outside


@pytest.mark.parametrize(
    "bad", ["agi://host/route", "agi://host,x", "http://host", "hagi://host:4573", "agi://"]
)
def test_addresses_are_plain_scheme_host_and_port(bad: str) -> None:
    with pytest.raises(ValidationError):
        AgiSettings(asterisk_urls=[bad])
