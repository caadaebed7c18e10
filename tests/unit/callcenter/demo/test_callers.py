"""``callcenter demo``'s pure parts: what a simulated caller presses, and refusing other PBXs."""

from __future__ import annotations

import pytest

from callcenter.demo.callers import Persona, keys_for
from callcenter.demo.run import DemoRefused, demo_settings, require_sandbox
from callcenter.ivr import prompts
from callcenter.settings import Settings

DOB = "02041961"


@pytest.mark.parametrize(
    ("persona", "prompt", "keys"),
    [
        (Persona.BOOK, prompts.ASK_DOB, DOB),
        (Persona.BOOK, prompts.MAIN_MENU, "1"),
        (Persona.BOOK, prompts.CONFIRM_SLOT, "1"),
        (Persona.AGENT, prompts.ASK_DOB, DOB),
        (Persona.AGENT, prompts.MAIN_MENU, "0"),
        (Persona.IMPATIENT, prompts.MAIN_MENU, "0"),
        (Persona.UNKNOWN, prompts.ASK_MRN, "0"),
        (Persona.UNKNOWN, prompts.CHOOSE_ENGLISH, "1"),
    ],
)
def test_keys_follow_the_prompt_and_the_persona(persona: Persona, prompt: str, keys: str) -> None:
    assert keys_for(persona, prompt, DOB) == keys


def test_demo_agents_phones_are_the_sandbox_extensions(tmp_path) -> None:
    settings = demo_settings(Settings(data_dir=tmp_path))
    assert settings.agents.interface == "Local/{extension}@sim-agents"
    # The demo encrypts recordings at rest, with one key kept across runs.
    key = settings.recording.key.get_secret_value()
    assert key
    assert demo_settings(Settings(data_dir=tmp_path)).recording.key.get_secret_value() == key


@pytest.mark.parametrize("host", ["10.1.2.3", "pbx.hospital.example"])
def test_the_demo_refuses_an_asterisk_that_is_not_on_loopback(tmp_path, host: str) -> None:
    settings = Settings(data_dir=tmp_path, ami={"host": host, "secret": "x"})
    with pytest.raises(DemoRefused, match="never a site's PBX"):
        require_sandbox(settings)


def test_the_demo_command_refuses_a_remote_asterisk_before_doing_anything(tmp_path) -> None:
    from click.testing import CliRunner

    from callcenter.cli import cli

    env = {
        "CALLCENTER_DATA_DIR": str(tmp_path),
        "CALLCENTER_AMI__HOST": "10.1.2.3",
        "CALLCENTER_AMI__SECRET": "x",
    }
    result = CliRunner().invoke(cli, ["demo"], env=env)
    assert result.exit_code == 1
    assert "never a site's PBX" in result.output
    assert not list(tmp_path.glob("*.sqlite3"))  # no database was made
