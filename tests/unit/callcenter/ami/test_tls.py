"""AMI over TLS: the bridge verifies the PBX's certificate against the configured CA."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from callcenter.ami.bridge import AmiBridge, ConnectionState
from callcenter.bus import EventBus
from tests.unit.callcenter.ami.test_bridge import FakeAmi, ami_settings


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def pbx_cert(tmp_path: Path) -> tuple[Path, Path]:
    return _self_signed(tmp_path, "pbx")


async def _tls_fake(cert: Path, key: Path) -> FakeAmi:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = FakeAmi(ssl=context)
    await server.start()
    return server


async def test_tls_session_with_the_pbx_ca(pbx_cert: tuple[Path, Path]) -> None:
    server = await _tls_fake(*pbx_cert)
    bus = EventBus()
    bridge = AmiBridge(ami_settings(server.port, tls=True, tls_cafile=pbx_cert[0]), bus)
    try:
        await bridge.start()
        await bridge.wait_ready(5)
        assert bridge.health()["tls"] is True
        assert (await bridge.ping()).ok
    finally:
        await bridge.stop()
        await server.stop()
        await bus.close()


async def test_tls_with_an_untrusted_certificate_is_refused_with_a_clear_error(
    pbx_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    other_ca, _ = _self_signed(tmp_path, "other")
    server = await _tls_fake(*pbx_cert)
    bus = EventBus()
    bridge = AmiBridge(ami_settings(server.port, tls=True, tls_cafile=other_ca), bus)
    try:
        await bridge.start()
        async with asyncio.timeout(5):
            while not bridge.last_error:  # noqa: ASYNC110 - bounded wait on the retry loop
                await asyncio.sleep(0.02)
        assert "certificate" in bridge.last_error.lower()
        assert bridge.connection_state is not ConnectionState.CONNECTED
        assert server.logins == 0  # no credentials were sent to an unverified peer
    finally:
        await bridge.stop()
        await server.stop()
        await bus.close()
