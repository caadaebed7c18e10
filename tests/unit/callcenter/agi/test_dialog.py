"""Dialog helpers against a scripted fake channel: repeat, agent key, retries, paging.

The same behaviour is exercised on calls through the real Asterisk in
tests/integration/callcenter/ivr/test_ivr_asterisk.py; these cover each rule on its own, quickly.
"""

from __future__ import annotations

from collections import deque
from datetime import date
from types import SimpleNamespace
from typing import cast

import pytest

from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.dialog import Ivr
from callcenter.agi.errors import SoundMissing
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.flows.identify import identify, parse_dob, parse_mrn
from hcrm_core.errors import PatientNotFound
from hcrm_core.models import Patient
from hcrm_core.services.patients import PatientService


class FakeAgi:
    """Plays nothing; answers GET DATA from ``keys`` (None = silence) and lets lead segments
    be interrupted by ``interrupt`` keys."""

    def __init__(self, keys: list[str | None], interrupt: list[str | None] | None = None) -> None:
        self.keys = deque(keys)
        self.interrupt = deque(interrupt or [])
        self.played: list[str] = []
        self.asked: list[str] = []
        self.env = SimpleNamespace(caller_id="2125550142")

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        if prompt.startswith("callcenter/doctor-") and prompt[-1].isdigit():
            raise SoundMissing(prompt)  # a doctor added since the last `prompts build`
        self.played.append(prompt)
        return self.interrupt.popleft() if escape_digits and self.interrupt else None

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        self.played.append(f"digits:{digits}")
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        self.asked.append(prompt)
        return self.keys.popleft()


class Published:
    def __init__(self) -> None:
        self.items: list[object] = []

    def publish(self, item: object) -> None:
        self.items.append(item)


def make_ivr(agi: FakeAgi) -> tuple[Ivr, Published]:
    bus = Published()
    call = CallContext("1700000000.1", cast(EventBus, bus))
    return Ivr(cast(AgiChannel, agi), call), bus


OPTIONS = {"1": "book", "2": "review"}


async def test_star_repeats_and_a_wrong_key_reprompts() -> None:
    agi = FakeAgi(["*", "7", "2"])
    ivr, _ = make_ivr(agi)
    assert await ivr.menu(prompts.MAIN_MENU, OPTIONS, step="main-menu") == "review"
    assert agi.asked == [prompts.MAIN_MENU] * 3
    assert prompts.INVALID in agi.played
    assert ivr.call.failures == {"main-menu": 1}  # "*" is not a failure


async def test_three_failures_hand_the_caller_to_an_agent() -> None:
    agi = FakeAgi(["7", None, "8"])
    ivr, _ = make_ivr(agi)
    with pytest.raises(ToAgent) as raised:
        await ivr.menu(prompts.MAIN_MENU, OPTIONS, step="main-menu")
    assert (raised.value.reason, raised.value.step) == ("too many failures", "main-menu")
    assert agi.played[-1] == prompts.TOO_MANY_TRIES


async def test_zero_asks_for_an_agent_everywhere() -> None:
    ivr, _ = make_ivr(FakeAgi(["0"]))
    with pytest.raises(ToAgent) as raised:
        await ivr.ask(prompts.ASK_DOB, parse_dob, step="identify-dob", max_digits=8)
    assert raised.value.reason == "caller asked for an agent"


async def test_a_key_during_a_lead_segment_chooses_at_once() -> None:
    agi = FakeAgi([], interrupt=["2"])
    ivr, _ = make_ivr(agi)
    segments = [prompts.DEPARTMENTS_INTRO, prompts.FOR, prompts.PRESS[1]]
    assert await ivr.menu(segments, OPTIONS, step="x") == "review"
    assert agi.asked == []


async def test_data_menus_page_by_eight() -> None:
    items = [f"d{n}" for n in range(10)]
    agi = FakeAgi(["9", "2"])
    ivr, _ = make_ivr(agi)
    chosen = await ivr.choose(prompts.DEPARTMENTS_INTRO, items, lambda i: i, step="dept")
    assert chosen == "d9"
    first_page = agi.played[: agi.played.index(prompts.PRESS[8]) + 1]
    assert [p for p in first_page if p.startswith("d")] == [f"d{n}" for n in range(8)]
    assert agi.asked == [prompts.MORE_CHOICES, prompts.MORE_CHOICES]


async def test_a_missing_name_prompt_is_skipped_not_fatal() -> None:
    agi = FakeAgi(["1"])
    ivr, _ = make_ivr(agi)
    chosen = await ivr.choose(
        prompts.DOCTOR_MENU_INTRO, [7], lambda d: prompts.doctor_prompt(d), step="doctor"
    )
    assert chosen == 7
    assert agi.played == [prompts.DOCTOR_MENU_INTRO, prompts.FOR]
    assert agi.asked == [prompts.PRESS[1]]


def test_leaving_publishes_what_the_agent_needs() -> None:
    bus = Published()
    call = CallContext("1700000000.1", cast(EventBus, bus))
    call.tried_to("book")
    call.failed("book-slots")
    call.identified(42, "caller-id")
    call.leave("to-agent", failed_at="book-slots")
    last = bus.items[-1]
    assert isinstance(last, IvrProgress) and last.left and last.patient_id == 42
    assert last.context == {
        "tried": ["book"],
        "failures": {"book-slots": 1},
        "failed_at": "book-slots",
    }


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("02041961", date(1961, 4, 2)),
        ("31022000", None),
        ("0204196", None),
        ("1961040*", None),
    ],
)
def test_parse_dob_ddmmyyyy(keys: str, expected: date | None) -> None:
    assert parse_dob(keys) == expected


def test_parse_mrn_keeps_digits_only() -> None:
    assert parse_mrn("100000") == "100000"
    assert parse_mrn("12") is None
    assert parse_mrn("12*4") is None


class FakePatients:
    def __init__(self, by_phone: list[Patient], by_mrn: dict[str, Patient]) -> None:
        self.by_phone = by_phone
        self.by_mrn = by_mrn

    async def find_by_phone(self, raw: str) -> list[Patient]:
        return self.by_phone

    async def get_by_mrn(self, mrn: str) -> Patient:
        if mrn not in self.by_mrn:
            raise PatientNotFound(mrn)
        return self.by_mrn[mrn]


def _patient(patient_id: int) -> Patient:
    return Patient(
        id=patient_id, mrn=f"MRN{patient_id}", date_of_birth=date(1961, 4, 2), active=True
    )


async def test_several_caller_id_matches_ask_for_the_record_number() -> None:
    grace = _patient(100001)
    patients = FakePatients([grace, _patient(7)], {"MRN100001": grace})
    agi = FakeAgi(["100001", "02041961"])
    ivr, _ = make_ivr(agi)
    found = await identify(ivr, cast(PatientService, patients))
    assert found is grace and ivr.call.patient_id == 100001
    assert agi.asked == [prompts.ASK_MRN, prompts.ASK_DOB]


async def test_unidentified_caller_goes_to_an_agent_after_two_tries() -> None:
    grace = _patient(100001)
    patients = FakePatients([], {"MRN100001": grace})
    agi = FakeAgi(["100001", "01011990", "999999", "02041961"])
    ivr, _ = make_ivr(agi)
    with pytest.raises(ToAgent) as raised:
        await identify(ivr, cast(PatientService, patients))
    assert raised.value.reason == "caller not identified"
    assert ivr.call.failures == {"identify-mrn": 2} and ivr.call.patient_id is None
