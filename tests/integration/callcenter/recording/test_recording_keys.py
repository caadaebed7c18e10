"""The recording key: checked before processing, rotated by rekey, and the transcript index."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from callcenter.recording.crypto import RecordingCipher, generate_key
from callcenter.recording.rekey import _rekey_file, reindex, rekey
from callcenter.server.root import start_server
from hcrm_core.db import Database
from hcrm_core.models import AuditEvent, Recording, Role, Transcript
from hcrm_core.services.recording_search import RecordingFilter, search_recordings
from hcrm_core.services.recordings import Viewer
from tests.support.console import login
from tests.support.recording_world import (
    RecordingWorld,
    add_processed_recording,
    start_recording_world,
)
from web_console.app import create_app

SUPERVISOR = Viewer(user_id=1, role=Role.SUPERVISOR)


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[RecordingWorld]:
    world = await start_recording_world(tmp_path, database.url)
    yield world
    await world.server.stop()


def _cipher(key: str) -> RecordingCipher:
    cipher = RecordingCipher.from_setting(key)
    assert cipher is not None
    return cipher


def _old_cipher(world: RecordingWorld) -> RecordingCipher:
    return _cipher(world.server.settings.recording.key.get_secret_value())


async def _recordings(world: RecordingWorld) -> list[Recording]:
    async with world.server.database.session() as session:
        return list(await session.scalars(select(Recording).order_by(Recording.id)))


def _read(path: str | None) -> bytes:
    return Path(path or "").read_bytes()


async def _restart_with_key(world: RecordingWorld, key: str) -> Any:
    await world.server.stop()
    settings = world.server.settings
    recording = settings.recording.model_copy(update={"key": SecretStr(key)})
    world.server = await start_server(
        settings.model_copy(update={"recording": recording}), serve_console=False
    )
    return world.server


@pytest.mark.parametrize("key", ["", generate_key()], ids=["missing", "different"])
async def test_the_processor_refuses_to_start_when_the_key_does_not_open_what_is_stored(
    world: RecordingWorld, aiohttp_client: Any, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await _restart_with_key(world, key)
    assert not server.recordings.processing
    assert "recording.key" in (server.recordings.refused or "")
    assert any("recording processor not started" in r.getMessage() for r in caplog.records)
    client = await aiohttp_client(create_app(server.console_deps()))
    public = await (await client.get("/healthz")).json()
    assert public["parts"]["recordings"] == "down" and public["status"] != "ok"
    assert (await login(client, "sam")).status == 302
    details = (await (await client.get("/healthz")).json())["details"]["recordings"]
    assert details["processing"] is False and "recording.key" in details["error"]


async def test_the_processor_starts_with_the_key_the_recordings_were_made_with(
    world: RecordingWorld,
) -> None:
    assert world.server.recordings.processing and world.server.recordings.refused is None
    assert world.server.recordings.health()["encrypted"] is True


async def test_rekey_moves_every_file_and_transcript_and_can_run_again(
    world: RecordingWorld, tmp_path: Path
) -> None:
    old, new = _old_cipher(world), _cipher(generate_key())
    # One recording from before encryption was the default: plaintext file and transcripts.
    plain = tmp_path / "processed" / "recording-plain.mp3"
    await asyncio.to_thread(plain.write_bytes, world.audio)
    await add_processed_recording(world.server, "plain-1", world.alice_id, plain, None)
    database = world.server.database
    # A run cut short: one file already moved, a stale swap file left next to another.
    first, second, _ = await _recordings(world)
    assert await asyncio.to_thread(_rekey_file, Path(first.audio_path or ""), True, new, old) == (
        "moved"
    )
    stale = Path(f"{second.audio_path}.rekey")
    await asyncio.to_thread(stale.write_bytes, b"half-written")

    report = await rekey(database, new, old)

    assert (report.files_moved, report.files_current, report.files_encrypted) == (1, 1, 1)
    assert (report.transcripts_moved, report.transcripts_encrypted) == (4, 2)
    assert report.unreadable == []
    for recording in await _recordings(world):
        assert recording.audio_encrypted
        path = Path(recording.audio_path or "")
        assert new.opens(path) and not old.opens(path)
        assert b"".join(new.decrypt_range(path)) == world.audio
    # The swap file holds a whole file's ciphertext only until its rename: none is left.
    assert sorted(p.suffix for p in (tmp_path / "processed").iterdir()) == [".mp3"] * 3
    async with database.session() as session:
        transcripts = list(await session.scalars(select(Transcript)))
    assert all(t.encrypted and not old.opens_text(t.text) for t in transcripts)
    words = json.loads(new.decrypt_text(transcripts[0].words[0]["enc"]))
    assert words[0]["word"] == "hello"
    # The index follows the key: found with the new one (all three), not with the old one.
    search = RecordingFilter(text="cardiology")
    assert (
        len(
            await search_recordings(database, SUPERVISOR, search, new.decrypt_text, index=new.index)
        )
        == 3
    )
    assert (
        await search_recordings(database, SUPERVISOR, search, new.decrypt_text, index=old.index)
        == []
    )
    # Again: nothing left to do, nothing changed.
    before = [_read(r.audio_path) for r in await _recordings(world)]
    again = await rekey(database, new, old)
    assert (again.files_current, again.transcripts_current, again.files_moved) == (3, 6, 0)
    assert [_read(r.audio_path) for r in await _recordings(world)] == before
    async with database.session() as session:
        audits = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.entity == "recording_key"))
        )
    assert len(audits) == 2 and audits[0].detail["files_moved"] == 1


async def test_rekey_with_the_wrong_old_key_touches_nothing_and_says_so(
    world: RecordingWorld,
) -> None:
    before = [_read(r.audio_path) for r in await _recordings(world)]
    report = await rekey(world.server.database, _cipher(generate_key()), _cipher(generate_key()))
    assert len(report.unreadable) == 2 + 4  # two files, four transcripts
    assert report.files_moved == report.transcripts_moved == 0
    assert [_read(r.audio_path) for r in await _recordings(world)] == before
    old = _old_cipher(world)
    async with world.server.database.session() as session:
        assert all(old.opens_text(t.text) for t in await session.scalars(select(Transcript)))


async def test_reindex_makes_transcripts_written_before_the_index_searchable(
    world: RecordingWorld,
) -> None:
    cipher = _old_cipher(world)
    recording_id = await add_processed_recording(
        world.server, "before-index", world.bob_id, None, cipher, index=False
    )
    database = world.server.database
    search = RecordingFilter(text="cardiology")

    async def found() -> list[int]:
        results = await search_recordings(
            database, SUPERVISOR, search, cipher.decrypt_text, index=cipher.index
        )
        return [r["id"] for r in results]

    assert recording_id not in await found()
    assert await reindex(database, cipher) == (6, 0)
    assert recording_id in await found()
    assert await reindex(database, cipher) == (6, 0)  # again: same index, no duplicates
    assert len(await found()) == 3
