"""A campaign's question prompts rendered in the background, and what its page is told."""

from __future__ import annotations

from pathlib import Path

from callcenter.agi.prompt_audio import BuildResult
from callcenter.outbound.question_prompts import PromptState, QuestionPrompts, campaign_sounds_dir
from callcenter.settings import Settings
from hcrm_core.models import Campaign, CampaignKind
from hcrm_core.services.campaigns_config import parse_config, stored


def _campaign() -> Campaign:
    settings = stored(parse_config(CampaignKind.POST_DISCHARGE, {}))
    return Campaign(id=7, name="After", kind=CampaignKind.POST_DISCHARGE, settings=settings)


async def test_every_question_in_every_language_then_ready(tmp_path: Path) -> None:
    built: list[tuple[list[str], Path]] = []

    def builder(prompts, out_dir):  # type: ignore[no-untyped-def]
        built.append((sorted(prompts), out_dir))
        return BuildResult(list(prompts), [], out_dir)

    prompts = QuestionPrompts(lambda language: tmp_path / language, builder=builder)
    prompts.render(_campaign())
    assert (await prompts.status(7)).state is PromptState.RENDERING  # type: ignore[union-attr]
    assert await prompts.wait(10), "the render did not finish in 10 s"
    names = ["callcenter/campaign-7-feeling", "callcenter/campaign-7-new-symptom"]
    assert built == [(names, tmp_path / "en"), (names, tmp_path / "zh")]
    status = await prompts.status(7)
    assert status is not None and status.state is PromptState.READY and status.prompts == 4


async def test_no_sounds_directory_is_a_failure_said_in_words(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, asterisk={"sounds_dir": tmp_path / "missing"})
    prompts = QuestionPrompts(lambda language: campaign_sounds_dir(settings, language))
    prompts.render(_campaign())
    assert await prompts.wait(10), "the render did not finish in 10 s"
    status = await prompts.status(7)
    assert status is not None and status.state is PromptState.FAILED
    assert status.problem == f"the sounds directory is missing ({tmp_path / 'missing'})"
    assert not (tmp_path / "missing").exists()  # never created on a machine without Asterisk


def test_a_server_writing_the_sandboxes_configuration_writes_its_sounds(tmp_path: Path) -> None:
    """The demo's server: its Asterisk configuration goes into the sandbox, so do its prompts."""
    root = tmp_path / "sandbox" / "root"
    sounds = root / "usr/share/asterisk/sounds"
    sounds.mkdir(parents=True)
    settings = Settings(
        data_dir=tmp_path,
        asterisk={"sandbox_dir": tmp_path / "sandbox", "config_dir": root / "etc/asterisk"},
    )
    assert campaign_sounds_dir(settings, "zh") == sounds / "zh"
    elsewhere = Settings(data_dir=tmp_path, asterisk={"sounds_dir": tmp_path / "snd"})
    (tmp_path / "snd").mkdir()
    assert campaign_sounds_dir(elsewhere, "en") == tmp_path / "snd" / "en"
