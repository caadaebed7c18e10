"""A running server with recordings in it, for the console and retention tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from pydub import AudioSegment
from pydub.generators import Sine

from callcenter.recording.audio import export
from callcenter.recording.crypto import RecordingCipher, generate_key
from callcenter.recording.processor import add_terms
from callcenter.server.root import Server, start_server
from hcrm_core.models import (
    Call,
    CallDirection,
    Recording,
    RecordingStatus,
    Role,
    Transcript,
)
from hcrm_core.services.users import create_user
from tests.support.console import PASSWORD, console_settings

CALLER_WORDS = [
    {"word": "hello", "start": 0.5, "end": 0.9, "conf": 1.0},
    {"word": "appointment", "start": 1.0, "end": 1.6, "conf": 1.0},
]
AGENT_WORDS = [{"word": "cardiology", "start": 2.0, "end": 2.7, "conf": 1.0}]


@dataclass
class RecordingWorld:
    server: Server
    alice_id: int
    bob_id: int
    alices: int  # recording id of a call alice took
    bobs: int  # recording id of a call bob took
    audio: bytes  # the plaintext of both processed files


async def start_recording_world(
    tmp: Path, database_url: str, *, agent_access: str = "own"
) -> RecordingWorld:
    settings = console_settings(tmp, database_url)
    key = generate_key()
    settings = settings.model_copy(
        update={
            "recording": settings.recording.model_copy(
                update={
                    "key": SecretStr(key),
                    "processed_dir": tmp / "processed",
                    "agent_access": agent_access,
                    "transcribe": False,
                }
            )
        }
    )
    server = await start_server(settings, serve_console=False)
    async with server.database.transaction() as session:
        alice = await create_user(session, username="alice", password=PASSWORD, role=Role.AGENT)
        bob = await create_user(session, username="bob", password=PASSWORD, role=Role.AGENT)
        await create_user(session, username="sam", password=PASSWORD, role=Role.SUPERVISOR)
        await create_user(session, username="ada", password=PASSWORD, role=Role.ADMIN)
        ids = (alice.id, bob.id)
    cipher = RecordingCipher.from_setting(key)
    assert cipher is not None
    plain = tmp / "plain.mp3"
    tone = Sine(440).to_audio_segment(duration=3000).set_frame_rate(8000)
    export(AudioSegment.from_mono_audiosegments(tone, tone), plain, "mp3")
    audio = plain.read_bytes()
    recording_ids = []
    for n, agent_id in enumerate(ids):
        target = tmp / "processed" / f"recording-{n}.mp3"
        target.parent.mkdir(parents=True, exist_ok=True)
        cipher.encrypt_file(plain, target)
        recording_ids.append(
            await add_processed_recording(server, f"world-{n}", agent_id, target, cipher)
        )
    return RecordingWorld(server, ids[0], ids[1], recording_ids[0], recording_ids[1], audio)


async def add_processed_recording(
    server: Server,
    linkedid: str,
    agent_id: int | None,
    audio_path: Path | None,
    cipher: RecordingCipher | None,
    *,
    age_days: float = 0,
    index: bool = True,
) -> int:
    started = datetime.now(UTC) - timedelta(days=age_days)
    async with server.database.transaction() as session:
        call = Call(
            linkedid=linkedid,
            direction=CallDirection.INBOUND,
            started_at=started,
            ended_at=started + timedelta(seconds=30),
            queue="appointments",
            agent_user_id=agent_id,
            disposition="booked",
        )
        session.add(call)
        await session.flush()
        recording = Recording(
            call_id=call.id,
            linkedid=linkedid,
            asterisk_path=f"/var/spool/asterisk/monitor/{linkedid}-1.wav",
            status=RecordingStatus.PROCESSED,
            started_at=started,
            duration_seconds=3.0,
            agent_user_id=agent_id,
            queue="appointments",
            audio_path=str(audio_path) if audio_path else None,
            audio_format="mp3",
            audio_encrypted=cipher is not None,
            peaks=[0.1, 0.5, 0.2],
        )
        session.add(recording)
        await session.flush()
        for speaker, words in (("caller", CALLER_WORDS), ("agent", AGENT_WORDS)):
            text = " ".join(w["word"] for w in words)
            transcript = Transcript(
                recording_id=recording.id,
                speaker=speaker,
                text=cipher.encrypt_text(text) if cipher else text,
                words=[{"enc": cipher.encrypt_text(_dumps(words))}] if cipher else words,
                encrypted=cipher is not None,
            )
            session.add(transcript)
            if cipher is not None and index:
                await session.flush()
                add_terms(session, transcript, cipher.index, text)  # as the processor does
        return recording.id


def _dumps(value: object) -> str:
    import json

    return json.dumps(value)
