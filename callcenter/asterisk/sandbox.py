"""The sandboxed Asterisk: Debian unstable's Asterisk 22 in a debootstrap chroot.

Debian 12 has no Asterisk package, but a chroot of Debian unstable runs it unchanged. The chroot
shares the host's network namespace, so AMI, FastAGI and SIP are on the host's loopback exactly
as on a hospital's server, and MixMonitor's files appear under the chroot's spool directory.

Layout of ``settings.asterisk.sandbox_dir``:
    root/                   the finished chroot (only ever renamed into place when complete)
    root.building-*/        a build in progress, or the debris of an interrupted one
    asterisk.log            Asterisk's stdout and stderr (verbose console output)
    .lock                   serialises build, start and stop between processes
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from callcenter.asterisk import const
from callcenter.asterisk.render import render_config
from callcenter.errors import CallcenterError
from callcenter.settings import Settings

logger = logging.getLogger(__name__)

DEBIAN_SUITE = "sid"
# Core sounds for prompts and SAY, and the packaged hold music for callers in queues.
PACKAGES = ("asterisk", "asterisk-core-sounds-en-gsm", "asterisk-moh-opsound-gsm")
BUILT_MARKER = ".callcenter-sandbox-built"
# Waiting for another process holding the chroot: a first build (debootstrap) takes minutes.
LOCK_TIMEOUT = 600.0
ASTERISK = "/usr/sbin/asterisk"
# Asterisk's writable directories, as seen inside the chroot. The package owns them by the
# chroot's "asterisk" uid, which on the host may be anyone; we run Asterisk as root (not -U:
# dropping to a user loses the capabilities it needs to read the packaged files), so root
# must own them. They are chowned from inside the chroot because /var/run is an absolute
# symlink to /run that, followed from outside, would reach the host's /run.
WRITABLE_DIRS = (
    "/etc/asterisk",
    "/var/lib/asterisk",
    "/var/spool/asterisk",
    "/var/log/asterisk",
    "/run/asterisk",
)
# Asterisk inherits nothing from our environment (which may hold CALLCENTER_* secrets).
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}

Progress = Callable[[str], None]


class SandboxError(CallcenterError):
    """The sandbox cannot be built, started, stopped or reached; the message says why."""


@dataclass(frozen=True)
class SandboxStatus:
    """Whether the sandboxed Asterisk runs, and where to find it."""

    running: bool
    pid: int | None
    version: str | None
    root: Path
    ami: str
    log: Path

    def describe(self) -> str:
        state = f"running (pid {self.pid}, {self.version})" if self.running else "not running"
        return "\n".join(
            (
                f"Asterisk sandbox: {state}",
                f"  AMI:     {self.ami}",
                f"  chroot:  {self.root}",
                f"  log:     {self.log}",
                f"  console: chroot {self.root} {ASTERISK} -r",
            )
        )


class AsteriskSandbox:
    """Build, run and control the chroot Asterisk named by ``settings.asterisk.sandbox_dir``.

    Every public method is synchronous and needs root; build, start and stop are serialised
    between processes by a lock file, so concurrent test runs do not race each other.
    """

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.base = settings.asterisk.sandbox_dir
        self.root = self.base / "root"
        self.log_path = self.base / "asterisk.log"
        self._progress = progress or logger.info
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def recordings_dir(self) -> Path:
        """Host path of the directory Asterisk writes MixMonitor recordings to."""
        inside = self.settings.asterisk.recordings_asterisk_path
        return self.root / inside.relative_to("/")

    @property
    def ami_address(self) -> str:
        return f"{self.settings.ami.host}:{self.settings.ami.port}"

    # -- life cycle -------------------------------------------------------------------------

    def is_built(self) -> bool:
        return (self.root / BUILT_MARKER).exists()

    def ensure_built(self) -> None:
        """Build the chroot unless a finished one is cached (about a minute and 500 MB)."""
        require_root()
        with self._lock():
            self._build_if_missing()

    def start(self, timeout: float = 90.0) -> SandboxStatus:
        """Start Asterisk with freshly rendered configs; if it runs already, reload them."""
        require_root()
        with self._lock():
            self._build_if_missing()
            if self.pid() is not None:
                self._progress("Asterisk already runs: configuration re-rendered and reloaded")
                self._install_config()
                self.cli("core reload")
                return self.status()
            self._refuse_taken_port()
            self._mount_proc()
            self._install_config()
            self._chown_writable_dirs()
            pid = self._spawn()
            self._wait_until_ready(pid, timeout)
        return self.status()

    def reload(self) -> None:
        """Re-render the configuration into the chroot and ``core reload`` it."""
        require_root()
        self._install_config()
        self.cli("core reload")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Asterisk (``core stop now``, then signals if it hangs) and unmount /proc."""
        require_root()
        with self._lock():
            pid = self.pid()
            if pid is not None:
                self._stop_pid(pid, timeout)
            self._unmount_proc()

    def kill9(self) -> None:
        """Kill Asterisk without letting it clean up, as a crash would (for fault tests)."""
        require_root()
        pid = self.pid()
        if pid is None:
            raise SandboxError("the sandbox Asterisk is not running")
        self._signal(pid, signal.SIGKILL)
        if not self._wait_exit(pid, 10.0):
            raise SandboxError(f"Asterisk (pid {pid}) survived SIGKILL")

    def status(self) -> SandboxStatus:
        require_root()  # /proc/<pid>/root of a root process is unreadable to others
        pid = self.pid()
        version = None
        if pid is not None:
            with contextlib.suppress(SandboxError):
                version = self.cli("core show version").strip().split(" built ")[0]
        return SandboxStatus(
            running=pid is not None,
            pid=pid,
            version=version,
            root=self.root,
            ami=self.ami_address,
            log=self.log_path,
        )

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run one Asterisk CLI command (``asterisk -rx``) and return its output."""
        argv = ["chroot", str(self.root), ASTERISK, "-rx", command]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=CHROOT_ENV, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"asterisk -rx {command!r} timed out after {timeout} s") from exc
        if done.returncode != 0 or done.stdout.startswith("Unable to connect"):
            detail = (done.stdout + done.stderr).strip()
            raise SandboxError(f"asterisk -rx {command!r} failed: {detail}")
        return done.stdout

    def pid(self) -> int | None:
        """The pid of this chroot's running Asterisk, or None (stale pid files are ignored)."""
        pid_file = self.root / "run/asterisk/asterisk.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._is_our_asterisk(pid) else None

    # -- building ---------------------------------------------------------------------------

    def _build_if_missing(self) -> None:
        if self.is_built():
            return
        if shutil.which("debootstrap") is None:
            raise SandboxError("debootstrap is not installed: run scripts/install-asterisk-deps.sh")
        mirror = self.settings.asterisk.debian_mirror or find_debian_mirror()
        self.base.mkdir(parents=True, exist_ok=True)
        self._discard_partial_builds()
        staging = Path(tempfile.mkdtemp(prefix="root.building-", dir=self.base))
        self._progress(
            f"building the Asterisk sandbox from {mirror} into {self.root} "
            "(once; about a minute and 500 MB)"
        )
        started = time.monotonic()
        try:
            self._debootstrap(staging, mirror)
        except BaseException:
            unmount_under(staging)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        unmount_under(staging)
        (staging / BUILT_MARKER).write_text(f"{DEBIAN_SUITE} {mirror}\n")
        # The rename is the commit: a half-built tree never carries the final name.
        staging.rename(self.root)
        self._progress(f"sandbox built in {time.monotonic() - started:.0f} s")

    def _debootstrap(self, target: Path, mirror: str) -> None:
        argv = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            DEBIAN_SUITE,
            str(target),
            mirror,
        ]
        output: list[str] = []
        phases: set[str] = set()
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line.rstrip())
                # "I: Retrieving libc6 2.41-..." → report each phase once, not every package.
                words = line.split()
                if len(words) >= 2 and words[0] == "I:" and words[1] not in phases:
                    phases.add(words[1])
                    self._progress(f"  debootstrap: {line[3:].strip()}")
        if process.returncode != 0:
            tail = "\n".join(output[-15:])
            raise SandboxError(
                f"debootstrap failed (exit {process.returncode}); is the Debian archive "
                f"{mirror} reachable from this machine? Last output:\n{tail}"
            )

    def _discard_partial_builds(self) -> None:
        for debris in self.base.glob("root.building-*"):
            self._progress(f"removing an interrupted build: {debris}")
            unmount_under(debris)
            shutil.rmtree(debris)

    # -- running ----------------------------------------------------------------------------

    def _install_config(self) -> None:
        render_config(self.settings, self.root / "etc/asterisk", sandbox=True)

    def _chown_writable_dirs(self) -> None:
        for inside in WRITABLE_DIRS:
            (self.root / inside.lstrip("/")).mkdir(parents=True, exist_ok=True)
        argv = ["chroot", str(self.root), "chown", "-R", "root:root", *WRITABLE_DIRS]
        subprocess.run(argv, check=True, env=CHROOT_ENV, capture_output=True)

    def _mount_proc(self) -> None:
        target = self.root / "proc"
        if str(target) not in mount_points():
            subprocess.run(["mount", "-t", "proc", "proc", str(target)], check=True)

    def _unmount_proc(self) -> None:
        unmount_under(self.root)

    def _refuse_taken_port(self) -> None:
        host, port = self.settings.ami.host, self.settings.ami.port
        try:
            with socket.create_connection((host, port), timeout=1.0):
                pass
        except OSError:
            return
        raise SandboxError(
            f"{host}:{port} is already in use by another program (not this sandbox's "
            "Asterisk); stop it or choose another ami.port"
        )

    def _spawn(self) -> int:
        self.base.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== sandbox start {time.strftime('%F %T')} ===\n".encode())
            log.flush()
            # -f: stay in the foreground so we own the process; its own session and process
            # group keep it alive after the command that started it exits.
            self._process = subprocess.Popen(
                ["chroot", str(self.root), ASTERISK, "-f", "-n", "-vvv"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=CHROOT_ENV,
                start_new_session=True,
            )
        return self._process.pid

    def _wait_until_ready(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ami_answers(self.settings.ami.host, self.settings.ami.port):
            if not self._alive(pid):
                raise SandboxError(f"Asterisk exited during start-up; see {self.log_path}")
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"AMI did not answer within {timeout:.0f} s; see {self.log_path}"
                )
            time.sleep(0.2)
        # AMI answers before the modules load; this returns once the dialplan and queues are in.
        self.cli("core waitfullybooted", timeout=max(deadline - time.monotonic(), 1.0))

    def _stop_pid(self, pid: int, timeout: float) -> None:
        try:
            self.cli("core stop now", timeout=10.0)
        except SandboxError as exc:
            logger.warning("core stop now failed (%s); signalling Asterisk pid %s", exc, pid)
        if self._wait_exit(pid, timeout):
            return
        logger.warning("Asterisk pid %s ignored core stop now; sending SIGTERM", pid)
        self._signal(pid, signal.SIGTERM)
        if not self._wait_exit(pid, 5.0):
            self._signal(pid, signal.SIGKILL)
            self._wait_exit(pid, 5.0)

    def _signal(self, pid: int, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            # Our Asterisk leads its own process group; one started by hand may not.
            if os.getpgid(pid) == pid:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _alive(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None  # reaps our own child
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"

    def _is_our_asterisk(self, pid: int) -> bool:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            root = os.readlink(f"/proc/{pid}/root")
        except (FileNotFoundError, PermissionError):
            return False
        return comm == "asterisk" and root == str(self.root.resolve()) and self._alive(pid)

    @contextlib.contextmanager
    def _lock(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """The chroot to ourselves; SandboxError after ``timeout`` s (a stuck holder never
        hangs the demo or a test session)."""
        self.base.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        with (self.base / ".lock").open("w") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise SandboxError(
                            f"{self.base / '.lock'} held by another process for {timeout:.0f} s "
                            "(a sandbox build or start in progress?)"
                        ) from None
                    time.sleep(0.2)
            yield


def require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError("the Asterisk sandbox needs root (debootstrap, chroot and mount)")


def ami_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when an Asterisk Manager Interface greets us at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            banner = sock.recv(128).decode("ascii", "replace")
    except OSError:
        return False
    return banner.startswith(const.AMI_BANNER_PREFIX)


def mount_points() -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        # Fields are space-separated with spaces inside paths written as \040.
        return [line.split()[1].replace("\\040", " ") for line in mounts if len(line.split()) > 1]


def unmount_under(path: Path) -> None:
    """Unmount everything mounted at or below ``path``, deepest first.

    debootstrap mounts /proc and /sys in its target while it installs; an interrupted build
    leaves them behind, and deleting the tree without unmounting them first would descend
    into the host's /proc and /sys.
    """
    prefix = str(path.resolve())
    inside = [p for p in mount_points() if p == prefix or p.startswith(prefix + "/")]
    for point in sorted(inside, key=len, reverse=True):
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode:
            # Busy (a process still has its cwd there): detach now, the kernel finishes later.
            subprocess.run(["umount", "-l", point], capture_output=True, check=True)


def find_debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive URI this machine's own apt sources use (deb822 or one-line format)."""
    uris: list[str] = []
    for path in sorted(apt_dir.glob("sources.list.d/*.sources")):
        uris += _deb822_uris(path.read_text(encoding="utf-8"))
    for path in [apt_dir / "sources.list", *sorted(apt_dir.glob("sources.list.d/*.list"))]:
        if path.exists():
            uris += _one_line_uris(path.read_text(encoding="utf-8"))
    for uri in uris:
        # The main archive lives at .../debian on every mirror; debian-security and
        # third-party repositories do not carry sid.
        if uri.startswith(("http://", "https://", "file:/")) and uri.rstrip("/").endswith(
            "/debian"
        ):
            return uri.rstrip("/")
    raise SandboxError(
        f"no Debian archive found in {apt_dir}/sources.list(.d); "
        "set asterisk.debian_mirror to the archive URL"
    )


def _deb822_uris(text: str) -> list[str]:
    uris = []
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line.startswith("#") or line[:1].isspace() or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            uris += fields.get("uris", "").split()
    return uris


def _one_line_uris(text: str) -> list[str]:
    uris = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            # Options such as [arch=amd64 signed-by=...] may contain spaces until the "]".
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if words:
            uris.append(words[0])
    return uris
