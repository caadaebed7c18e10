"""HTTPS served directly, and X-Forwarded-* believed only from the configured proxies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from callcenter.server.root import start_server
from callcenter.settings import Settings, WebSettings
from hcrm_core.models import AuditAction, AuditEvent, Role
from hcrm_core.services.users import create_user
from tests.support.console import PASSWORD, ConsoleWorld, closed_port, console_settings, csrf_from
from web_console.app import create_app

TIMEOUT = aiohttp.ClientTimeout(total=30)
CLIENT = "198.51.100.7"
PROXY_HEADERS = {
    "X-Forwarded-For": CLIENT,
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "console.hospital.example",
}


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "console.crt", directory / "console.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _cookie_header(response: aiohttp.ClientResponse, name: str) -> str:
    return next(h for h in response.headers.getall("Set-Cookie") if h.startswith(f"{name}="))


async def _login(
    session: aiohttp.ClientSession, base: str, username: str, **kwargs: Any
) -> aiohttp.ClientResponse:
    page = await session.get(f"{base}/login", **kwargs)
    token = csrf_from(await page.text())
    response = await session.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        **kwargs,
    )
    await response.read()
    return response


async def test_the_console_serves_https_with_secure_cookies_and_hsts(tmp_path):
    cert, key = _self_signed(tmp_path)
    settings = console_settings(tmp_path / "data")
    web = WebSettings(host="127.0.0.1", port=closed_port(), tls_cert=cert, tls_key=key)
    server = await start_server(settings.model_copy(update={"web": web}))
    try:
        async with server.database.transaction() as session:
            await create_user(session, username="ada", password=PASSWORD, role=Role.ADMIN)
        base = f"https://127.0.0.1:{web.port}"
        trust = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=trust),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=TIMEOUT,
        ) as browser:
            page = await browser.get(f"{base}/login")
            assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert "Secure" in _cookie_header(page, "cc_login_csrf")
            response = await _login(browser, base, "ada")
            assert response.status == 302
            assert "Secure" in _cookie_header(response, "cc_session")
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
            home = await browser.get(f"{base}/")
            assert home.status == 200
            assert "ada (admin)" in await home.text()
            # A browser's websocket from this HTTPS origin is let in.
            socket = await browser.ws_connect(f"wss://127.0.0.1:{web.port}/ws", origin=base)
            await socket.close()
        # Plain HTTP is not served on the TLS port.
        async with aiohttp.ClientSession(timeout=TIMEOUT) as plain:
            with pytest.raises(aiohttp.ClientError):
                await plain.get(f"http://127.0.0.1:{web.port}/login")
    finally:
        await server.stop()


def test_a_certificate_without_its_key_is_refused(tmp_path):
    cert, _ = _self_signed(tmp_path)
    with pytest.raises(ValueError, match="both"):
        WebSettings(tls_cert=cert)
    with pytest.raises(ValueError, match="not a readable file"):
        WebSettings(tls_cert=cert, tls_key=tmp_path / "missing.key")
    with pytest.raises(ValueError, match="not an address or network"):
        WebSettings(trusted_proxies=["proxy.example"])


def _behind_proxy(world: ConsoleWorld, trusted: list[str]) -> Any:
    settings: Settings = world.server.settings
    web = WebSettings(trusted_proxies=trusted)
    deps = dataclasses.replace(
        world.server.console_deps(), settings=settings.model_copy(update={"web": web})
    )
    return create_app(deps)


async def _latest_login_source(world: ConsoleWorld) -> str | None:
    async with world.server.database.session() as session:
        row = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.LOGIN)
            .order_by(AuditEvent.id.desc())
        )
        assert row is not None
        return row.source


async def test_forwarded_headers_from_a_trusted_proxy_are_believed(world, aiohttp_client):
    client = await aiohttp_client(_behind_proxy(world, ["127.0.0.0/8"]))
    page = await client.get("/login", headers=PROXY_HEADERS)
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in _cookie_header(page, "cc_login_csrf")
    # The browser talks HTTPS to the proxy and sends its Secure cookies there; the test's
    # plain-HTTP client would not, so they are passed on by hand, as the proxy does.
    csrf_cookie = page.cookies["cc_login_csrf"].value
    response = await client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(await page.text()),
        },
        headers={**PROXY_HEADERS, "Cookie": f"cc_login_csrf={csrf_cookie}"},
        allow_redirects=False,
    )
    assert response.status == 302
    assert "Secure" in _cookie_header(response, "cc_session")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert await _latest_login_source(world) == CLIENT
    # The Origin check sees the proxy's public scheme and host.
    socket = await client.ws_connect(
        "/ws",
        headers={**PROXY_HEADERS, "Cookie": f"cc_session={response.cookies['cc_session'].value}"},
        origin="https://console.hospital.example",
    )
    await socket.close()


async def test_forwarded_headers_from_anyone_else_are_ignored(world, aiohttp_client):
    client = await aiohttp_client(_behind_proxy(world, ["127.0.0.1"]))
    base = str(client.make_url("")).rstrip("/")
    # Someone at 127.0.0.2 is not the proxy: their X-Forwarded-For is theirs to invent.
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        timeout=TIMEOUT,
    ) as outsider:
        response = await _login(outsider, base, "sam", headers=PROXY_HEADERS)
        assert response.status == 302
        assert "Secure" not in _cookie_header(response, "cc_session")
        assert "Strict-Transport-Security" not in response.headers
        assert await _latest_login_source(world) == "127.0.0.2"
        refused = await outsider.get(
            f"{base}/ws",
            headers={
                **PROXY_HEADERS,
                "Origin": "https://console.hospital.example",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert refused.status == 403
