"""The sandbox's pure parts: finding the Debian archive, refusing to run without root."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from callcenter.asterisk.sandbox import (
    AsteriskSandbox,
    SandboxError,
    SandboxStatus,
    find_debian_mirror,
    require_root,
)
from callcenter.settings import AmiSettings, AsteriskSettings, Settings

BOOKWORM_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


def apt_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    root = apt_dir(tmp_path, {"sources.list.d/debian.sources": BOOKWORM_SOURCES})
    assert find_debian_mirror(root) == "http://deb.debian.org/debian"


def test_mirror_skips_security_third_party_and_disabled(tmp_path: Path) -> None:
    sources = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security

Types: deb
URIs: http://mirror.example/pub/debian/
Suites: bookworm
"""
    root = apt_dir(tmp_path, {"sources.list.d/a.sources": sources})
    assert find_debian_mirror(root) == "http://mirror.example/pub/debian"


def test_mirror_from_one_line_sources_list(tmp_path: Path) -> None:
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://ftp.de.debian.org/debian "
        "bookworm main\n"
    )
    root = apt_dir(tmp_path, {"sources.list": text})
    assert find_debian_mirror(root) == "http://ftp.de.debian.org/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path) -> None:
    root = apt_dir(tmp_path, {"sources.list.d/other.list": "deb https://pkgs.example/apt x y\n"})
    with pytest.raises(SandboxError, match=r"asterisk\.debian_mirror"):
        find_debian_mirror(root)


def test_require_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="needs root"):
        require_root()


def make_sandbox(tmp_path: Path) -> AsteriskSandbox:
    settings = Settings(
        data_dir=tmp_path,
        ami=AmiSettings(secret=SecretStr("s")),
        asterisk=AsteriskSettings(sandbox_dir=tmp_path / "sandbox"),
    )
    return AsteriskSandbox(settings)


def test_every_action_refuses_without_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    sandbox = make_sandbox(tmp_path)
    for action in (sandbox.ensure_built, sandbox.start, sandbox.stop, sandbox.status):
        with pytest.raises(SandboxError, match="needs root"):
            action()
    assert not (tmp_path / "sandbox").exists()


def test_paths_inside_the_sandbox(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path)
    assert sandbox.root == tmp_path / "sandbox" / "root"
    assert sandbox.recordings_dir == sandbox.root / "var/spool/asterisk/monitor"
    assert not sandbox.is_built()
    assert sandbox.pid() is None


def test_status_description_names_the_ways_in(tmp_path: Path) -> None:
    status = SandboxStatus(
        running=True,
        pid=42,
        version="Asterisk 22.10.1",
        root=tmp_path,
        ami="127.0.0.1:5038",
        log=tmp_path / "asterisk.log",
    )
    text = status.describe()
    assert "running (pid 42, Asterisk 22.10.1)" in text
    assert "127.0.0.1:5038" in text
    assert str(tmp_path / "asterisk.log") in text
