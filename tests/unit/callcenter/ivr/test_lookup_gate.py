"""The caller-ID lookup gate: a burst of calls looks up a few at a time, each gets its answer.

Why it exists: benchmarks/README.md (``ivr_load.py``). The lookup itself runs against real
databases in tests/integration/hcrm_core/test_patients.py and through Asterisk in
tests/integration/ivr/.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import cast

import pytest

from callcenter.ivr.flows.identify import caller_id_matches
from callcenter.ivr.flows.main_menu import CALLER_ID_LOOKUPS, IvrServices
from hcrm_core.models import Patient
from hcrm_core.services.patients import PatientService
from tests.unit.callcenter.agi.test_dialog import FakeAgi, make_ivr


class SlowPatients:
    """Counts lookups in flight; each waits until released."""

    def __init__(self, full_at: int = CALLER_ID_LOOKUPS) -> None:
        self.running = 0
        self.most = 0
        self.release = asyncio.Event()
        self.full = asyncio.Event()
        self._full_at = full_at

    async def find_by_phone(self, raw: str) -> list[Patient]:
        self.running += 1
        self.most = max(self.most, self.running)
        if self.running >= self._full_at:
            self.full.set()
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        return [Patient(id=int(raw), mrn=f"MRN{raw}", date_of_birth=date(1961, 4, 2))]


def _caller(number: str) -> FakeAgi:
    agi = FakeAgi([])
    agi.env.caller_id = number
    return agi


async def test_a_burst_of_calls_looks_up_a_few_at_a_time() -> None:
    patients = SlowPatients()
    services = IvrServices(cast(PatientService, patients), None, None)  # type: ignore[arg-type]
    numbers = [str(n) for n in range(1, 21)]
    lookups = [
        asyncio.create_task(
            caller_id_matches(
                make_ivr(_caller(n))[0], cast(PatientService, patients), services.lookups
            )
        )
        for n in numbers
    ]
    async with asyncio.timeout(5):
        await patients.full.wait()
    for _ in range(10):  # loop turns for any task that could pass the gate (none may)
        await asyncio.sleep(0)
    assert patients.running == CALLER_ID_LOOKUPS
    patients.release.set()
    async with asyncio.timeout(5):
        found = await asyncio.gather(*lookups)
    assert patients.most == CALLER_ID_LOOKUPS
    assert [[p.id for p in matches] for matches in found] == [[int(n)] for n in numbers]


async def test_a_withheld_caller_id_is_not_looked_up() -> None:
    patients = SlowPatients()
    ivr, _ = make_ivr(_caller("  "))
    assert await caller_id_matches(ivr, cast(PatientService, patients), asyncio.Semaphore(1)) == []
    assert patients.most == 0


async def test_a_failed_lookup_frees_its_place() -> None:
    class Failing:
        async def find_by_phone(self, raw: str) -> list[Patient]:
            raise RuntimeError("database gone")

    gate = asyncio.Semaphore(1)
    ivr, _ = make_ivr(_caller("2125550142"))
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await caller_id_matches(ivr, cast(PatientService, Failing()), gate)
    assert not gate.locked()
