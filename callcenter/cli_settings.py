"""The settings of one ``callcenter`` invocation, loaded once and shared by every sub-command.

Lives apart from :mod:`callcenter.cli` so that each slice's command group (``ivr/cli.py``,
``outbound/cli.py``, ...) can read them without importing the command that registers it.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from callcenter.settings import Settings, SettingsError, ensure_secrets, load_settings


def settings_from(ctx: click.Context) -> Settings:
    """The invocation's settings (``--config`` or the environment), loaded and logged once."""
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            settings = load_settings(obj.get("config_path"))
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
        obj["settings"] = ensure_secrets(settings)
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    settings_obj: Settings = obj["settings"]
    return settings_obj
