"""Where a login may send the browser: only to a path on this site."""

from __future__ import annotations

import pytest

from web_console.routes.auth import safe_next

REFUSED = [
    None,
    "",
    "//evil.example/",
    "/\t/evil.example",  # ?next=/%09/evil.example: browsers drop the tab and go to evil.example
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "HTTPS:evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    " /evil.example",
    "/ /evil.example",
    "\x00/",
    "/\x00",
    "/\x7f/evil.example",
    "/\u3000/evil.example",
    "/\u2028/evil.example",
    "/\uff0f/evil.example",  # a full-width solidus
    "/" + "a" * 5000,
]
ACCEPTED = ["/", "/patients/3", "/patients?q=grace%20h&limit=5", "/desk#pop", "/a/b/../c"]


@pytest.mark.parametrize("target", REFUSED)
def test_anything_but_a_local_path_falls_back_to_the_start(target: str | None) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ACCEPTED)
def test_a_local_path_is_kept(target: str) -> None:
    assert safe_next(target) == target
