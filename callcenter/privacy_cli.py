"""``callcenter patient export|erase``: a patient's access and erasure requests, by an operator.

The work is :mod:`hcrm_core.services.privacy`'s; this adds the recording key (transcripts
are decrypted for the export) and the removal of recording files (for the erasure). Both are
audited as the ``cli`` actor, with the operating system user as the source.
"""

from __future__ import annotations

import asyncio
import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from callcenter.cli_settings import settings_from
from callcenter.settings import Settings

if TYPE_CHECKING:
    from hcrm_core.actors import Actor
    from hcrm_core.db import Database


@click.group()
def patient() -> None:
    """A patient's data: export everything held about them, or erase it."""


def _actor() -> Actor:
    from hcrm_core.actors import Actor

    return Actor("cli", source=f"os-user:{getpass.getuser()}")


@patient.command("export")
@click.argument("patient_id", type=click.IntRange(min=1))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file to write (created mode 0600; an existing file is refused).",
)
@click.pass_context
def export(ctx: click.Context, patient_id: int, out_path: Path) -> None:
    """Write everything held about PATIENT_ID as one JSON bundle (transcripts decrypted)."""
    from callcenter.recording.privacy import transcript_decrypter
    from hcrm_core.errors import DomainError
    from hcrm_core.services.privacy import export_json, export_patient

    settings = settings_from(ctx)

    async def run() -> str:
        database = _database(settings)
        try:
            bundle = await export_patient(
                database,
                _actor(),
                patient_id,
                decrypt=transcript_decrypter(settings.recording),
            )
        finally:
            await database.dispose()
        return export_json(bundle)

    try:
        text = asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        # Never over another file, never readable by others: this is the whole record.
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{out_path} exists; choose a new file") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    click.echo(f"patient {patient_id} exported to {out_path}")


@patient.command("erase")
@click.argument("patient_id", type=click.IntRange(min=1))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def erase(ctx: click.Context, patient_id: int, yes: bool) -> None:
    """Anonymise PATIENT_ID and delete their personal data and recordings (refused while a
    legal hold covers any of their recordings). Cannot be undone."""
    from callcenter.recording.privacy import audio_remover
    from callcenter.recording.voicemails import voicemail_remover
    from hcrm_core.errors import DomainError
    from hcrm_core.services.privacy import erase_patient

    settings = settings_from(ctx)
    if not yes:
        click.confirm(f"Erase patient {patient_id}? This cannot be undone", abort=True)

    async def run() -> dict[str, int]:
        database = _database(settings)
        try:
            erasure = await erase_patient(
                database,
                _actor(),
                patient_id,
                remove_audio=audio_remover(settings.asterisk),
                remove_voicemails=voicemail_remover(settings.asterisk),
            )
        finally:
            await database.dispose()
        return erasure.counts

    try:
        counts = asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    summary = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    click.echo(f"patient {patient_id} erased ({summary})")


def _database(settings: Settings) -> Database:
    from hcrm_core.db import Database

    return Database(settings.database_url)
