"""Recording real calls in the sandbox: both directions, path mapping, processing, Vosk.

A simulated patient calls a queue whose simulated agent answers; each side says an espeak-ng
Korean sentence once they are connected. The server's recording service registers the
recording from the dialplan's UserEvent, closes it when the call ends, and the processor
makes the stereo browser file and a transcript per speaker with the real Vosk model.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydub import AudioSegment
from sqlalchemy import select

from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.calls.state import CallAnswered
from callcenter.monitoring.services import MonitorMode, start_monitor
from callcenter.recording.bus_consume import RecordingEvents
from callcenter.recording.crypto import MAGIC, RecordingCipher
from callcenter.recording.errors import NotRecording
from callcenter.recording.paths import local_path
from callcenter.recording.processor import RecordingProcessor, model_dir
from callcenter.recording.services import RecordingService
from callcenter.recording.transcribe import transcribe
from callcenter.settings import Settings
from callcenter.speech_model import load_model
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditEvent, Recording, RecordingJob, RecordingStatus, Transcript
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.recording import (
    AGENT_TEXT,
    CALLER_TEXT,
    pool_for,
    recording_settings,
    sandbox_sound,
    speak,
)
from tests.support.rig import (
    QUEUE,
    WAIT,
    Rig,
    agent_extension,
    open_rig,
    queue_member,
)

pytestmark = pytest.mark.asterisk


@dataclass
class RecordingRig:
    rig: Rig
    settings: Settings
    service: RecordingService
    queued: asyncio.Event
    closed: list[Recording]
    closing: asyncio.Condition


@pytest.fixture
async def recording_rig(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> AsyncIterator[RecordingRig]:
    settings = recording_settings(asterisk_sandbox.settings, tmp_path)
    rig = await open_rig(database, asterisk_sandbox)
    queued = asyncio.Event()
    closed: list[Recording] = []
    closing = asyncio.Condition()

    def on_closed(recording: Recording) -> None:
        closed.append(recording)
        asyncio.get_running_loop().create_task(_notify(closing))

    service = RecordingService(
        settings.asterisk, database, rig.bridge, on_queued=queued.set, on_closed=on_closed
    )
    events = RecordingEvents(rig.bus, service)
    await events.start()
    try:
        await rig.bridge.wait_ready(WAIT)
        yield RecordingRig(rig, settings, service, queued, closed, closing)
    finally:
        await events.stop()
        await rig.stop()


async def _notify(condition: asyncio.Condition) -> None:
    async with condition:
        condition.notify_all()


async def _closed(rig: RecordingRig, linkedid: str) -> Recording:
    """Wait for the service to close the call's recording."""
    async with asyncio.timeout(WAIT), rig.closing:
        await rig.closing.wait_for(lambda: any(r.linkedid == linkedid for r in rig.closed))
    return next(r for r in rig.closed if r.linkedid == linkedid)


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


async def _recordings(database: Database, linkedid: str) -> list[Recording]:
    async with database.session() as session:
        rows = await session.scalars(select(Recording).where(Recording.linkedid == linkedid))
        return list(rows)


def _bridged_seconds(rig: Rig, channel: str) -> float:
    """How long the caller's channel was bridged, from the AMI events."""
    events = [i for i in rig.recorder.items if isinstance(i, AmiEvent) and i.channel == channel]
    enter = next(e for e in events if e.name == "BridgeEnter")
    leave = next(e for e in events if e.name == "BridgeLeave")
    return leave.received_at - enter.received_at


def _similarity(heard: list[str], expected: list[str]) -> float:
    """How alike two recognitions are, letter by letter (word splits vary with the audio)."""
    return difflib.SequenceMatcher(None, "".join(heard), "".join(expected)).ratio()


