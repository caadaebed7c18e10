"""``callcenter demo`` shows every part: its settings, the campaign callees' keys, the speaking
caller, and the sandbox released at the end (unless a test session holds it)."""

from __future__ import annotations

import asyncio
import fcntl
import random
from pathlib import Path

import pytest

from callcenter.agi import speech_prompts
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.asterisk.sandbox import SandboxError
from callcenter.bus import EventBus
from callcenter.demo import voices
from callcenter.demo.callees import CalleePersona, DemoCallees, callee_keys, persona_of
from callcenter.demo.callers import (
    OPENING,
    DemoCallers,
    Persona,
    StreamSettings,
    _Caller,
    keys_for,
)
from callcenter.demo.run import (
    DEMO_CALLER_ID,
    SESSIONS_LOCK,
    demo_settings,
    describe_tries,
    release_sandbox,
)
from callcenter.ivr import prompts
from callcenter.outbound import prompts as outbound_prompts
from callcenter.settings import HospitalSettings, RecordingSettings, Settings

QUESTION = "callcenter/campaign-7-{}"


def test_demo_settings_turn_every_part_on(tmp_path: Path) -> None:
    settings = demo_settings(Settings(data_dir=tmp_path))
    assert settings.hospital.caller_id_number == DEMO_CALLER_ID  # click-to-dial, campaigns
    assert settings.recording.default_policy == "always"
    assert (
        settings.recording.supervisor_dial == f"Local/{{extension}}@{const.CONTEXT_SIM_SUPERVISORS}"
    )
    assert settings.outbound.dial_channel == f"Local/{{number}}@{const.CONTEXT_SIM_CALLEE}"
    assert settings.agents.dial_context == const.CONTEXT_SIM_CALLEE
    # Speech: the bundled Korean model hears English callers; Mandarin is keypad only.
    models = settings.speech.models_by_language()
    assert settings.speech.enabled and list(models) == ["en"] and models["en"].language == "ko"
    # Recordings and speech are read where the sandbox's Asterisk writes them.
    root = str(settings.asterisk.config_dir).removesuffix("/etc/asterisk")
    assert str(settings.asterisk.recordings_local_path).startswith(root)
    assert str(settings.asterisk.speech_local_path).startswith(root)
    assert DEMO_CALLER_ID in describe_tries(settings)


def test_a_sites_own_choices_are_kept(tmp_path: Path) -> None:
    site = Settings(
        data_dir=tmp_path,
        hospital=HospitalSettings(caller_id_number="+12125550123"),
        recording=RecordingSettings(default_policy="on_demand"),
    )
    settings = demo_settings(site)
    assert settings.hospital.caller_id_number == "+12125550123"
    assert settings.recording.default_policy == "on_demand"


@pytest.mark.parametrize(
    ("persona", "prompt", "keys"),
    [
        (CalleePersona.CONFIRM, outbound_prompts.REMINDER_INTRO, "1"),
        (CalleePersona.CANCEL, outbound_prompts.REMINDER_MENU, "2"),
        (CalleePersona.NURSE, outbound_prompts.REMINDER_INTRO, "3"),
        (CalleePersona.OPT_OUT, outbound_prompts.REMINDER_INTRO, "9"),
        (CalleePersona.NURSE, outbound_prompts.SURVEY_INTRO, "1"),
        (CalleePersona.OPT_OUT, outbound_prompts.SURVEY_INTRO, "9"),
        # Post-discharge: a patient who feels poorly with a new symptom is escalated.
        (CalleePersona.NURSE, QUESTION.format("feeling"), "2"),
        (CalleePersona.NURSE, QUESTION.format("new-symptom"), "1"),
        (CalleePersona.CONFIRM, QUESTION.format("feeling"), "1"),
        (CalleePersona.CANCEL, QUESTION.format("new-symptom"), "2"),
        (CalleePersona.CONFIRM, QUESTION.format("other"), "1"),
    ],
)
def test_campaign_callees_press_their_personas_keys(
    persona: CalleePersona, prompt: str, keys: str
) -> None:
    assert callee_keys(persona, prompt) == keys


def test_every_outcome_shows_within_eight_attempts() -> None:
    assert {persona_of(n) for n in range(100, 108)} == set(CalleePersona)


def test_a_speaker_says_yes_and_presses_where_the_ivr_takes_keys_only() -> None:
    # GET DATA at the confirmation: no speech for this caller's language (a Mandarin caller).
    assert keys_for(Persona.SPEAKER, prompts.CONFIRM_SLOT, "01011970") == "1"
    assert keys_for(Persona.SPEAKER, prompts.MAIN_MENU, "01011970") == "1"
    assert voices.catalogue()[voices.YES] == "네"
    assert all(voices.agent_line(n) in voices.catalogue() for n in range(5))


class FakeBox:
    def __init__(self, base: Path, fail: bool = False) -> None:
        self.base = base
        self.stopped = 0
        self.fail = fail

    def stop(self) -> None:
        if self.fail:
            raise SandboxError("core stop now timed out")
        self.stopped += 1


