"""Which X-Forwarded-For hop is the client: the first one, from the right, not a proxy."""

from __future__ import annotations

import pytest

from web_console.transport import client_address, trusted_networks

PROXIES = trusted_networks(["10.0.0.0/24", "2001:db8::/32"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
        # The client may write anything at the left; only what our proxies added counts.
        ("10.0.0.5", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),
        ("10.0.0.5", ["198.51.100.7", "10.0.0.9"], "198.51.100.7"),  # two proxies
        ("10.0.0.5", ["10.0.0.7"], "10.0.0.7"),  # a client inside the proxies' network
        ("10.0.0.5", ["not-an-address"], "10.0.0.5"),
        ("10.0.0.5", ["6.6.6.6", "junk"], "10.0.0.5"),
        ("10.0.0.5", [], "10.0.0.5"),
        ("2001:db8::1", ["[2001:db8:ffff::2]", "203.0.113.4"], "203.0.113.4"),
        ("203.0.113.9", ["198.51.100.7"], "203.0.113.9"),  # not from a proxy: ignored
    ],
)
def test_the_client_is_the_rightmost_untrusted_hop(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == client
