"""What can go wrong on an AGI session, typed so a dialog decides what the caller hears."""

from __future__ import annotations

from callcenter.errors import CallcenterError


class AgiError(CallcenterError):
    """Base of every AGI failure."""


class CallerHungUp(AgiError):
    """The channel hung up; nothing more can be said to the caller."""


class ApplicationFailed(CallerHungUp):
    """result=-1: the application failed, which in practice means the channel is gone."""


class AgiTimeout(AgiError):
    """Asterisk did not answer a command in time (the channel is treated as gone)."""


class AgiCommandError(AgiError):
    """Asterisk refused or failed a command (5xx, or result=-1)."""

    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"{command}: {detail}")
        self.command = command
        self.detail = detail


class UnsafeAgiValue(AgiError):
    """A value that could break or inject an AGI command was refused before sending."""


class SoundMissing(AgiError):
    """Asterisk could not play a sound file (not installed: run ``callcenter prompts build``).

    Asterisk answers a missing file with result=-1, as it does when the channel hangs up; the
    channel is probed to tell the two apart.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"sound file missing: {name}")
        self.name = name


class RecordingFailed(AgiError):
    """Asterisk could not write a recording (its directory is missing or not writable)."""

    def __init__(self, where: str) -> None:
        super().__init__(f"cannot record into {where}")
        self.where = where