async def test_queue_call_is_recorded_on_both_sides_processed_and_transcribed(
    recording_rig: RecordingRig, database: Database, tmp_path: Path
) -> None:
    rig, settings = recording_rig.rig, recording_rig.settings
    caller_sound = sandbox_sound(settings, CALLER_TEXT)
    agent_sound = sandbox_sound(settings, AGENT_TEXT)
    async with queue_member(rig.bridge, agent_extension(1)):
        linkedid = await rig.originate_caller(
            "s",
            context=const.CONTEXT_QUEUES,
            exten=QUEUE,
            variables={
                "CALLCENTER_RECORD": "always",
                # The patient speaks once the agent has answered and finished speaking.
                "SIM_DELAY": "9",
                "SIM_PROMPT": caller_sound,
                "SIM_HOLD": "30",
                "__SIM_AGENT_RING": "1",
                "__SIM_AGENT_PROMPT": agent_sound,
                "__SIM_AGENT_TALK": "12",
            },
            caller_id='"Evil/../Name" <2125550142>',
        )
        await rig.ended(linkedid, timeout=60)
    await _closed(recording_rig, linkedid)
    (recording,) = await _recordings(database, linkedid)
    assert recording.status is RecordingStatus.PENDING and recording.policy == "always"
    assert recording.queue == QUEUE and recording.call_id is not None
    # Named by server-side ids only, found through the path mapping.
    for path in (recording.caller_asterisk_path, recording.agent_asterisk_path):
        assert path is not None and Path(path).name.startswith(linkedid)
        assert "Evil" not in path and "2125550142" not in path
        assert local_path(path, settings.asterisk).stat().st_size > 8000
    bridged = _bridged_seconds(rig, recording.channel or "")

    processor = RecordingProcessor(
        settings.recording,
        database,
        pool := pool_for(settings),
        asterisk=settings.asterisk,
        data_dir=settings.data_dir,
    )
    try:
        # Other test sessions share this Asterisk: their recorded calls may be queued too.
        assert await processor.run_backlog() >= 1
    finally:
        pool.shutdown(wait=True)
    async with database.session() as session:
        done = await session.get(Recording, recording.id)
        transcripts = list(
            await session.scalars(select(Transcript).where(Transcript.recording_id == recording.id))
        )
    assert done is not None and done.status is RecordingStatus.PROCESSED, done and done.error
    # MixMonitor's plaintext WAVs went once the verified encrypted copy was committed.
    for raw in (done.asterisk_path, done.caller_asterisk_path, done.agent_asterisk_path):
        assert not local_path(raw or "", settings.asterisk).exists(), raw
    assert done.duration_seconds is not None
    assert abs(done.duration_seconds - bridged) < 0.2, (done.duration_seconds, bridged)
    assert len(done.peaks) > 100 and max(done.peaks) > 0.05

    # Encrypted at rest; decrypted it is a stereo file of the same length.
    audio = Path(done.audio_path or "")
    assert _head(audio, len(MAGIC)) == MAGIC
    cipher = RecordingCipher.from_setting(settings.recording.key.get_secret_value())
    assert cipher is not None
    plain = tmp_path / "plain.mp3"
    plain.write_bytes(b"".join(cipher.decrypt_range(audio)))
    stereo = AudioSegment.from_file(plain)
    assert stereo.channels == 2
    # The decoder sees the same length, give or take the codec's framing (MP3: 72 ms frames).
    assert abs(len(stereo) / 1000 - done.duration_seconds) < 0.2

    # One transcript per speaker, each with the words its side said (same model, same speech).
    by_speaker = {t.speaker: t for t in transcripts}
    assert set(by_speaker) == {"caller", "agent"}
    assert all(t.encrypted and "안" not in t.text for t in transcripts)
    model = load_model(model_dir(settings.recording) or "")
    words = {
        speaker: json.loads(cipher.decrypt_text(t.words[0]["enc"]))
        for speaker, t in by_speaker.items()
    }
    expected = {
        speaker: [
            w["word"]
            for w in transcribe(
                AudioSegment.from_wav(speak(text, tmp_path / f"{speaker}.wav")), model
            )
        ]
        for speaker, text in (("caller", CALLER_TEXT), ("agent", AGENT_TEXT))
    }
    heard = {speaker: [w["word"] for w in words[speaker]] for speaker in words}
    for speaker, other in (("caller", "agent"), ("agent", "caller")):
        same = _similarity(heard[speaker], expected[speaker])
        crossed = _similarity(heard[speaker], expected[other])
        # Each side carries its own speaker's words, not the other's. (espeak-ng Korean through
        # a telephone path is hard to recognise: the bar is "clearly this speaker", measured
        # against the same model on the source audio, not an exact transcript.)
        assert same >= 0.3 and same > 2 * crossed, (speaker, heard, expected, same, crossed)
        assert len(heard[speaker]) >= 4
    # The agent spoke first (on answer), the patient some seconds later.
    assert words["agent"][0]["start"] < 1.5
    assert words["caller"][0]["start"] > 3.0


