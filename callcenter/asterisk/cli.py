"""``callcenter asterisk ...``: render the configuration and run the sandboxed Asterisk."""

from __future__ import annotations

import click


@click.group()
def asterisk() -> None:
    """Asterisk configuration and the sandboxed Asterisk used by tests and the demo."""
