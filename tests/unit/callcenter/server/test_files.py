"""The server's files are private: modes repaired at start, a warning for what cannot be."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from callcenter.server import files
from callcenter.server.files import restrict_umask, secure_data_files
from callcenter.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _world_readable_install(data_dir: Path) -> list[Path]:
    """What an older version (no umask) left behind: everything 0644 / 0755."""
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    made = []
    for name in (
        "callcenter.sqlite3",
        "callcenter.sqlite3-wal",
        "callcenter.sqlite3-shm",
        "secrets.toml",
        "recording.key",
        "demo-logins.txt",
    ):
        path = data_dir / name
        path.write_text("x")
        os.chmod(path, 0o644)
        made.append(path)
    recordings = data_dir / "recordings"
    recordings.mkdir()
    os.chmod(recordings, 0o755)
    audio = recordings / "recording-1.mp3"
    audio.write_bytes(b"x")
    os.chmod(audio, 0o644)
    return [*made, audio]


def test_every_file_the_server_owns_becomes_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    made = _world_readable_install(data_dir)

    check = secure_data_files(Settings(data_dir=data_dir))

    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "recordings") == 0o700
    for path in made:
        assert _mode(path) == 0o600, path
    assert check.unfixable == []
    assert set(made) <= set(check.fixed)


def test_a_separate_processed_dir_and_database_file_are_covered(tmp_path: Path) -> None:
    processed = tmp_path / "audio"
    processed.mkdir()
    os.chmod(processed, 0o755)
    database = tmp_path / "elsewhere.sqlite3"
    database.write_text("x")
    os.chmod(database, 0o644)
    settings = Settings(
        data_dir=tmp_path / "var",
        database={"url": f"sqlite+aiosqlite:///{database}"},
        recording={"processed_dir": processed},
    )

    secure_data_files(settings)

    assert _mode(processed) == 0o700
    assert _mode(database) == 0o600


def test_a_file_that_cannot_be_fixed_is_named_in_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var"
    _world_readable_install(data_dir)
    secrets_file = data_dir / "secrets.toml"
    real_chmod = os.chmod

    def chmod(path: object, mode: int) -> None:
        if Path(str(path)) == secrets_file:
            raise PermissionError(1, "Operation not permitted")
        real_chmod(path, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(files.os, "chmod", chmod)
    with caplog.at_level(logging.WARNING, logger="callcenter.server.files"):
        check = secure_data_files(Settings(data_dir=data_dir))

    assert [path for path, _ in check.unfixable] == [secrets_file]
    assert str(secrets_file) in caplog.text
    assert "Operation not permitted" in caplog.text
    # The others were still fixed.
    assert _mode(data_dir / "callcenter.sqlite3") == 0o600


def test_the_umask_makes_new_files_private(tmp_path: Path) -> None:
    old = restrict_umask()
    try:
        (tmp_path / "new.db").write_text("x")
        (tmp_path / "newdir").mkdir()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new.db") == 0o600
    assert _mode(tmp_path / "newdir") == 0o700
