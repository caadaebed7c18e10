"""Configuration: defaults that run, a TOML file, environment overrides, errors naming keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from callcenter.settings import SettingsError, ensure_secrets, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("CALLCENTER_") and not key.startswith("CALLCENTER_TEST_"):
            monkeypatch.delenv(key)


def test_defaults_run_with_no_file():
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert (settings.ami.host, settings.ami.port) == ("127.0.0.1", 5038)
    assert (settings.agi.host, settings.agi.port) == ("127.0.0.1", 4573)
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8080)


def test_file_then_environment_override(tmp_path, monkeypatch):
    config = tmp_path / "site.toml"
    config.write_text(
        '[ami]\nhost = "10.1.2.3"\nport = 5039\n[hospital]\nname = "St. Mary"\n'
        'timezone = "Asia/Shanghai"\nphone_region = "cn"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CALLCENTER_AMI__PORT", "6000")
    settings = load_settings(config)
    assert settings.ami.host == "10.1.2.3"
    assert settings.ami.port == 6000
    assert settings.hospital.name == "St. Mary"
    assert settings.hospital.phone_region == "CN"
    assert settings.booking_policy().timezone.key == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[ami]\nport = "many"\n', "ami.port"),
        ("[ami]\nprot = 1\n", "ami.prot: unknown setting"),
        ('[hospital]\ntimezone = "Mars/Olympus"\n', "hospital.timezone"),
        ('[hospital]\nphone_region = "XX"\n', "hospital.phone_region"),
        ('[database]\nurl = "mysql://x"\n', "database.url"),
        ("[booking]\nhorizon_days = 0\n", "booking.horizon_days"),
        ("[nonsense]\nx = 1\n", "nonsense: unknown setting"),
    ],
)
def test_bad_file_values_are_named(tmp_path, body, named):
    config = tmp_path / "bad.toml"
    config.write_text(body, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert named in str(caught.value)
    assert str(config) in str(caught.value)


def test_bad_environment_is_named(monkeypatch):
    monkeypatch.setenv("CALLCENTER_AMI__PROT", "1")
    with pytest.raises(SettingsError, match="CALLCENTER_AMI__PROT: unknown setting"):
        load_settings()
    monkeypatch.delenv("CALLCENTER_AMI__PROT")
    monkeypatch.setenv("CALLCENTER_WEB__PORT", "-5")
    with pytest.raises(SettingsError, match=r"web\.port"):
        load_settings()


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[ami\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(broken)


def test_secrets_are_generated_once_private_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))
    first = ensure_secrets(load_settings())
    second = ensure_secrets(load_settings())
    secret = first.ami.secret.get_secret_value()
    assert len(secret) >= 24
    assert second.ami.secret.get_secret_value() == secret
    assert first.web.session_secret.get_secret_value() != secret
    store = Path(tmp_path) / "secrets.toml"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert secret not in repr(first)  # SecretStr never prints
    monkeypatch.setenv("CALLCENTER_AMI__SECRET", "from-env")
    assert ensure_secrets(load_settings()).ami.secret.get_secret_value() == "from-env"


def test_a_recording_key_is_generated_once_like_the_other_secrets(tmp_path, monkeypatch):
    import base64

    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))
    first = ensure_secrets(load_settings()).recording.key.get_secret_value()
    assert len(base64.urlsafe_b64decode(first)) == 32  # AES-256, encryption on by default
    assert ensure_secrets(load_settings()).recording.key.get_secret_value() == first
    assert first in (tmp_path / "secrets.toml").read_text(encoding="utf-8")
    assert stat.S_IMODE((tmp_path / "secrets.toml").stat().st_mode) == 0o600


def test_a_demo_s_recording_key_file_is_adopted_not_replaced(tmp_path, monkeypatch):
    from callcenter.recording.crypto import generate_key

    earlier = generate_key()
    (tmp_path / "recording.key").write_text(earlier + "\n", encoding="utf-8")
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))
    assert ensure_secrets(load_settings()).recording.key.get_secret_value() == earlier
