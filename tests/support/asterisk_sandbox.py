"""Pytest plugin: the real Asterisk sandbox, brought up once per test session.

Registered by ``tests/conftest.py`` (``pytest_plugins``); ask for the ``asterisk_sandbox``
fixture in tests marked ``@pytest.mark.asterisk``.

The sandbox needs root. Without it (or when it cannot be built or started) the tests are
skipped with the reason, unless ``CALLCENTER_TEST_REQUIRE_ALL=1`` makes that a failure.
``CALLCENTER_TEST_ASTERISK_DIR`` overrides where the chroot is cached.

Several test sessions on one machine share the one Asterisk (AMI on 127.0.0.1:5038): they all
render the same configuration (the AMI secret below is fixed for that reason), and only the
last session to finish stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from pydantic import SecretStr

from callcenter.asterisk import const
from callcenter.asterisk.render import sim_driver_user
from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError, SandboxStatus
from callcenter.settings import AmiSettings, AsteriskSettings, Settings, ensure_secrets
from tests.conftest import require_or_skip

# Known to every test session so that concurrent sessions render identical manager.conf files
# and do not lock each other out. The sandbox's AMI listens on loopback only.
TEST_AMI_SECRET = "sandbox-test-secret"
SANDBOX_DIR_ENV = "CALLCENTER_TEST_ASTERISK_DIR"


@dataclass(frozen=True)
class AsteriskSandboxHandle:
    """What a test needs to drive the sandbox: settings, the sandbox, two AMI users."""

    settings: Settings
    sandbox: AsteriskSandbox
    ami_host: str
    ami_port: int
    # The server's user, with exactly the production classes.
    ami_username: str
    ami_secret: str
    # The test driver (sandbox only): also sees AGI and DTMF events, for pressing keys on cue.
    driver_username: str
    driver_secret: str

    def cli(self, command: str) -> str:
        """Run an Asterisk CLI command (``asterisk -rx``) and return its output."""
        return self.sandbox.cli(command)

    # Fault tests stop, crash and restart Asterisk; these block, so call them with
    # ``await asyncio.to_thread(handle.kill9)`` from async tests.
    def start(self) -> SandboxStatus:
        return self.sandbox.start()

    def stop(self) -> None:
        self.sandbox.stop()

    def kill9(self) -> None:
        self.sandbox.kill9()

    def reload(self) -> None:
        self.sandbox.reload()


def sandbox_test_settings(data_dir: Path) -> Settings:
    """Settings for a test session: its own data dir, the shared sandbox, fixed AMI secret."""
    sandbox_dir = os.environ.get(SANDBOX_DIR_ENV)
    asterisk = AsteriskSettings()
    if sandbox_dir:
        asterisk = AsteriskSettings(sandbox_dir=Path(sandbox_dir))
    settings = Settings(
        data_dir=data_dir,
        ami=AmiSettings(secret=SecretStr(TEST_AMI_SECRET)),
        asterisk=asterisk,
    )
    recordings = AsteriskSandbox(settings).recordings_dir
    settings = settings.model_copy(
        update={"asterisk": asterisk.model_copy(update={"recordings_local_path": recordings})}
    )
    return ensure_secrets(settings)


def _unavailable(reason: str) -> NoReturn:
    require_or_skip(f"Asterisk sandbox unavailable: {reason}")


@contextlib.contextmanager
def _shared_by_sessions(base: Path) -> Iterator[Callable[[], bool]]:
    """Hold a shared lock for the session; yields a check 'am I the last session?'."""
    base.mkdir(parents=True, exist_ok=True)
    with (base / ".sessions").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)

        def last_user() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        yield last_user


@pytest.fixture(scope="session")
def asterisk_sandbox(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[AsteriskSandboxHandle]:
    """The running sandbox Asterisk (built on first use: about a minute)."""
    if os.geteuid() != 0:
        _unavailable("needs root (debootstrap, chroot and mount)")
    settings = sandbox_test_settings(tmp_path_factory.mktemp("asterisk-data"))
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def progress(message: str) -> None:
        # A first build takes a minute or two: show why the session is waiting.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"[asterisk sandbox] {message}", file=sys.stderr, flush=True)

    sandbox = AsteriskSandbox(settings, progress=progress)
    with _shared_by_sessions(sandbox.base) as last_user:
        try:
            sandbox.start()
        except SandboxError as exc:
            _unavailable(str(exc))
        driver = sim_driver_user(settings)
        yield AsteriskSandboxHandle(
            settings=settings,
            sandbox=sandbox,
            ami_host=settings.ami.host,
            ami_port=settings.ami.port,
            ami_username=settings.ami.username,
            ami_secret=settings.ami.secret.get_secret_value(),
            driver_username=const.SIM_DRIVER_USERNAME,
            driver_secret=driver.secret,
        )
        if last_user():
            sandbox.stop()


# How long a test may wait for a killed sandbox to come back before it fails with the reason.
RESTART_TIMEOUT = 90.0


def _restart_if_down(sandbox: AsteriskSandbox, when: str) -> None:
    """Start Asterisk again if a fault test (this session's or another's) left it down."""
    if sandbox.pid() is not None:
        return
    try:
        sandbox.start(timeout=RESTART_TIMEOUT)
    except SandboxError as exc:
        pytest.fail(f"the sandbox Asterisk was down {when} and did not restart: {exc}")


@pytest.fixture(autouse=True)
def _sandbox_alive_around_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on the sandbox starts with Asterisk running and leaves it running: a fault test
    that kills it (``kill9``/``stop``) and fails before restarting it does not take the next
    tests down with it, and nothing waits for an Asterisk that is gone."""
    if "asterisk_sandbox" not in request.fixturenames:
        yield
        return
    handle: AsteriskSandboxHandle = request.getfixturevalue("asterisk_sandbox")
    _restart_if_down(handle.sandbox, "before the test")
    yield
    _restart_if_down(handle.sandbox, "after the test")
