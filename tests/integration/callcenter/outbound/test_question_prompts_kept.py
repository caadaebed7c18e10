"""A campaign's question-prompt render outcome survives a restart; an interrupted one resumes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from callcenter.agi.prompt_audio import BuildResult
from callcenter.outbound.question_prompts import PromptState, QuestionPrompts
from hcrm_core.db import Database
from hcrm_core.models import Campaign, CampaignKind
from hcrm_core.services.campaigns_config import parse_config, stored
from hcrm_core.services.prompt_renders import PromptRenders


async def _campaign(database: Database, name: str) -> Campaign:
    settings = stored(parse_config(CampaignKind.POST_DISCHARGE, {}))
    async with database.transaction() as session:
        campaign = Campaign(name=name, kind=CampaignKind.POST_DISCHARGE, settings=settings)
        session.add(campaign)
        await session.flush()
        return campaign


def _builder(built: list[Path]):  # type: ignore[no-untyped-def]
    def build(prompts, out_dir):  # type: ignore[no-untyped-def]
        built.append(out_dir)
        return BuildResult(list(prompts), [], out_dir)

    return build


async def test_the_outcome_is_kept_and_an_interrupted_render_resumes(
    database: Database, tmp_path: Path
) -> None:
    done = await _campaign(database, "Rendered")
    cut = await _campaign(database, "Cut short")
    renders = PromptRenders(database)
    built: list[Path] = []
    first = QuestionPrompts(lambda lang: tmp_path / lang, renders=renders, builder=_builder(built))
    first.render(done)
    assert await first.wait(10), "the render did not finish in 10 s"
    # A render the stop cut short stays "rendering" in the database.
    await renders.save(cut.id, PromptState.RENDERING, datetime.now(UTC))

    # The next server process: nothing in memory.
    built.clear()
    again = QuestionPrompts(lambda lang: tmp_path / lang, renders=renders, builder=_builder(built))
    kept = await again.status(done.id)
    assert kept is not None and kept.state is PromptState.READY and kept.prompts == 4
    assert await again.status(10_000) is None  # never rendered
    await again.resume()
    assert await again.wait(10), "the resumed render did not finish in 10 s"
    assert built == [tmp_path / "en", tmp_path / "zh"], "only the interrupted one re-rendered"
    resumed = await again.status(cut.id)
    assert resumed is not None and resumed.state is PromptState.READY
    assert await renders.interrupted() == []