def test_the_sandbox_is_stopped_at_the_end_unless_a_test_session_holds_it(
    tmp_path: Path,
) -> None:
    box = FakeBox(tmp_path)
    assert release_sandbox(box) == "sandbox Asterisk stopped"  # type: ignore[arg-type]
    assert box.stopped == 1
    with (tmp_path / SESSIONS_LOCK).open("w") as session:
        fcntl.flock(session, fcntl.LOCK_SH)  # what tests/support/asterisk_sandbox.py holds
        assert "a test session is using it" in release_sandbox(box)  # type: ignore[arg-type]
    assert box.stopped == 1
    failing = FakeBox(tmp_path, fail=True)
    assert "timed out" in release_sandbox(failing)  # type: ignore[arg-type]


class FakeDriver:
    def __init__(self) -> None:
        self.dtmf: list[tuple[str, str]] = []

    async def play_dtmf(self, channel: str, key: str) -> None:
        self.dtmf.append((channel, key))


def _event(name: str, uniqueid: str, channel: str, **headers: str) -> AmiEvent:
    return AmiEvent(
        name,
        {"Linkedid": "attempt-42", "Uniqueid": uniqueid, "Channel": channel, **headers},
    )


async def test_a_callee_answers_the_question_said_before_the_opt_out_hint() -> None:
    """A survey question is said by STREAM FILE, then the menu waits on the opt-out hint:
    the key is chosen by the question (attempt 42 asks for a nurse: feels poorly)."""
    driver = FakeDriver()
    callees = DemoCallees(driver, EventBus(), "attempt-", rng=random.Random(1))  # type: ignore[arg-type]
    patient = "Local/+12125550142@sim-callee-00000001;2"
    dialog = "Local/+12125550142@sim-callee-00000001;1"
    assert persona_of(42) is CalleePersona.NURSE
    await callees._on_event(_event("Newchannel", "attempt-42-b", patient))
    for command in (
        f"STREAM FILE {QUESTION.format('feeling')} 0123456789*#",
        f"GET DATA {outbound_prompts.OPT_OUT_HINT} 5000 1",
    ):
        await callees._on_event(_event("AGIExecStart", "attempt-42", dialog, Command=command))
    assert await callees._tasks.wait(within=5), "the key was never pressed"
    assert driver.dtmf == [(patient, "2")]
    assert callees.pressed == [(42, QUESTION.format("feeling"), "2")]


class FakePatientsDriver(FakeDriver):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[dict[str, str]] = []

    async def send_action(self, action: dict[str, str]) -> dict[str, str]:
        self.actions.append(action)
        return {"Response": "Success"}


@pytest.mark.parametrize(
    ("persona", "said", "keys"), [(Persona.SPEAKER, voices.YES, []), (Persona.BOOK, None, ["1"])]
)
async def test_at_a_menu_that_listens_a_caller_speaks_or_presses_while_recorded(
    persona: Persona, said: str | None, keys: list[str]
) -> None:
    """A menu that takes speech is played by STREAM FILE, then "say it after the tone", then
    RECORD FILE: the speaker says yes, the others press their key while recorded."""
    driver = FakePatientsDriver()
    callers = DemoCallers(driver, EventBus(), [], StreamSettings(), rng=random.Random(1))  # type: ignore[arg-type]
    linkedid = "demo-0123456789abcdef"
    callers._calls[linkedid] = _Caller(persona, linkedid, "01011970")
    ivr = "Local/s@sim-patient-00000001;1"

    def event(command: str) -> AmiEvent:
        headers = {"Linkedid": linkedid, "Uniqueid": linkedid, "Channel": ivr, "Command": command}
        return AmiEvent("AGIExecStart", headers)

    for command in (
        f"STREAM FILE {prompts.CONFIRM_SLOT} 0123456789*#",
        f"STREAM FILE {speech_prompts.SAY_AFTER_TONE} 0123456789*#",
        "RECORD FILE /var/spool/asterisk/callcenter-speech/x wav 0123456789*# 6000 BEEP s=2",
    ):
        await callers._on_event(event(command))
    assert await callers._tasks.wait(within=5), "the caller never answered"
    patient = "Local/s@sim-patient-00000001;2"
    assert [key for channel, key in driver.dtmf if channel == patient] == keys
    setvars = [a["Value"] for a in driver.actions if a["Action"] == "Setvar"]
    assert setvars == ([said] if said else [])


async def test_the_stream_opens_with_one_caller_of_each_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    placed: list[Persona] = []
    callers = DemoCallers(None, EventBus(), [], StreamSettings(), rng=random.Random(3))  # type: ignore[arg-type]

    async def place(persona: Persona) -> str:
        placed.append(persona)
        return "demo-x"

    async def no_wait(_seconds: float) -> None:
        return None

    monkeypatch.setattr(callers, "place", place)
    monkeypatch.setattr(asyncio, "sleep", no_wait)
    await callers.run(count=len(OPENING) + 3)
    assert tuple(placed[: len(OPENING)]) == OPENING
    assert set(OPENING) == set(Persona)  # every kind of caller is in the opening
