"""How requests reach the console: HTTPS served directly, or through a trusted reverse proxy.

With ``web.tls_cert`` and ``web.tls_key`` the console serves HTTPS itself
(:func:`server_tls_context`). Behind a TLS-terminating proxy, the console sees the proxy's
address and plain HTTP; :func:`forwarded_middleware` then takes the client's address, the
scheme and the host from ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host``,
but only when the TCP peer is one of ``web.trusted_proxies``: from anyone else these headers
are ignored, since any client can send them. Everything after this middleware (audit rows,
login throttling, ``Secure`` cookies, the websocket's Origin check) sees the result through
``request.remote``, ``request.scheme`` and ``request.host``.

Over HTTPS every answer carries ``Strict-Transport-Security``.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from web_console.access import Handler

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# One year; no includeSubDomains: the hospital's other hosts are not ours to commit.
HSTS = "max-age=31536000"
MAX_HOST_LENGTH = 255
_HOST_FORBIDDEN = frozenset(" \t\r\n/\\@?#")


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) with this certificate chain and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse ``web.trusted_proxies`` (validated by the settings)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _is_trusted(address: Address | None, trusted: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in trusted)


def _header_values(request: web.Request, name: str) -> list[str]:
    return [part.strip() for value in request.headers.getall(name, []) for part in value.split(",")]


def client_address(peer: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client behind ``peer``: each proxy appends the address it was reached from, so
    walking ``X-Forwarded-For`` from the right, the first address that is not a trusted proxy
    is the client; what lies to its left was written by the client and means nothing."""
    client = peer
    for hop in reversed(forwarded_for):
        if not _is_trusted(_address(client), trusted):
            break
        address = _address(hop)
        if address is None:
            break  # garbage from a proxy: keep the last address we can vouch for
        client = str(address)
    return client


def _forwarded_host(request: web.Request) -> str | None:
    hosts = _header_values(request, "X-Forwarded-Host")
    host = hosts[-1] if hosts else ""
    if not host or len(host) > MAX_HOST_LENGTH or _HOST_FORBIDDEN.intersection(host):
        return None
    return host


def forwarded_middleware(trusted_proxies: Iterable[str]) -> Middleware:
    """The first middleware: the request as the client made it, and HSTS over HTTPS."""
    trusted = trusted_networks(trusted_proxies)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote or ""
        if trusted and _is_trusted(_address(peer), trusted):
            request = _as_forwarded(request, peer, trusted)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if request.secure:
                exc.headers["Strict-Transport-Security"] = HSTS
            raise
        if request.secure:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    return middleware


def _as_forwarded(request: web.Request, peer: str, trusted: tuple[Network, ...]) -> web.Request:
    # The nearest proxy's word (the rightmost value) on how the client reached it.
    protos = [value.lower() for value in _header_values(request, "X-Forwarded-Proto") if value]
    scheme = protos[-1] if protos and protos[-1] in ("http", "https") else request.scheme
    return request.clone(
        remote=client_address(peer, _header_values(request, "X-Forwarded-For"), trusted),
        scheme=scheme,
        host=_forwarded_host(request) or request.host,
    )
