"""Simulated patients who answer the demo's campaign calls and press keys on cue.

Campaign calls are ``Local/{number}@sim-callee`` pairs (``outbound.dial_channel`` in the demo):
the ``;1`` half runs the campaign's dialog, the ``;2`` half (Uniqueid ``<attempt id>-b``) is the
patient, who rings a few seconds and answers. Like :mod:`callcenter.demo.callers`, this
module's ``sim-driver`` AMI session sees ``AGIExecStart``: on each ``GET DATA`` of a campaign
call it plays the keys of the patient's persona on the ``;2`` half. The persona follows from
the attempt id, so a campaign's calls show every outcome:

- ``confirm``: confirms the reminder (1); in a survey, feels well and has no new symptom;
- ``cancel``: cancels the appointment (2); in a survey, like ``confirm``;
- ``nurse``: asks for an agent at a reminder (3); in a survey, feels poorly and has a new
  symptom, which escalates: a follow-up task appears for the nurses;
- ``opt_out``: asks not to be called again (9).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random

from callcenter.ami.bridge import AmiBridge, AmiError
from callcenter.ami.events import AmiEvent
from callcenter.bus import EventBus, Subscription
from callcenter.calls.channel_ids import attempt_of
from callcenter.outbound import prompts
from callcenter.tasks import BackgroundTasks

_LOG = logging.getLogger(__name__)


class CalleePersona(enum.StrEnum):
    CONFIRM = "confirm"
    CANCEL = "cancel"
    NURSE = "nurse"
    OPT_OUT = "opt_out"


# Out of every eight attempts: four confirm, two cancel, one asks for a nurse, one opts out.
_ROTATION = (
    CalleePersona.CONFIRM,
    CalleePersona.CANCEL,
    CalleePersona.NURSE,
    CalleePersona.CONFIRM,
    CalleePersona.OPT_OUT,
    CalleePersona.CONFIRM,
    CalleePersona.CANCEL,
    CalleePersona.CONFIRM,
)
_REMINDER_PROMPTS = (prompts.REMINDER_INTRO, prompts.REMINDER_MENU, prompts.CHANGED_MOVED)
# Survey answers by question key (the post-discharge defaults); other questions get "1".
_SURVEY_KEYS: dict[CalleePersona, dict[str, str]] = {
    CalleePersona.NURSE: {"feeling": "2", "new-symptom": "1"},
}
_WELL = {"feeling": "1", "new-symptom": "2"}


def persona_of(attempt_id: int) -> CalleePersona:
    return _ROTATION[attempt_id % len(_ROTATION)]


def callee_keys(persona: CalleePersona, prompt: str) -> str:
    """The key a callee of ``persona`` presses when the campaign dialog plays ``prompt``."""
    if persona is CalleePersona.OPT_OUT:
        return "9"
    if prompt in _REMINDER_PROMPTS:
        return {CalleePersona.CANCEL: "2", CalleePersona.NURSE: "3"}.get(persona, "1")
    if prompt == prompts.SURVEY_INTRO:
        return "1"
    # A question: callcenter/campaign-<id>-<key> (outbound.prompts.question_prompt).
    key = prompt.rsplit("/", 1)[-1].split("-", 2)[-1]
    return _SURVEY_KEYS.get(persona, _WELL).get(key, "1")


class DemoCallees:
    """Answers the campaign dialogs of this server's attempts (``channel_prefix``) on cue."""

    def __init__(
        self,
        driver: AmiBridge,
        driver_bus: EventBus,
        channel_prefix: str,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._driver = driver
        self._bus = driver_bus
        self._prefix = channel_prefix
        self._rng = rng or random.Random()
        self._legs: dict[str, str] = {}  # linkedid -> the patient's ;2 channel
        # linkedid -> the last sound played: a question is said by STREAM FILE, then the
        # menu waits on its last part, the opt-out hint (GET DATA).
        self._played: dict[str, str] = {}
        self._subscription: Subscription[AmiEvent] | None = None
        self._tasks = BackgroundTasks("demo-callees")
        self.pressed: list[tuple[int, str, str]] = []  # (attempt id, prompt, keys)

    def start(self) -> None:
        self._subscription = self._bus.subscribe(
            AmiEvent,
            self._on_event,
            name="demo-callees",
            predicate=lambda e: e.linkedid.startswith(self._prefix),
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        await self._tasks.cancel_all()
        self._legs.clear()

    async def _on_event(self, event: AmiEvent) -> None:
        attempt_id = attempt_of(self._prefix, event.linkedid)
        if attempt_id is None:
            return
        if event.name == "Hangup" and event.uniqueid == event.linkedid:
            self._legs.pop(event.linkedid, None)
            self._played.pop(event.linkedid, None)
            return
        if event.uniqueid == f"{event.linkedid}-b" and event.channel:
            self._legs[event.linkedid] = event.channel
        if event.name == "AGIExecStart" and event.uniqueid == event.linkedid:
            command = event.get("Command").split()
            leg = self._legs.get(event.linkedid)
            if len(command) > 2 and command[:2] == ["STREAM", "FILE"]:
                self._played[event.linkedid] = command[2]
            elif len(command) > 2 and command[:2] == ["GET", "DATA"] and leg:
                prompt = command[2]
                if prompt == prompts.OPT_OUT_HINT:
                    prompt = self._played.get(event.linkedid, prompt)
                keys = callee_keys(persona_of(attempt_id), prompt)
                self._tasks.spawn(self._press(attempt_id, leg, prompt, keys), event.linkedid)

    async def _press(self, attempt_id: int, leg: str, prompt: str, keys: str) -> None:
        await asyncio.sleep(self._rng.uniform(0.3, 1.0))
        try:
            for key in keys:
                await self._driver.play_dtmf(leg, key)
        except AmiError as exc:  # the call ended meanwhile
            _LOG.debug("demo: keys not played attempt=%s: %s", attempt_id, exc)
            return
        self.pressed.append((attempt_id, prompt, keys))
        _LOG.info("demo: callee pressed %s at %s attempt=%s", keys, prompt, attempt_id)
