"""Supervisor review in the console: who may see what, auditing, streaming, QA scorecards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import AuditAction, AuditEvent, RecordingReview
from tests.support.console import csrf_from, login
from tests.support.recording_world import RecordingWorld, start_recording_world
from web_console.app import create_app


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[RecordingWorld]:
    world = await start_recording_world(tmp_path, database.url)
    yield world
    await world.server.stop()


async def _client(world: RecordingWorld, aiohttp_client: Any, username: str) -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, username)).status == 302
    return client


async def _audits(world: RecordingWorld, **where: Any) -> list[AuditEvent]:
    async with world.server.database.session() as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(await session.scalars(query))


async def test_agent_sees_and_plays_only_her_own_recordings(world, aiohttp_client):
    alice = await _client(world, aiohttp_client, "alice")
    listing = await (await alice.get("/recordings")).text()
    assert f'data-recording="{world.alices}"' in listing
    assert f'data-recording="{world.bobs}"' not in listing
    for path in ("", "/audio", "/download"):
        response = await alice.get(f"/recordings/{world.bobs}{path}")
        assert response.status == 404, path
    played = await alice.get(f"/recordings/{world.alices}/audio")
    assert played.status == 200 and played.headers["Content-Type"] == "audio/mpeg"
    assert await played.read() == world.audio  # decrypted while streaming
    plays = await _audits(world, action=AuditAction.PLAY, entity_id=str(world.alices))
    assert [a.actor for a in plays] == ["user:alice"]
    # Refused requests show nothing and leave no play row for bob's recording.
    assert await _audits(world, action=AuditAction.PLAY, entity_id=str(world.bobs)) == []


async def test_supervisor_sees_all_and_every_view_play_and_download_is_audited(
    world, aiohttp_client
):
    sam = await _client(world, aiohttp_client, "sam")
    listing = await (await sam.get("/recordings")).text()
    assert f'data-recording="{world.alices}"' in listing
    assert f'data-recording="{world.bobs}"' in listing
    page = await (await sam.get(f"/recordings/{world.bobs}")).text()
    assert 'data-start="1.0"' in page and ">appointment</span>" in page  # decrypted words
    assert 'id="scorecard"' in page
    ranged = await sam.get(f"/recordings/{world.bobs}/audio", headers={"Range": "bytes=10-99"})
    assert ranged.status == 206
    assert ranged.headers["Content-Range"] == f"bytes 10-99/{len(world.audio)}"
    assert await ranged.read() == world.audio[10:100]
    download = await sam.get(f"/recordings/{world.bobs}/download")
    assert download.status == 200 and "attachment" in download.headers["Content-Disposition"]
    assert await download.read() == world.audio
    rows = await _audits(world, actor="user:sam")
    kinds = [(a.action, a.entity) for a in rows if a.entity_id == str(world.bobs)]
    assert kinds == [
        (AuditAction.VIEW, "recording_transcript"),
        (AuditAction.PLAY, "recording"),
        (AuditAction.EXPORT, "recording"),
    ]


async def test_transcript_search_and_filters(world, aiohttp_client):
    sam = await _client(world, aiohttp_client, "sam")
    found = await (await sam.get("/recordings", params={"q": "cardiology"})).text()
    assert f'data-recording="{world.alices}"' in found
    none = await (await sam.get("/recordings", params={"q": "dermatology"})).text()
    assert 'id="no-recordings"' in none
    by_agent = await (await sam.get("/recordings", params={"agent": str(world.bob_id)})).text()
    assert f'data-recording="{world.bobs}"' in by_agent
    assert f'data-recording="{world.alices}"' not in by_agent
    long_only = await (await sam.get("/recordings", params={"min": "10"})).text()
    assert 'id="no-recordings"' in long_only


@pytest.mark.parametrize(
    ("params", "field"),
    [({"min": "abc"}, "min"), ({"from": "23/11/2026"}, "from"), ({"agnet": "1"}, "agnet")],
)
async def test_bad_filters_are_refused_naming_the_field(world, aiohttp_client, params, field):
    sam = await _client(world, aiohttp_client, "sam")
    response = await sam.get("/recordings", params=params)
    assert response.status == 422
    assert field in await response.text()


async def test_qa_scorecard_is_saved_validated_and_needs_csrf(world, aiohttp_client):
    sam = await _client(world, aiohttp_client, "sam")
    page = await (await sam.get(f"/recordings/{world.alices}")).text()
    token = csrf_from(page)
    form = {"csrf_token": token, "notes": "polite <b>and</b> quick"}
    form |= {f"score_{i}": str(i + 1) for i in range(4)}
    saved = await sam.post(f"/recordings/{world.alices}/review", data=form, allow_redirects=False)
    assert saved.status == 303
    again = await sam.post(
        f"/recordings/{world.alices}/review", data={**form, "score_0": "5"}, allow_redirects=False
    )
    assert again.status == 303
    async with world.server.database.session() as session:
        (review,) = (await session.scalars(select(RecordingReview))).all()
    assert review.scores == {"Greeting": 5, "Identity checked": 2, "Resolution": 3, "Courtesy": 4}
    shown = await (await sam.get(f"/recordings/{world.alices}")).text()
    assert "polite &lt;b&gt;and&lt;/b&gt; quick" in shown
    bad = await sam.post(f"/recordings/{world.alices}/review", data={**form, "score_2": "9"})
    assert bad.status == 422 and "score_2" in await bad.text()
    no_csrf = {k: v for k, v in form.items() if k != "csrf_token"}
    assert (await sam.post(f"/recordings/{world.alices}/review", data=no_csrf)).status == 403
    alice = await _client(world, aiohttp_client, "alice")
    alice_token = csrf_from(await (await alice.get(f"/recordings/{world.alices}")).text())
    refused = await alice.post(
        f"/recordings/{world.alices}/review", data={**form, "csrf_token": alice_token}
    )
    assert refused.status == 403


async def test_agents_see_no_recordings_when_configured(database, tmp_path, aiohttp_client):
    world = await start_recording_world(tmp_path, database.url, agent_access="none")
    try:
        alice = await _client(world, aiohttp_client, "alice")
        assert (await alice.get(f"/recordings/{world.alices}/audio")).status == 404
        assert (
            f'data-recording="{world.alices}"' not in await (await alice.get("/recordings")).text()
        )
    finally:
        await world.server.stop()


async def test_live_monitoring_is_for_supervisors_and_checks_its_fields(world, aiohttp_client):
    sam = await _client(world, aiohttp_client, "sam")
    token = csrf_from(await (await sam.get("/recordings")).text())
    url = "/api/v1/recordings/monitor"
    bad_mode = await sam.post(url, data={"csrf_token": token, "linkedid": "x", "mode": "shout"})
    assert bad_mode.status == 422 and (await bad_mode.json())["field"] == "mode"
    no_call = await sam.post(url, data={"csrf_token": token, "linkedid": "nope", "mode": "listen"})
    assert no_call.status == 422 and (await no_call.json())["field"] == "linkedid"
    alice = await _client(world, aiohttp_client, "alice")
    alice_token = csrf_from(await (await alice.get("/recordings")).text())
    refused = await alice.post(
        url, data={"csrf_token": alice_token, "linkedid": "x", "mode": "listen"}
    )
    assert refused.status == 403


async def test_monitoring_is_in_the_openapi_document(world, aiohttp_client):
    sam = await _client(world, aiohttp_client, "sam")
    document = await (await sam.get("/api/v1/openapi.json")).json()
    assert "post" in document["paths"]["/api/v1/recordings/monitor"]


async def test_someone_else_s_recording_is_a_404_like_a_missing_one_and_audited(
    world, aiohttp_client
):
    alice = await _client(world, aiohttp_client, "alice")
    for path in ("", "/audio", "/download"):
        refused = await alice.get(f"/recordings/{world.bobs}{path}")
        missing = await alice.get(f"/recordings/999999{path}")
        assert refused.status == missing.status == 404, path
        assert await refused.text() == await missing.text()  # nothing tells them apart
    denied = await _audits(world, actor="user:alice", entity_id=str(world.bobs))
    assert len(denied) == 3
    assert all(
        a.action is AuditAction.VIEW and a.detail == {"denied": "not_visible"} for a in denied
    )


async def test_every_list_and_search_is_audited_without_the_search_words(world, aiohttp_client):
    sam = await _client(world, aiohttp_client, "sam")
    await sam.get("/recordings")
    await sam.get("/recordings", params={"q": "Cardiology", "queue": "appointments"})
    await sam.get("/recordings", params={"q": "cardiology!"})
    rows = await _audits(world, entity="recording_list")
    assert [(a.actor, a.action, a.detail["results"]) for a in rows] == [
        ("user:sam", AuditAction.VIEW, 2),
        ("user:sam", AuditAction.VIEW, 2),
        ("user:sam", AuditAction.VIEW, 2),
    ]
    assert rows[0].detail["filters"] == [] and "q_hmac" not in rows[0].detail
    assert rows[1].detail["filters"] == ["queue", "q"]
    # The same words hash the same (comparable), and the words themselves are nowhere.
    assert rows[1].detail["q_hmac"] == rows[2].detail["q_hmac"]
    assert all("cardiology" not in str(a.detail).lower() for a in rows)


async def test_search_finds_encrypted_transcripts_through_the_index_and_decrypts_only_them(
    world, aiohttp_client, monkeypatch
):
    from callcenter.recording.crypto import RecordingCipher
    from tests.support.recording_world import add_processed_recording

    key = world.server.settings.recording.key.get_secret_value()
    cipher = RecordingCipher.from_setting(key)
    assert cipher is not None
    # Twenty more recordings whose words are not searched for: never decrypted.
    for n in range(20):
        await add_processed_recording(world.server, f"other-{n}", world.bob_id, None, cipher)
    opened: list[str] = []
    real = RecordingCipher.decrypt_text
    monkeypatch.setattr(
        RecordingCipher, "decrypt_text", lambda self, t: opened.append(t) or real(self, t)
    )
    sam = await _client(world, aiohttp_client, "sam")
    page = await (await sam.get("/recordings", params={"q": "hello appointment"})).text()
    assert page.count("data-recording=") == 22
    assert "hello appointment" in page  # the snippet
    opened.clear()
    one = await (await sam.get("/recordings", params={"q": "cardiology", "limit": "1"})).text()
    assert one.count("data-recording=") == 1 and len(opened) == 1
    opened.clear()
    none = await (await sam.get("/recordings", params={"q": "dermatology"})).text()
    assert 'id="no-recordings"' in none and opened == []  # no candidate, nothing decrypted
    # Words in the wrong order are no phrase: candidates are decrypted, then dropped.
    swapped = await (await sam.get("/recordings", params={"q": "appointment hello"})).text()
    assert 'id="no-recordings"' in swapped


async def test_only_admins_set_or_lift_a_legal_hold_and_every_attempt_is_audited(
    world, aiohttp_client
):
    from hcrm_core.models import Recording

    sam = await _client(world, aiohttp_client, "sam")
    page = await (await sam.get(f"/recordings/{world.alices}")).text()
    assert 'id="legal-hold"' not in page
    refused = await sam.post(
        f"/recordings/{world.alices}/hold",
        data={"csrf_token": csrf_from(page), "hold": "on"},
        headers={"Accept": "application/json"},
    )
    assert refused.status == 403
    assert "only an administrator" in await refused.text()
    ada = await _client(world, aiohttp_client, "ada")
    page = await (await ada.get(f"/recordings/{world.alices}")).text()
    assert 'id="legal-hold"' in page
    for hold in ("on", "off", "on"):
        token = csrf_from(await (await ada.get(f"/recordings/{world.alices}")).text())
        done = await ada.post(
            f"/recordings/{world.alices}/hold",
            data={"csrf_token": token, "hold": hold},
            allow_redirects=False,
        )
        assert done.status == 303
    async with world.server.database.session() as session:
        recording = await session.get(Recording, world.alices)
    assert recording is not None and recording.legal_hold
    rows = await _audits(world, entity="recording_legal_hold")
    assert [(a.actor, a.detail) for a in rows] == [
        ("user:sam", {"legal_hold": True, "was": False, "denied": "admin_only"}),
        ("user:ada", {"legal_hold": True, "was": False}),
        ("user:ada", {"legal_hold": False, "was": True}),
        ("user:ada", {"legal_hold": True, "was": False}),
    ]
