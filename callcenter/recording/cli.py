"""``callcenter recordings ...``: work through the processing backlog, retention, keys."""

from __future__ import annotations

import asyncio

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

    await upgrade_async(settings.database_url)
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
