"""Simulated patients for ``callcenter demo``: a gentle stream of calls into the sandbox IVR.

Each caller is an AMI ``Originate`` of ``Local/s@sim-patient`` into ``hospital-inbound`` (the
``;1`` half runs the real IVR, the ``;2`` half is the patient; see extensions_simulation.conf).
The patient presses keys exactly when the IVR waits for them: this module's AMI session is the
sandbox-only ``sim-driver`` user, which sees ``AGIExecStart``; on each ``GET DATA`` of one of
its calls it answers by ``PlayDTMF`` on the ``;2`` half, choosing the keys from the prompt the
IVR is playing and the caller's persona:

- ``book``: a known patient (their own phone as caller ID, their date of birth) books the first
  offered appointment;
- ``agent``: a known patient asks for an agent at the main menu (a screen pop with their card);
- ``unknown``: a number the hospital does not know; the caller asks for an agent instead of
  giving a record number (the pop offers a new-patient form);
- ``impatient``: like ``agent``, but hangs up after a few seconds in the queue (abandoned);
- ``speaker``: like ``book``, but says "네" (yes, in the bundled speech model's Korean) at the
  confirmation instead of pressing 1: when the IVR starts ``RECORD FILE`` the patient's half
  plays it (``SIM_SAY``, redirected to ``sim-patient,say``).

The robot agent who answers a queue call says a Korean line (``SIM_AGENT_PROMPT``,
:mod:`callcenter.demo.voices`), so recorded calls have transcripts the bundled model can read.

Agents' phones are ``Local/<ext>@sim-agents`` members (1XXX answer after ``SIM_AGENT_RING``
seconds and talk ``SIM_AGENT_TALK``); the variables travel with the call (``__`` inheritance).
Nothing here is used outside the sandbox: :func:`callcenter.demo.run.require_sandbox` checks first.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from callcenter.agi import speech_prompts
from callcenter.ami.bridge import AmiBridge, AmiError
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.bus import EventBus, Subscription
from callcenter.demo import voices
from callcenter.ivr import prompts
from callcenter.tasks import BackgroundTasks
from hcrm_core.db import Database
from hcrm_core.models import Patient, PatientPhone

_LOG = logging.getLogger(__name__)

# Numbers of the North American fictional range (555-01XX): never a real subscriber.
UNKNOWN_NUMBERS = tuple(f"+1212555{n:04d}" for n in range(170, 199))
ID_PREFIX = "demo-"


class Persona(enum.StrEnum):
    BOOK = "book"
    AGENT = "agent"
    UNKNOWN = "unknown"
    IMPATIENT = "impatient"
    SPEAKER = "speaker"


# How often each persona calls (weights).
MIX: dict[Persona, int] = {
    Persona.BOOK: 3,
    Persona.AGENT: 4,
    Persona.UNKNOWN: 1,
    Persona.IMPATIENT: 1,
    Persona.SPEAKER: 2,
}
# The stream opens with one caller of each kind, a few seconds apart, so every story shows
# within the demo's first two minutes; then the MIX at the stream's pace.
OPENING: tuple[Persona, ...] = (
    Persona.AGENT,
    Persona.SPEAKER,
    Persona.UNKNOWN,
    Persona.BOOK,
    Persona.IMPATIENT,
)
OPENING_GAP_SECONDS = (4.0, 8.0)
# What a speaker says when the IVR records after the confirmation menu.
_SAID_AT: dict[str, str] = {prompts.CONFIRM_SLOT: voices.YES}


@dataclass(frozen=True, slots=True)
class KnownCaller:
    """A demo patient who can call: their phone (caller ID) and date of birth keys."""

    phone: str
    dob_keys: str


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """The pace of the stream and how the simulated phones behave."""

    mean_gap_seconds: float = 20.0
    agent_ring_seconds: int = 3
    agent_talk_seconds: tuple[int, int] = (25, 50)
    impatient_after_seconds: float = 6.0
    # FastAGI URL for the IVR (default: the one rendered into the dialplan).
    agi_url: str | None = None


@dataclass
class _Caller:
    persona: Persona
    linkedid: str
    dob_keys: str
    patient_leg: str = ""
    presses: int = 0
    # The menu's last prompt before the IVR records: a menu that also takes speech is played
    # by STREAM FILE (any key interrupts), then "say it after the tone", then RECORD FILE.
    last_prompt: str = ""


def keys_for(persona: Persona, prompt: str, dob_keys: str) -> str:
    """What a caller of ``persona`` presses when the IVR plays ``prompt`` and waits for keys.

    Any other menu (department, doctor, slot, confirm) gets '1': the first choice, which
    always exists. A speaker presses too: a menu that listens is played by STREAM FILE and
    recorded (:meth:`DemoCallers._on_event`), so a ``GET DATA`` means the IVR takes keys only
    for this caller (a language without a speech model), and silence would fail the menu.
    """
    wants_agent = persona not in (Persona.BOOK, Persona.SPEAKER)
    if prompt == prompts.ASK_DOB:
        return dob_keys
    if prompt == prompts.ASK_MRN:
        # "0" alone, then silence, asks for an agent (docs/ivr.md).
        return "0"
    if prompt == prompts.MAIN_MENU:
        return "0" if wants_agent else "1"
    return "1"


class DemoCallers:
    """Originates simulated patients at random intervals and plays their keys on cue."""

    def __init__(
        self,
        driver: AmiBridge,
        driver_bus: EventBus,
        callers: Sequence[KnownCaller],
        settings: StreamSettings,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._driver = driver
        self._bus = driver_bus
        self._known = list(callers)
        self._settings = settings
        self._rng = rng or random.Random()
        self._calls: dict[str, _Caller] = {}
        self._subscription: Subscription[AmiEvent] | None = None
        self._tasks = BackgroundTasks("demo-callers")
        self.placed: list[tuple[str, Persona]] = []

    def start(self) -> None:
        self._subscription = self._bus.subscribe(
            AmiEvent,
            self._on_event,
            name="demo-callers",
            predicate=lambda e: e.linkedid.startswith(ID_PREFIX),
        )

    async def stop(self) -> None:
        """Stop listening and hang up the calls still up (the sandbox is shared)."""
        if self._subscription is not None:
            await self._subscription.close()
        await self._tasks.cancel_all()
        for caller in list(self._calls.values()):
            if caller.patient_leg:
                with contextlib.suppress(AmiError):
                    await self._driver.send_action(
                        {"Action": "Hangup", "Channel": caller.patient_leg}
                    )
        self._calls.clear()

    async def run(self, count: int | None = None) -> None:
        """Place calls (``count`` of them, or until cancelled): the :data:`OPENING` callers a
        few seconds apart, then the :data:`MIX` at the stream's pace."""
        placed = 0
        while count is None or placed < count:
            opening = placed < len(OPENING)
            persona = (
                OPENING[placed]
                if opening
                else self._rng.choices(list(MIX), weights=list(MIX.values()))[0]
            )
            try:
                await self.place(persona)
            except AmiError as exc:
                _LOG.warning("demo: could not place a call (%s); trying again later", exc)
            placed += 1
            if count is None or placed < count:
                gap = (
                    self._rng.uniform(*OPENING_GAP_SECONDS)
                    if opening
                    else self._rng.expovariate(1 / self._settings.mean_gap_seconds)
                )
                await asyncio.sleep(gap)

    async def place(self, persona: Persona) -> str:
        """Originate one simulated patient; returns the call's Linkedid."""
        if persona is not Persona.UNKNOWN and self._known:
            known = self._rng.choice(self._known)
            number, dob_keys = known.phone, known.dob_keys
        else:
            persona = Persona.UNKNOWN
            number, dob_keys = self._rng.choice(UNKNOWN_NUMBERS), ""
        linkedid = f"{ID_PREFIX}{uuid.uuid4().hex[:16]}"
        self._calls[linkedid] = _Caller(persona, linkedid, dob_keys)
        low, high = self._settings.agent_talk_seconds
        variables = {
            "SIM_DELAY": "0",
            "SIM_HOLD": "600",
            "__SIM_AGENT_RING": str(self._settings.agent_ring_seconds),
            "__SIM_AGENT_TALK": str(self._rng.randint(low, high)),
            "__SIM_AGENT_PROMPT": voices.agent_line(len(self.placed)),
        }
        if self._settings.agi_url:
            variables["CALLCENTER_AGI"] = self._settings.agi_url
        try:
            await self._driver.originate(
                f"Local/s@{const.CONTEXT_SIM_PATIENT}",
                context=const.CONTEXT_INBOUND,
                exten="s",
                caller_id=f'"Demo caller" <{number}>',
                channel_id=linkedid,  # the ;1 half's Uniqueid, hence the call's Linkedid
                variables=variables,
            )
        except AmiError:
            del self._calls[linkedid]
            raise
        self.placed.append((linkedid, persona))
        _LOG.info("demo: %s caller placed linkedid=%s", persona.value, linkedid)
        return linkedid

    # -- on cue ------------------------------------------------------------------------------

    async def _on_event(self, event: AmiEvent) -> None:
        caller = self._calls.get(event.linkedid)
        if caller is None:
            return
        if event.name == "Hangup" and event.uniqueid == caller.linkedid:
            del self._calls[caller.linkedid]
            return
        channel = event.channel
        if channel.startswith(f"Local/s@{const.CONTEXT_SIM_PATIENT}-") and channel.endswith(";1"):
            caller.patient_leg = channel[:-1] + "2"
        if event.name == "AGIExecStart" and channel.endswith(";1"):
            command = event.get("Command").split()
            if len(command) > 2 and command[:2] == ["GET", "DATA"]:
                caller.last_prompt = command[2]
                self._tasks.spawn(self._press(caller, command[2]), caller.linkedid)
            elif len(command) > 2 and command[:2] == ["STREAM", "FILE"]:
                if command[2] != speech_prompts.SAY_AFTER_TONE:
                    caller.last_prompt = command[2]
            elif command[:2] == ["RECORD", "FILE"]:
                said = _SAID_AT.get(caller.last_prompt)
                if caller.persona is Persona.SPEAKER and said is not None:
                    self._tasks.spawn(self._say(caller, said), caller.linkedid)
                else:
                    # A key pressed while the IVR records answers the menu as well.
                    self._tasks.spawn(self._press(caller, caller.last_prompt), caller.linkedid)
        elif event.name == "QueueCallerJoin" and caller.persona is Persona.IMPATIENT:
            self._tasks.spawn(self._give_up(caller), caller.linkedid)

    async def _press(self, caller: _Caller, prompt: str) -> None:
        caller.presses += 1
        if caller.presses > 20 or not caller.patient_leg:
            return  # a dialog going round in circles: let the IVR's own limits end it
        keys = keys_for(caller.persona, prompt, caller.dob_keys)
        # A short pause, as a person would take; the IVR takes keys while it still speaks.
        await asyncio.sleep(self._rng.uniform(0.3, 1.2))
        try:
            for key in keys:
                await self._driver.play_dtmf(caller.patient_leg, key)
        except AmiError as exc:  # the caller hung up meanwhile
            _LOG.debug("demo: keys not played linkedid=%s: %s", caller.linkedid, exc)

    async def _say(self, caller: _Caller, sound: str) -> None:
        """The patient's half plays ``sound`` into the call (``sim-patient,say``)."""
        # After the tone: the recording has started when AGIExecStart arrives.
        await asyncio.sleep(0.5)
        try:
            await self._driver.send_action(
                {
                    "Action": "Setvar",
                    "Channel": caller.patient_leg,
                    "Variable": "SIM_SAY",
                    "Value": sound,
                }
            )
            await self._driver.send_action(
                {
                    "Action": "Redirect",
                    "Channel": caller.patient_leg,
                    "Context": const.CONTEXT_SIM_PATIENT,
                    "Exten": "say",
                    "Priority": "1",
                }
            )
        except AmiError as exc:  # the caller hung up meanwhile
            _LOG.debug("demo: not said linkedid=%s: %s", caller.linkedid, exc)

    async def _give_up(self, caller: _Caller) -> None:
        await asyncio.sleep(self._settings.impatient_after_seconds)
        try:
            await self._driver.send_action({"Action": "Hangup", "Channel": caller.patient_leg})
        except AmiError as exc:  # answered and gone already
            _LOG.debug("demo: hang-up not needed linkedid=%s: %s", caller.linkedid, exc)


async def known_callers(database: Database, limit: int = 200) -> list[KnownCaller]:
    """Demo patients whose phone number belongs to them alone (a clean caller-ID match)."""
    unique = (
        select(PatientPhone.e164)
        .group_by(PatientPhone.e164)
        .having(func.count(func.distinct(PatientPhone.patient_id)) == 1)
        .subquery()
    )
    query = (
        select(PatientPhone.e164, Patient.date_of_birth)
        .join(Patient, Patient.id == PatientPhone.patient_id)
        .where(PatientPhone.e164.in_(select(unique.c.e164)), Patient.active.is_(True))
        .order_by(Patient.id)
        .limit(limit)
    )
    async with database.session() as session:
        rows = (await session.execute(query)).all()
    return [KnownCaller(phone, born.strftime("%d%m%Y")) for phone, born in rows if phone]
