"""Campaign questions rendered to sound when a campaign is saved: no CLI step.

The console hands a saved campaign to :meth:`QuestionPrompts.render`; its questions are spoken
into ``callcenter/campaign-<id>-<key>`` in every prompt language (:mod:`.prompts`) off the
event loop, one campaign after another (the sounds directory keeps one manifest, which two
builds at once would overwrite). What happened is kept per campaign for the campaign's page:
rendering, ready (how many prompts, when) or failed (why, in words), in the database
(``campaign_prompt_renders``) so that a restart shows the right state; a render the restart
interrupted is started again by :meth:`QuestionPrompts.resume`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import Campaign, PromptRenderState
from hcrm_core.services.prompt_renders import PromptRenders

_LOG = logging.getLogger(__name__)

# language -> the host directory of Asterisk's sounds in that language.
SoundsDir = Callable[[str], Path]
Builder = Callable[[Mapping[str, Spoken], Path], BuildResult]
PromptState = PromptRenderState


@dataclass(frozen=True, slots=True)
class PromptStatus:
    state: PromptState
    at: datetime
    prompts: int = 0  # question prompts written or already current, every language
    problem: str = ""


class QuestionPrompts:
    """Renders one campaign's question prompts in the background and keeps the outcome.

    ``renders`` keeps it in the database; without one (tools, tests) it is kept in memory.
    """

    def __init__(
        self,
        sounds_dir: SoundsDir,
        *,
        renders: PromptRenders | None = None,
        builder: Builder = build_prompts,
    ) -> None:
        self._sounds_dir = sounds_dir
        self._builder = builder
        self._renders = renders
        self._status: dict[int, PromptStatus] = {}  # without a database only
        self._running: dict[int, datetime] = {}  # renders started here and not finished
        self._lock = asyncio.Lock()
        self._tasks = BackgroundTasks("campaign prompts")

    async def status(self, campaign_id: int) -> PromptStatus | None:
        started = self._running.get(campaign_id)
        if started is not None:
            # Saved a moment ago: the page after the save must not show the previous render.
            return PromptStatus(PromptState.RENDERING, started)
        if self._renders is None:
            return self._status.get(campaign_id)
        row = await self._renders.latest(campaign_id)
        return PromptStatus(row.state, row.at, row.prompts, row.problem) if row else None

    def render(self, campaign: Campaign) -> None:
        """Start rendering ``campaign``'s questions (the latest save wins); returns at once."""
        self._running[campaign.id] = datetime.now(UTC)
        self._tasks.spawn(self._render(campaign), name=f"campaign {campaign.id} prompts")

    async def resume(self) -> None:
        """Start again the renders a stop interrupted (still "rendering" in the database)."""
        if self._renders is None:
            return
        try:
            campaigns = await self._renders.interrupted()
        except StorageUnavailable as exc:
            _LOG.warning("interrupted campaign prompt renders not resumed: %s", exc)
            return
        for campaign in campaigns:
            _LOG.info("campaign %s: question prompts interrupted by a stop: again", campaign.id)
            self.render(campaign)

    async def wait(self, within: float | None = None) -> bool:
        """Until every render started so far has finished; True when they all have."""
        return await self._tasks.wait(within)

    async def stop(self) -> None:
        """Let a render in progress finish for a while (a half-written manifest only costs a
        re-render), then cancel it: it stays "rendering" in the database, resumed at start."""
        await self._tasks.drain(within=30)

    async def _render(self, campaign: Campaign) -> None:
        started = self._running.get(campaign.id, datetime.now(UTC))
        await self._keep(campaign.id, PromptStatus(PromptState.RENDERING, started))
        async with self._lock:
            try:
                count = await asyncio.to_thread(self._build, campaign)
            except (PromptBuildError, OSError) as exc:
                _LOG.warning("campaign %s: question prompts failed: %s", campaign.id, exc)
                outcome = PromptStatus(PromptState.FAILED, datetime.now(UTC), problem=_plain(exc))
            else:
                _LOG.info("campaign %s: %d question prompts current", campaign.id, count)
                outcome = PromptStatus(PromptState.READY, datetime.now(UTC), count)
        await self._keep(campaign.id, outcome)
        if self._running.get(campaign.id) == started:  # not saved again meanwhile
            del self._running[campaign.id]

    async def _keep(self, campaign_id: int, status: PromptStatus) -> None:
        if self._renders is None:
            self._status[campaign_id] = status
            return
        try:
            await self._renders.save(
                campaign_id, status.state, status.at, prompts=status.prompts, problem=status.problem
            )
        except StorageUnavailable as exc:
            # The sounds are written whatever the page says; the next save records it again.
            _LOG.warning(
                "campaign %s: prompt render %s not kept: %s", campaign_id, status.state, exc
            )

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
