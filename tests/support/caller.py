"""The scripted caller: a simulated patient who presses keys (or speaks) when the IVR waits.

A sandbox call is a ``Local`` channel pair: the ``;1`` half runs the AGI dialog, the ``;2``
half is the patient's side. The sandbox's driver AMI user (``sim-driver``: unlike the server's
user it also sees ``AGIExecStart`` and DTMF events) is the patients' phone: when Asterisk starts
an AGI command on a ``;1`` half that waits for input (``GET DATA``, ``RECORD FILE``), the
call's :class:`ScriptedCaller` answers on the ``;2`` half: keys by ``PlayDTMF``, speech by
setting ``SIM_SAY`` and redirecting to ``sim-patient,say,1``, a hang-up by ``Hangup``.

The ``patients_phone`` fixture (registered in ``tests/conftest.py``) is that driver session;
``open_patients_phone`` is the same as a context manager.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.bus import EventBus
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.rig import WAIT, Recorder, driver_ami_settings

HANGUP = "HANGUP"
_WAITS_FOR_INPUT = ("GET DATA", "RECORD FILE")
_PLAYS = ("STREAM FILE", "GET DATA")


@dataclass(frozen=True)
class Say:
    """The patient speaks: a sound file (under the sandbox's sounds/en) played into the call."""

    sound: str


# Keys ('' = silence, HANGUP = hang up), speech, or a coroutine function returning the keys
# (run when the IVR asks: a test can change the world just before the patient answers).
Answer = str | Say | Callable[[], Awaitable[str]]
# A script is one of:
#  - a sequence: the answers to each prompt that waits for input, in order;
#  - a mapping: the answers per menu (keyed by a prompt that opens the menu), in order, so the
#    script does not depend on every step;
#  - a rule: the answer to a prompt, asked afresh each time (None: no answer).
Rule = Callable[[str], Answer | None]
Script = Sequence[Answer] | Mapping[str, Sequence[Answer]] | Rule


def _peer(channel: str) -> str:
    """The patient's half of the ``Local`` pair whose ``;1`` half runs the AGI."""
    return channel[:-1] + "2"


@dataclass
class ScriptedCaller:
    """One simulated patient on one call (``linkedid``): answers the IVR from its script,
    presses ``interrupt[prompt]`` as soon as the IVR starts playing ``prompt`` (a key chooses
    while a menu is read), and records what the IVR did."""

    driver: AmiBridge
    script: Script
    interrupt: dict[str, str] = field(default_factory=dict)
    # Ask Asterisk for CHANNEL(language) at each GET DATA: which sounds directory it played.
    probe_language: bool = False
    linkedid: str = ""
    menu: str = ""
    commands: list[str] = field(default_factory=list)  # every AGI command, as Asterisk ran it
    heard: list[str] = field(default_factory=list)  # every sound played or asked with
    asked: list[str] = field(default_factory=list)  # the prompt of every GET DATA
    languages: list[str] = field(default_factory=list)  # CHANNEL(language) at each GET DATA
    answered: list[tuple[str, str, str]] = field(default_factory=list)  # (menu, command, answer)
    _in_order: deque[Answer] = field(default_factory=deque, init=False, repr=False)
    _per_menu: dict[str, deque[Answer]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.script, Mapping):
            self._per_menu = {menu: deque(answers) for menu, answers in self.script.items()}
        elif not callable(self.script):
            self._in_order = deque(self.script)

    async def on_event(self, event: AmiEvent) -> None:
        """React to one ``AGIExecStart`` of the call."""
        if not event.channel.endswith(";1"):
            return
        command = event.get("Command")
        self.commands.append(command)
        words = command.split()
        if len(words) < 3:
            return
        verb, prompt = " ".join(words[:2]), words[2]
        if verb in _PLAYS:
            self.heard.append(prompt)
            if prompt in self._per_menu:
                self.menu = prompt
        if verb == "STREAM FILE" and prompt in self.interrupt:
            await self._press(event.channel, self.interrupt.pop(prompt))
            return
        if verb not in _WAITS_FOR_INPUT:
            return
        if verb == "GET DATA":
            self.asked.append(prompt)
            if self.probe_language:
                self.languages.append(await self._language(event.channel))
        answer = self._next_answer(prompt)
        if answer is None:
            return
        self.answered.append((self.menu or prompt, verb, str(answer)))
        await self._give(event.channel, answer)

    def played(self) -> list[str]:
        """Sound names of every STREAM FILE and GET DATA, in order."""
        return [c.split()[2] for c in self.commands if c.startswith(_PLAYS) and len(c.split()) > 2]

    def _next_answer(self, prompt: str) -> Answer | None:
        if self._per_menu:
            answers = self._per_menu.get(self.menu)
            return answers.popleft() if answers else None
        if callable(self.script):
            return self.script(prompt)
        return self._in_order.popleft() if self._in_order else None

    async def _give(self, channel: str, answer: Answer) -> None:
        if isinstance(answer, Say):
            await self._say(channel, answer)
            return
        keys = answer if isinstance(answer, str) else await answer()
        if keys == HANGUP:
            await self.driver.send_action({"Action": "Hangup", "Channel": _peer(channel)})
            return
        await self._press(channel, keys)

    async def _press(self, channel: str, keys: str) -> None:
        for key in keys:
            await self.driver.play_dtmf(_peer(channel), key)

    async def _say(self, channel: str, said: Say) -> None:
        peer = _peer(channel)
        await self.driver.send_action(
            {"Action": "Setvar", "Channel": peer, "Variable": "SIM_SAY", "Value": said.sound}
        )
        await self.driver.send_action(
            {
                "Action": "Redirect",
                "Channel": peer,
                "Context": const.CONTEXT_SIM_PATIENT,
                "Exten": "say",
                "Priority": "1",
            }
        )

    async def _language(self, channel: str) -> str:
        reply = await self.driver.send_action(
            {"Action": "Getvar", "Channel": channel, "Variable": "CHANNEL(language)"}
        )
        return str(reply.headers.get("Value", ""))


@dataclass
class PatientsPhone:
    """The driver AMI session: the patients' side of every simulated call of a test."""

    ami: AmiBridge
    bus: EventBus  # the driver's own events (AGI commands, DTMF, hang-ups)
    recorder: Recorder  # ... recorded, to wait for one
    callers: list[ScriptedCaller] = field(default_factory=list)

    def caller(
        self,
        script: Script,
        *,
        interrupt: Mapping[str, str] | None = None,
        probe_language: bool = False,
    ) -> ScriptedCaller:
        """A caller for the next call; set its ``linkedid`` before the call is originated."""
        caller = ScriptedCaller(self.ami, script, dict(interrupt or {}), probe_language)
        self.callers.append(caller)
        self.bus.subscribe(
            AmiEvent,
            caller.on_event,
            name="scripted-caller",
            predicate=lambda e: e.name == "AGIExecStart" and e.linkedid == caller.linkedid,
        )
        return caller

    def answer_calls(
        self, prefix: str, script_for: Callable[[str], Awaitable[Script | None]]
    ) -> None:
        """A caller for every call whose Linkedid starts with ``prefix`` (calls the server
        places): ``script_for(linkedid)`` gives its script at its first AGI command (None:
        not a call to answer)."""
        calls: dict[str, ScriptedCaller | None] = {}

        async def on_event(event: AmiEvent) -> None:
            if event.linkedid not in calls:
                script = await script_for(event.linkedid)
                calls[event.linkedid] = None
                if script is not None:
                    calls[event.linkedid] = caller = ScriptedCaller(self.ami, script)
                    caller.linkedid = event.linkedid
                    self.callers.append(caller)
            caller = calls[event.linkedid]
            if caller is not None:
                await caller.on_event(event)

        self.bus.subscribe(
            AmiEvent,
            on_event,
            name=f"scripted-callers-{prefix}",
            predicate=lambda e: e.name == "AGIExecStart" and e.linkedid.startswith(prefix),
        )

    async def press(self, agi_event: AmiEvent, keys: str) -> None:
        """Press ``keys`` on the patient's side of the call that ran ``agi_event``."""
        for key in keys:
            await self.ami.play_dtmf(_peer(agi_event.channel), key)


@contextlib.asynccontextmanager
async def open_patients_phone(box: AsteriskSandboxHandle) -> AsyncIterator[PatientsPhone]:
    """The driver AMI session, logged in; its scripted callers stop with it."""
    bus = EventBus()
    recorder = Recorder(bus)
    ami = AmiBridge(driver_ami_settings(box), bus)
    await ami.start()
    try:
        await ami.wait_ready(WAIT)
        yield PatientsPhone(ami, bus, recorder)
    finally:
        await ami.stop()
        await bus.close()


@pytest.fixture
async def patients_phone(asterisk_sandbox: AsteriskSandboxHandle) -> AsyncIterator[PatientsPhone]:
    """The patients' phone: the sandbox's driver AMI session (see the module docstring)."""
    async with open_patients_phone(asterisk_sandbox) as phone:
        yield phone