async def test_on_demand_recording_is_silent_until_the_agent_turns_it_on(
    recording_rig: RecordingRig, database: Database
) -> None:
    rig, service = recording_rig.rig, recording_rig.service
    caller_sound = sandbox_sound(recording_rig.settings, CALLER_TEXT)
    async with queue_member(rig.bridge, agent_extension(1)) as interface:
        linkedid = await rig.originate_caller(
            "s",
            context=const.CONTEXT_QUEUES,
            exten=QUEUE,
            variables={
                "CALLCENTER_RECORD": "on_demand",
                "SIM_DELAY": "4",
                "SIM_PROMPT": caller_sound,
                "SIM_HOLD": "30",
                "__SIM_AGENT_RING": "1",
                "__SIM_AGENT_TALK": "9",
            },
        )
        await rig.recorder.wait_for(CallAnswered, lambda n: n.linkedid == linkedid)
        actor = Actor.user(7, "alice", source="desk")
        before = await service.live_state(linkedid)
        resumed = await service.set_paused(linkedid, paused=False, actor=actor)
        during = await service.live_state(linkedid)
        paused = await service.set_paused(linkedid, paused=True, actor=actor)
        await rig.ended(linkedid, timeout=60)
    assert interface
    assert before is not None and (before.policy, before.paused) == ("on_demand", True)
    assert during is not None and during.paused is False
    await _closed(recording_rig, linkedid)
    assert await service.live_state(linkedid) is None  # the call is over
    with pytest.raises(NotRecording):
        await service.set_paused(linkedid, paused=False, actor=actor)
    (recording,) = await _recordings(database, linkedid)
    assert recording.id == resumed.id == paused.id
    assert recording.status is RecordingStatus.PENDING
    marks = [(p["paused"], p["reason"]) for p in recording.pauses]
    assert marks == [(True, "on_demand"), (False, "agent"), (True, "agent")]
    async with database.session() as session:
        audits = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "recording", AuditEvent.entity_id == str(recording.id))
                .order_by(AuditEvent.id)
            )
        )
    assert [a.detail["paused"] for a in audits] == [False, True]
    assert {a.actor for a in audits} == {"user:alice"}


