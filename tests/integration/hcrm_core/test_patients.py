"""Patient registration, lookup by phone in any format, and search."""

from __future__ import annotations

from datetime import date

import pytest

from hcrm_core.actors import Actor
from hcrm_core.errors import DuplicateRecord, PatientNotFound, ValidationFailed
from hcrm_core.services.patients import NewPatient, NewPhone, PatientService
from tests.support.factories import make_patient


async def test_lookup_finds_the_patient_whatever_format_was_stored_or_presented(database, policy):
    stored = await make_patient(database, policy, phones=("(617) 555-0199",))
    service = PatientService(database, policy)
    for presented in [
        "6175550199",
        "+16175550199",
        "1-617-555-0199",
        "001 617 555 0199",
        "617.555.0199",
    ]:
        found = await service.find_by_phone(presented)
        assert [p.id for p in found] == [stored.id], presented
    assert stored.phones[0].raw == "(617) 555-0199"
    assert stored.phones[0].e164 == "+16175550199"


async def test_shared_number_returns_every_patient(database, policy):
    mother = await make_patient(database, policy, phones=("+1 312 555 0100",), given_name="Ann")
    child = await make_patient(
        database, policy, phones=("312-555-0100", "312-555-0101"), given_name="Tim"
    )
    found = await PatientService(database, policy).find_by_phone("3125550100")
    assert sorted(p.id for p in found) == sorted([mother.id, child.id])


async def test_unknown_and_garbage_numbers_find_nobody(database, policy):
    await make_patient(database, policy, phones=("212 555 0111",))
    service = PatientService(database, policy)
    assert await service.find_by_phone("212 555 0112") == []
    assert await service.find_by_phone('"\r\nAction: Originate') == []
    assert await service.find_by_phone("") == []


async def test_search_by_name_record_number_and_phone(database, policy):
    wang = await make_patient(
        database,
        policy,
        given_name="秀英",
        family_name="王",
        phones=("+86 138 0000 1111",),
        mrn="MRN424242",
    )
    smith = await make_patient(
        database, policy, given_name="Mary", family_name="O'Smith", phones=("(415) 555-0123",)
    )
    service = PatientService(database, policy)
    assert [p.id for p in await service.search("王秀英")] == [wang.id]
    assert [p.id for p in await service.search("mrn424242")] == [wang.id]
    assert [p.id for p in await service.search("o'smith")] == [smith.id]
    assert [p.id for p in await service.search("smith mary")] == [smith.id]
    assert [p.id for p in await service.search("415-555-0123")] == [smith.id]
    # LIKE wildcards in the query are literal, not patterns.
    assert await service.search("%") == []
    with pytest.raises(ValidationFailed, match="query"):
        await service.search("   ")


async def test_registration_validates_and_names_the_bad_field(database, policy):
    service = PatientService(database, policy)

    def new(**kw) -> NewPatient:
        base = dict(
            mrn="MRN900001",
            given_name="Li",
            family_name="Wei",
            date_of_birth=date(1980, 1, 1),
            phones=[NewPhone("212 555 0100")],
        )
        base.update(kw)
        return NewPatient(**base)

    cases = {
        "mrn": new(mrn="no spaces allowed"),
        "date_of_birth": new(date_of_birth=date(2999, 1, 1)),
        "phones[0]": new(phones=[NewPhone("not a number")]),
        "email": new(email="nobody"),
        "preferred_language": new(preferred_language="English!"),
        "name": new(given_name=" ", family_name=""),
    }
    for field, bad in cases.items():
        with pytest.raises(ValidationFailed) as caught:
            await service.create(bad, Actor.system(), date(2026, 11, 23))
        assert caught.value.field == field
    created = await service.create(new(), Actor.system(), date(2026, 11, 23))
    with pytest.raises(DuplicateRecord, match="MRN900001"):
        await service.create(new(), Actor.system(), date(2026, 11, 23))
    assert (await service.get_by_mrn("mrn900001")).id == created.id
    with pytest.raises(PatientNotFound):
        await service.get(987654)
