"""The ``callcenter`` command as an operator runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CALLCENTER = [sys.executable, "-m", "callcenter"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update({"CALLCENTER_DATA_DIR": str(tmp_path)}, **extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_command_has_help():
    commands = ([], ["serve"], ["db", "upgrade"], ["seed"], ["user", "add"], ["asterisk"])
    for args in (*commands, ["user", "set-extension"]):
        result = subprocess.run(
            [*CALLCENTER, *args, "--help"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout


def test_bad_configuration_exits_with_the_key_named(tmp_path):
    result = subprocess.run(
        [*CALLCENTER, "db", "upgrade"],
        capture_output=True,
        text=True,
        env=_env(tmp_path, CALLCENTER_AMI__PORT="x"),
        check=False,
    )
    assert result.returncode == 1
    assert "ami.port" in result.stderr


def test_user_add_and_duplicate(tmp_path):
    env = _env(tmp_path)
    args = [
        *CALLCENTER,
        "user",
        "add",
        "nurse.li",
        "--role",
        "agent",
        "--extension",
        "1001",
        "--password",
        "a-long-password",
    ]
    subprocess.run([*CALLCENTER, "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    assert "nurse.li" in created.stdout
    again = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_user_set_extension_assigns_the_one_extension_the_desk_accepts(tmp_path):
    env = _env(tmp_path)
    subprocess.run([*CALLCENTER, "db", "upgrade"], env=env, check=True, capture_output=True)
    for name in ("nurse.li", "nurse.wu"):
        subprocess.run(
            [*CALLCENTER, "user", "add", name, "--role", "agent", "--password", "a-long-password"],
            env=env,
            check=True,
            capture_output=True,
        )

    def set_extension(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*CALLCENTER, "user", "set-extension", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    done = set_extension("nurse.li", "1001")
    assert done.returncode == 0, done.stderr
    assert "1001" in done.stdout
    taken = set_extension("nurse.wu", "1001")
    assert taken.returncode == 1 and "already assigned" in taken.stderr
    bad = set_extension("nurse.wu", "10;01")
    assert bad.returncode == 1 and "extension" in bad.stderr
    unknown = set_extension("nobody", "1003")
    assert unknown.returncode == 1 and "no user named" in unknown.stderr
    cleared = set_extension("nurse.li", "none")
    assert cleared.returncode == 0 and "(none)" in cleared.stdout
    assert set_extension("nurse.wu", "1001").returncode == 0


def test_serve_answers_health_and_stops_cleanly_on_sigterm(tmp_path):
    port = _free_port()
    env = _env(
        tmp_path,
        CALLCENTER_WEB__PORT=str(port),
        CALLCENTER_AMI__PORT=str(_free_port()),
        CALLCENTER_AGI__PORT=str(_free_port()),
    )
    server = subprocess.Popen(
        [*CALLCENTER, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.load(r)
            except OSError:
                time.sleep(0.2)
        assert body is not None, "server never answered"
        assert body["parts"]["database"] == "ok"
        assert body["parts"]["ami"] == "down"  # no PBX on that port: retrying, not crashed
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=20)
    assert server.returncode == 0, output
    assert "shutting down" in output


def test_seed_demo_refuses_a_seeded_database_unless_if_empty(tmp_path):
    env = _env(tmp_path)
    seed = [*CALLCENTER, "seed", "--demo", "--patients", "50"]
    first = subprocess.run(seed, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(seed, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 1
    assert "already" in again.stderr
    quiet = subprocess.run(
        [*seed, "--if-empty"], env=env, capture_output=True, text=True, check=False
    )
    assert quiet.returncode == 0, quiet.stderr
    count = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
            "print(c.execute('select count(*) from patients').fetchone()[0])",
            str(tmp_path / "callcenter.sqlite3"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert count.stdout.strip() == "50"  # the second runs added nothing
