"""Campaign questions rendered to sound when a campaign is saved: no CLI step.

The console hands a saved campaign to :meth:`QuestionPrompts.render`; its questions are spoken
into ``callcenter/campaign-<id>-<key>`` in every prompt language (:mod:`.prompts`) off the
event loop, one campaign after another (the sounds directory keeps one manifest, which two
builds at once would overwrite). What happened is kept per campaign for the campaign's page:
rendering, ready (how many prompts, when) or failed (why, in words). The state lives in this
process only: after a restart a campaign shows "not rendered since the server started" until
it is saved again or ``callcenter campaign prompts`` is run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from callcenter.agi.prompt_audio import (
    BuildResult,
    PromptBuildError,
    build_prompts,
    sounds_language_dir,
)
from callcenter.agi.prompts import LANGUAGES, Spoken
from callcenter.outbound.prompts import campaign_prompts
from callcenter.settings import Settings
from callcenter.tasks import BackgroundTasks
from hcrm_core.models import Campaign

_LOG = logging.getLogger(__name__)

# language -> the host directory of Asterisk's sounds in that language.
SoundsDir = Callable[[str], Path]
Builder = Callable[[Mapping[str, Spoken], Path], BuildResult]


class PromptState(StrEnum):
    RENDERING = "rendering"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PromptStatus:
    state: PromptState
    at: datetime
    prompts: int = 0  # question prompts written or already current, every language
    problem: str = ""


class QuestionPrompts:
    """Renders one campaign's question prompts in the background and remembers the outcome."""

    def __init__(self, sounds_dir: SoundsDir, *, builder: Builder = build_prompts) -> None:
        self._sounds_dir = sounds_dir
        self._builder = builder
        self._status: dict[int, PromptStatus] = {}
        self._lock = asyncio.Lock()
        self._tasks = BackgroundTasks("campaign prompts")

    def status(self, campaign_id: int) -> PromptStatus | None:
        return self._status.get(campaign_id)

    def render(self, campaign: Campaign) -> None:
        """Start rendering ``campaign``'s questions (the latest save wins); returns at once."""
        self._status[campaign.id] = PromptStatus(PromptState.RENDERING, datetime.now(UTC))
        self._tasks.spawn(self._render(campaign), name=f"campaign {campaign.id} prompts")

    async def wait(self, within: float | None = None) -> bool:
        """Until every render started so far has finished; True when they all have."""
        return await self._tasks.wait(within)

    async def stop(self) -> None:
        """Let a render in progress finish for a while (a half-written manifest only costs a
        re-render), then cancel it."""
        await self._tasks.drain(within=30)

    async def _render(self, campaign: Campaign) -> None:
        async with self._lock:
            try:
                count = await asyncio.to_thread(self._build, campaign)
            except (PromptBuildError, OSError) as exc:
                _LOG.warning("campaign %s: question prompts failed: %s", campaign.id, exc)
                self._status[campaign.id] = PromptStatus(
                    PromptState.FAILED, datetime.now(UTC), problem=_plain(exc)
                )
                return
        _LOG.info("campaign %s: %d question prompts current", campaign.id, count)
        self._status[campaign.id] = PromptStatus(PromptState.READY, datetime.now(UTC), count)

    def _build(self, campaign: Campaign) -> int:
        count = 0
        for language in LANGUAGES:
            prompts = campaign_prompts(language, [campaign])
            if prompts:
                result = self._builder(prompts, self._sounds_dir(language))
                count += len(result.rendered) + len(result.skipped)
        return count


def campaign_sounds_dir(settings: Settings, language: str) -> Path:
    """Where this server writes question prompts for ``language``: the configured sounds
    directory, or the sandbox's when the server writes its Asterisk configuration there (the
    demo). The directory of all languages must exist: the server never creates an Asterisk
    installation's sounds tree on a machine that has none."""
    from callcenter.asterisk.sandbox import AsteriskSandbox

    config_dir = settings.asterisk.config_dir
    sandboxed = config_dir is not None and config_dir == AsteriskSandbox(settings).root / (
        "etc/asterisk"
    )
    path = sounds_language_dir(
        settings, sandbox=sandboxed and settings.asterisk.sounds_dir is None, language=language
    )
    if not path.parent.is_dir():
        raise FileNotFoundError(2, "no such directory", str(path.parent))
    return path


def _plain(exc: Exception) -> str:
    if isinstance(exc, PermissionError):
        return f"the server may not write the sound files ({exc.filename})"
    if isinstance(exc, FileNotFoundError):
        return f"the sounds directory is missing ({exc.filename})"
    return str(exc)
