"""``callcenter-agi`` as Asterisk starts it: a process on real pipes, fed an AGI session.

The replies are in Asterisk 22's format for the echo dialog's commands (as the sandbox gives
them); the sandbox calls themselves are in ``test_classic_asterisk.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.classic_agi_bridge import classic_env

ROOT = Path(__file__).resolve().parents[4]


ENVIRONMENT = (
    "agi_request: /var/lib/asterisk/agi-bin/callcenter/echo-digits\n"
    "agi_channel: Local/s@sim-patient-00000001;1\n"
    "agi_language: en\n"
    "agi_type: Local\n"
    "agi_uniqueid: 1763900000.11\n"
    "agi_callerid: 2125550142\n"
    "agi_calleridname: Caller\n"
    "agi_context: callcenter-agi-test\n"
    "agi_extension: s\n"
    "agi_priority: 2\n"
    "\n"
)
# Replies in Asterisk 22's format to the echo dialog's commands, in order (GET VARIABLE, ANSWER,
# GET DATA, SET VARIABLE, SAY DIGITS), as the sandbox answers them.
ECHO_REPLIES = (
    ("GET VARIABLE CHANNEL(linkedid)", "200 result=1 (1763900000.10)"),
    ("ANSWER", "200 result=0"),
    ("GET DATA beep 5000 8", "200 result=4721"),
    ('SET VARIABLE ECHO_DIGITS "4721"', "200 result=1"),
    ('SAY DIGITS 4721 ""', "200 result=0"),
)


def _start_script(tmp_path: Path) -> subprocess.Popen[bytes]:
    env = classic_env("sqlite+aiosqlite:///" + str(tmp_path / "unused.sqlite3"), tmp_path)
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter.ivr.classic"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )


def _read_command(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().decode().rstrip("\n")


def test_classic_script_runs_a_replayed_session_over_pipes(tmp_path: Path) -> None:
    process = _start_script(tmp_path)
    assert process.stdin is not None
    process.stdin.write(ENVIRONMENT.encode())
    process.stdin.flush()
    for expected, reply in ECHO_REPLIES:
        assert _read_command(process) == expected
        process.stdin.write(reply.encode() + b"\n")
        process.stdin.flush()
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert "2125550142" not in stderr  # pyst2's trace (caller ID) never reaches Asterisk's log


def test_sighup_from_asterisk_ends_the_script_as_a_hang_up(tmp_path: Path) -> None:
    process = _start_script(tmp_path)
    assert process.stdin is not None
    process.stdin.write(ENVIRONMENT.encode())
    process.stdin.flush()
    for expected, reply in ECHO_REPLIES[:2]:
        assert _read_command(process) == expected
        process.stdin.write(reply.encode() + b"\n")
        process.stdin.flush()
    assert _read_command(process) == ECHO_REPLIES[2][0]
    # The caller hangs up during GET DATA: Asterisk signals the script and answers -1.
    os.kill(process.pid, signal.SIGHUP)
    process.stdin.write(b"200 result=-1\n")
    process.stdin.flush()
    assert process.wait(timeout=30) == 0  # a hang-up is a normal end, not a failure
    assert _read_command(process) == ""  # and no command follows it


def test_unknown_route_fails_without_running_a_dialog(tmp_path: Path) -> None:
    process = _start_script(tmp_path)
    assert process.stdin is not None
    environment = ENVIRONMENT.replace("callcenter/echo-digits", "callcenter/no-such-route")
    out, _ = process.communicate(environment.encode(), timeout=30)
    assert process.returncode == 1
    assert out == b""  # not a single command was sent to Asterisk
