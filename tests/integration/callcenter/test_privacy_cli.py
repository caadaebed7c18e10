"""``callcenter patient export|erase`` on a real SQLite database, transcripts really encrypted."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from callcenter.cli import cli
from callcenter.recording.crypto import RecordingCipher, generate_key
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import AuditAction, AuditEvent, Patient, Recording
from hcrm_core.policy import BookingPolicy
from tests.support.factories import make_hospital
from tests.support.privacy import SPOKEN, History, hold, make_history


@pytest.fixture
async def world(tmp_path: Path, policy: BookingPolicy) -> tuple[dict[str, str], History, Path]:
    key = generate_key()
    cipher = RecordingCipher.from_setting(key)
    assert cipher is not None
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"
    await upgrade_async(url)
    database = Database(url)
    try:
        hospital = await make_hospital(database, policy, days=7)
        history = await make_history(
            database, policy, hospital.cardiology.id, encrypt=cipher.encrypt_text
        )
    finally:
        await database.dispose()
    env = {
        "CALLCENTER_DATA_DIR": str(tmp_path),
        "CALLCENTER_DATABASE__URL": url,
        "CALLCENTER_RECORDING__KEY": key,
        "CALLCENTER_AMI__SECRET": "x",
        "CALLCENTER_WEB__SESSION_SECRET": "x",
    }
    return env, history, tmp_path


async def _invoke(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_export_writes_a_private_bundle_with_transcripts_opened(world):
    env, history, tmp_path = world
    out = tmp_path / "export.json"

    result = await _invoke(env, "patient", "export", str(history.patient_id), "--out", str(out))

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bundle = json.loads(out.read_text())
    assert bundle["transcripts"][0]["text"] == SPOKEN
    again = await _invoke(env, "patient", "export", str(history.patient_id), "--out", str(out))
    assert again.exit_code == 1 and "exists" in again.output
    missing = await _invoke(env, "patient", "export", "999999", "--out", str(tmp_path / "x"))
    assert missing.exit_code == 1 and "999999" in missing.output


async def test_erase_is_refused_under_a_hold_then_done(world):
    env, history, _tmp_path = world
    database = Database(env["CALLCENTER_DATABASE__URL"])
    try:
        await hold(database, history.recording_id)
        refused = await _invoke(env, "patient", "erase", str(history.patient_id), "--yes")
        assert refused.exit_code == 1 and "legal hold" in refused.output
        async with database.transaction() as session:
            held = await session.get(Recording, history.recording_id)
            assert held is not None
            held.legal_hold = False
        done = await _invoke(env, "patient", "erase", str(history.patient_id), "--yes")
        assert done.exit_code == 0, done.output
        async with database.session() as session:
            patient = await session.get(Patient, history.patient_id)
            assert patient is not None and patient.family_name == "[erased]"
            actors = set(
                await session.scalars(
                    select(AuditEvent.actor).where(AuditEvent.action == AuditAction.DELETE)
                )
            )
        assert actors == {"cli"}
    finally:
        await database.dispose()
