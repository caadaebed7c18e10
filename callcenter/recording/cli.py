"""``callcenter recordings ...``: work through the processing backlog, retention, keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from callcenter.cli_settings import settings_from
from callcenter.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    return settings_from(ctx)


@click.group()
def recordings() -> None:
    """Call recordings: processing, retention and encryption keys."""


@recordings.command("process")
@click.option("--workers", type=click.IntRange(1, 16), default=None, help="Worker processes.")
@click.pass_context
def process(ctx: click.Context, workers: int | None) -> None:
    """Process every queued recording (stereo file, waveform, transcripts), then exit."""
    settings = _settings(ctx)
    if workers is not None:
        settings = settings.model_copy(
            update={"recording": settings.recording.model_copy(update={"workers": workers})}
        )
    handled = asyncio.run(_process(settings))
    click.echo(f"{handled} recordings processed")


async def _process(settings: Settings) -> int:
    from callcenter.recording.processor import RecordingProcessor, make_pool
    from hcrm_core.db import Database
    from hcrm_core.migrate import upgrade_async

    await upgrade_async(settings.database_migrate_url)
    database = Database(settings.database_url)
    recording = settings.recording
    processor = RecordingProcessor(
        recording,
        database,
        make_pool(recording),
        asterisk=settings.asterisk,
        data_dir=settings.data_dir,
        pool_factory=lambda: make_pool(recording),
    )
    try:
        total = await processor.queue.backlog()
        with click.progressbar(length=total, label="processing recordings") as bar:
            return await processor.run_backlog(progress=bar.update)
    finally:
        processor.executor.shutdown(wait=True, cancel_futures=True)
        await database.dispose()


@recordings.command("retention")
@click.pass_context
def retention(ctx: click.Context) -> None:
    """Delete audio older than recording.retention_days (legal holds are kept)."""
    from callcenter.recording.retention import apply_retention
    from hcrm_core.db import Database

    settings = _settings(ctx)

    async def run() -> int:
        database = Database(settings.database_url)
        try:
            return await apply_retention(settings.recording, database, asterisk=settings.asterisk)
        finally:
            await database.dispose()

    click.echo(f"audio of {asyncio.run(run())} recordings deleted")


@recordings.command("keygen")
def keygen() -> None:
    """Print a new key for recording.key (keep it secret; without it nothing can be read)."""
    from callcenter.recording.crypto import generate_key

    click.echo(generate_key())


@recordings.command("rekey")
@click.option(
    "--old-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File holding the previous recording.key (never give a key on the command line).",
)
@click.pass_context
def rekey_command(ctx: click.Context, old_key_file: Path | None) -> None:
    """Re-encrypt every processed file and transcript with the configured recording.key.

    Stop the server first. Files and transcripts the old key opens move to the new key;
    those stored in clear are encrypted; a run cut short is safe to run again.
    """
    from callcenter.recording.crypto import RecordingCipher
    from callcenter.recording.errors import BadRecordingKey
    from callcenter.recording.rekey import rekey
    from hcrm_core.db import Database
    from hcrm_core.migrate import upgrade_async

    settings = _settings(ctx)
    try:
        new = RecordingCipher.from_setting(settings.recording.key.get_secret_value())
        old_value = old_key_file.read_text(encoding="utf-8").strip() if old_key_file else ""
        old = RecordingCipher.from_setting(old_value)
    except BadRecordingKey as exc:
        raise click.ClickException(str(exc)) from exc
    if new is None:
        raise click.ClickException("recording.key is empty: set the new key first")
    if old_value and old_value == settings.recording.key.get_secret_value():
        raise click.ClickException("the old key is the configured key: set the new key first")

    async def run() -> list[str]:
        await upgrade_async(settings.database_url)
        database = Database(settings.database_url)
        try:
            report = await rekey(database, new, old)
        finally:
            await database.dispose()
        for name, count in report.counts().items():
            click.echo(f"{name.replace('_', ' ')}: {count}")
        return report.unreadable

    unreadable = asyncio.run(run())
    if unreadable:
        for item in unreadable:
            click.echo(f"unreadable with either key, left as it was: {item}", err=True)
        raise SystemExit(1)


@recordings.command("reindex")
@click.pass_context
def reindex_command(ctx: click.Context) -> None:
    """Rebuild the transcript search index (after upgrading; safe to run again)."""
    from callcenter.recording.crypto import RecordingCipher
    from callcenter.recording.rekey import reindex
    from hcrm_core.db import Database
    from hcrm_core.migrate import upgrade_async

    settings = _settings(ctx)
    cipher = RecordingCipher.from_setting(settings.recording.key.get_secret_value())
    if cipher is None:
        raise click.ClickException("recording.key is empty: there is nothing to index")

    async def run() -> tuple[int, int]:
        await upgrade_async(settings.database_url)
        database = Database(settings.database_url)
        try:
            return await reindex(database, cipher)
        finally:
            await database.dispose()

    indexed, unreadable = asyncio.run(run())
    click.echo(f"{indexed} transcripts indexed, {unreadable} not opened by recording.key")
    if unreadable:
        raise SystemExit(1)