async def test_on_demand_recording_never_turned_on_is_discarded(
    recording_rig: RecordingRig, database: Database
) -> None:
    rig = recording_rig.rig
    async with queue_member(rig.bridge, agent_extension(1)):
        linkedid = await rig.originate_caller(
            "s",
            context=const.CONTEXT_QUEUES,
            exten=QUEUE,
            variables={
                "CALLCENTER_RECORD": "on_demand",
                "SIM_HOLD": "30",
                "__SIM_AGENT_RING": "1",
                "__SIM_AGENT_TALK": "2",
            },
        )
        await rig.ended(linkedid, timeout=60)

    await _closed(recording_rig, linkedid)
    (recording,) = await _recordings(database, linkedid)
    assert recording.status is RecordingStatus.DELETED
    assert recording.error == "on-demand recording was never turned on"
    assert not local_path(
        recording.caller_asterisk_path or "", recording_rig.settings.asterisk
    ).exists()
    async with database.session() as session:
        jobs = await session.scalars(
            select(RecordingJob).where(RecordingJob.recording_id == recording.id)
        )
        assert list(jobs) == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_supervisor_whispers_to_a_live_call_through_chanspy(
    recording_rig: RecordingRig,
) -> None:
    rig = recording_rig.rig
    # The supervisor's "phone" is a simulated agent phone that picks up after a second.
    recording = recording_rig.settings.recording.model_copy(
        update={"supervisor_dial": f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}"}
    )
    async with queue_member(rig.bridge, agent_extension(1)) as interface:
        linkedid = await rig.originate_caller(
            "s",
            context=const.CONTEXT_QUEUES,
            exten=QUEUE,
            variables={"SIM_HOLD": "30", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "8"},
        )
        await rig.recorder.wait_for(CallAnswered, lambda n: n.linkedid == linkedid)
        (connect,) = await rig.recorder.wait_for(
            AmiEvent, lambda e: e.name == "AgentConnect" and e.linkedid == linkedid
        )
        # The agent's own channel in this call, as the call tracker keeps it: ChanSpy gets
        # that one full name (option u), not the member interface as a name prefix.
        agent_channel = connect.get("DestChannel")
        assert agent_channel.startswith(interface) and agent_channel != interface
        await start_monitor(
            rig.bridge,
            recording,
            supervisor_extension=agent_extension(1),
            channel=agent_channel,
            mode=MonitorMode.WHISPER,
            linkedid=linkedid,
        )
        (spy,) = await rig.recorder.wait_for(
            AmiEvent,
            lambda e: e.name == "ChanSpyStart" and e.get("SpyeeChannel").startswith(interface),
        )
        await rig.ended(linkedid, timeout=60)
    assert spy.get("SpyeeChannel") == agent_channel
    assert spy.get("SpyerChannel").startswith("Local/1")
    with pytest.raises(ValidationFailed, match="extension"):
        await start_monitor(
            rig.bridge,
            recording,
            supervisor_extension="1,x",
            channel=agent_channel,
            mode=MonitorMode.LISTEN,
            linkedid=linkedid,
        )


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_transferred_call_stays_one_recording(
    recording_rig: RecordingRig, database: Database
) -> None:
    rig = recording_rig.rig
    other_queue = next(q.name for q in const.QUEUES if q.name != QUEUE)
    second = f"Local/{agent_extension(1)}@{const.CONTEXT_SIM_AGENTS}"
    await rig.bridge.send_action(
        {"Action": "QueueAdd", "Queue": other_queue, "Interface": second, "MemberName": "B"}
    )
    try:
        async with queue_member(rig.bridge, agent_extension(1)):
            linkedid = await rig.originate_caller(
                "s",
                context=const.CONTEXT_QUEUES,
                exten=QUEUE,
                variables={
                    "CALLCENTER_RECORD": "always",
                    "SIM_HOLD": "40",
                    "__SIM_AGENT_RING": "1",
                    "__SIM_AGENT_TALK": "4",
                },
            )
            await rig.recorder.wait_for(
                AmiEvent, lambda e: e.name == "AgentConnect" and e.linkedid == linkedid
            )
            (started,) = await rig.recorder.wait_for(
                AmiEvent,
                lambda e: e.linkedid == linkedid and e.get("UserEvent") == "CallcenterRecording",
            )
            # The caller is sent on to the other queue (a transfer by Redirect, as a CTI
            # "transfer to queue" button does); the first agent's leg hangs up.
            await rig.bridge.send_action(
                {
                    "Action": "Redirect",
                    "Channel": started.channel,
                    "Context": const.CONTEXT_QUEUES,
                    "Exten": other_queue,
                    "Priority": "1",
                }
            )
            await rig.recorder.wait_for(
                AmiEvent,
                lambda e: (
                    e.name == "AgentConnect"
                    and e.linkedid == linkedid
                    and e.get("Queue") == other_queue
                ),
                timeout=40,
            )
            await rig.ended(linkedid, timeout=60)
    finally:
        await rig.bridge.send_action(
            {"Action": "QueueRemove", "Queue": other_queue, "Interface": second}
        )
    recording = await _closed(recording_rig, linkedid)
    assert recording.status is RecordingStatus.PENDING
    started = rig.recorder.of(
        AmiEvent,
        lambda e: e.linkedid == linkedid and e.get("UserEvent") == "CallcenterRecording",
    )
    assert len(started) == 1  # the second queue did not start a second recording
    assert len(await _recordings(database, linkedid)) == 1
    # Both conversations are in the one recording (two bridges of the caller's channel).
    bridged = [
        e
        for e in rig.recorder.of(AmiEvent, lambda e: e.channel == recording.channel)
        if e.name in ("BridgeEnter", "BridgeLeave")
    ]
    spans = list(zip(bridged[::2], bridged[1::2], strict=True))
    assert len(spans) >= 2
    total = sum(leave.received_at - enter.received_at for enter, leave in spans)
    caller_file = local_path(recording.caller_asterisk_path or "", recording_rig.settings.asterisk)
    seconds = AudioSegment.from_wav(caller_file).duration_seconds
    assert abs(seconds - total) < 0.3, (seconds, total)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("variables", "policy"),
    [
        ({}, None),  # the rendered default: never
        # The IVR's consent answers: yes lets the site's policy decide, no is never recorded.
        ({"CALLCENTER_RECORD": "yes"}, None),  # the rendered default: never
        ({"CALLCENTER_RECORD": "yes", "CALLCENTER_RECORD_POLICY_QUEUE": "on_demand"}, "on_demand"),
        ({"CALLCENTER_RECORD": "no", "CALLCENTER_RECORD_POLICY_QUEUE": "always"}, None),
        ({"CALLCENTER_RECORD_POLICY_QUEUE": "on_demand"}, "on_demand"),  # the queue's policy
        ({"CALLCENTER_RECORD_SCOPE": "inbound", "CALLCENTER_RECORD_INBOUND": "always"}, "always"),
        ({"CALLCENTER_RECORD_INBOUND": "always"}, None),  # not an inbound (IVR) call
    ],
)
async def test_the_dialplan_picks_the_recording_policy(
    recording_rig: RecordingRig, variables: dict[str, str], policy: str | None
) -> None:
    """The policy globals are shadowed per call by channel variables of the same name."""
    rig = recording_rig.rig
    named = {k.replace("_QUEUE", f"_{QUEUE}"): v for k, v in variables.items()}
    # Nobody is in the queue: the caller passes callcenter-record, cannot join, and hangs up.
    linkedid = await rig.originate_caller(
        "s",
        context=const.CONTEXT_QUEUES,
        exten=QUEUE,
        variables={"SIM_HOLD": "1", "CALLCENTER_RECORD_ANNOUNCE": "", **named},
    )
    await rig.ended(linkedid, timeout=30)
    started = rig.recorder.of(
        AmiEvent,
        lambda e: e.linkedid == linkedid and e.get("UserEvent") == "CallcenterRecording",
    )
    assert [e.get("Policy") for e in started] == ([policy] if policy else [])
