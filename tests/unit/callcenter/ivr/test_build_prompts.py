"""``prompts build``: real espeak-ng and pydub, into a temporary sounds directory."""

from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner

from callcenter.agi.channel import sound
from callcenter.agi.prompt_audio import _resolve_in_root, build_prompts
from callcenter.cli import cli
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from tests.conftest import require_or_skip


@pytest.fixture
def espeak() -> None:
    """espeak-ng is installed by scripts/setup.sh; without it these skip, and fail in CI."""
    if shutil.which("espeak-ng") is None:
        require_or_skip("espeak-ng is not installed")


def test_every_prompt_name_is_a_safe_sound_name() -> None:
    for name in prompts.CATALOGUE:
        assert sound(name) == name
    assert sound(prompts.department_prompt("Card/../x y")) == "callcenter/department-card-x-y"


@pytest.mark.usefixtures("espeak")
def test_build_renders_8khz_mono_wav_and_skips_unchanged(tmp_path: Path) -> None:
    catalogue = {prompts.WELCOME: "Welcome.", prompts.GOODBYE: "Goodbye."}
    first = build_prompts(catalogue, tmp_path)
    assert sorted(first.rendered) == sorted(catalogue)
    with wave.open(str(tmp_path / "callcenter" / "welcome.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 2000
    again = build_prompts({**catalogue, prompts.GOODBYE: "Good bye now."}, tmp_path)
    assert again.rendered == [prompts.GOODBYE] and again.skipped == [prompts.WELCOME]


@pytest.mark.usefixtures("espeak")
def test_cli_builds_into_the_given_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["prompts", "build", "--out", str(tmp_path), "--no-database"], env={}
    )
    assert result.exit_code == 0, result.output
    assert f"en: {len(language_prompts('en'))} rendered" in result.output
    assert (tmp_path / "en" / "callcenter" / "main-menu.wav").exists()
    assert (tmp_path / "zh" / "callcenter" / "main-menu.wav").exists()
    assert (tmp_path / "zh" / "digits" / "mon-10.wav").exists()


def test_sandbox_sounds_follow_links_inside_the_chroot(tmp_path: Path) -> None:
    # Debian: sounds/en -> /etc/alternatives/asterisk-prompt-en -> /usr/share/.../en_US_f_Allison
    root = tmp_path / "root"
    real = root / "usr/share/asterisk/sounds/en_US_f_Allison"
    real.mkdir(parents=True)
    (root / "etc/alternatives").mkdir(parents=True)
    os.symlink("/usr/share/asterisk/sounds/en_US_f_Allison", root / "etc/alternatives/prompt-en")
    os.symlink("/etc/alternatives/prompt-en", root / "usr/share/asterisk/sounds/en")
    resolved = _resolve_in_root(root, PurePosixPath("/usr/share/asterisk/sounds/en"))
    assert resolved == real
