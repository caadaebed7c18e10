"""Patient data on disk is private: the CLI's umask and the server's start-up repair."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from callcenter.server.root import start_server
from callcenter.settings import AgiSettings, AmiSettings, Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_cli_creates_the_database_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_DATA_DIR"] = str(data_dir)
    old = os.umask(0o022)  # as a shell would leave it
    try:
        subprocess.run(
            [sys.executable, "-m", "callcenter", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        os.umask(old)
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "callcenter.sqlite3") == 0o600
    assert _mode(data_dir / "secrets.toml") == 0o600


async def test_the_server_repairs_modes_left_by_an_older_version(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    secrets_file = data_dir / "secrets.toml"
    secrets_file.write_text('[web]\nsession_secret = "s"\n')
    os.chmod(secrets_file, 0o644)
    (data_dir / "recordings").mkdir()
    os.chmod(data_dir / "recordings", 0o755)
    settings = Settings(
        data_dir=data_dir,
        ami=AmiSettings(port=_closed_port(), secret=SecretStr("x"), reconnect_max=0.5),
        agi=AgiSettings(port=0),
    )
    old = os.umask(0o022)
    try:
        server = await start_server(settings, serve_console=False)
    finally:
        os.umask(old)
    try:
        assert _mode(data_dir) == 0o700
        assert _mode(secrets_file) == 0o600
        assert _mode(data_dir / "callcenter.sqlite3") == 0o600
        assert _mode(data_dir / "recordings") == 0o700
    finally:
        await server.stop()
