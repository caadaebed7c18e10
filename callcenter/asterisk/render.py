"""Render the Asterisk configuration files from the site settings.

Every value that reaches a file is validated here, once: Asterisk's config syntax treats ``;``
as a comment and a newline as the start of a new option, so a stray character in a secret or
a network list would silently change what Asterisk reads. Nothing supplied by a caller (caller
ID, digits) is ever rendered: the dialplan names recordings by Asterisk's own ids.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2

from callcenter.asterisk import const
from callcenter.asterisk.recording_policy import dialplan_globals
from callcenter.errors import CallcenterError
from callcenter.settings import Settings

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "asterisk_conf"

# Files every site gets. manager.conf holds the AMI secret, hence its stricter mode below.
SITE_FILES = (
    "asterisk.conf",
    "modules.conf",
    "logger.conf",
    "manager.conf",
    "extensions.conf",
    "queues.conf",
    "pjsip.conf",
    "musiconhold.conf",
    "features.conf",
    "confbridge.conf",
    "cdr.conf",
    "cel.conf",
    # Not read by Asterisk: installed as /etc/logrotate.d/asterisk-callcenter (docs/asterisk.md).
    "logrotate-asterisk",
)
# Simulated patients, agents and callees: only ever rendered for the sandbox.
SANDBOX_FILES = ("extensions_simulation.conf",)
SECRET_FILES = frozenset({"manager.conf", "pjsip.conf"})
PLAIN_AMI_PORT = 5038

_QUEUE_NAME = re.compile(r"[a-z][a-z0-9_-]{1,31}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
_PATH = re.compile(r"/[A-Za-z0-9/._-]*")
_CONFIG_BREAKERS = frozenset("\r\n\x00;")


class RenderError(CallcenterError, ValueError):
    """A setting cannot be written safely into an Asterisk configuration file."""


@dataclass(frozen=True)
class AmiUser:
    """One ``[user]`` section of manager.conf."""

    name: str
    secret: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    permit: tuple[str, ...]


@dataclass(frozen=True)
class SipPhone:
    """An example agent phone (sandbox only: a site declares its own in pjsip_site.conf)."""

    extension: str
    password: str


def render_config(
    settings: Settings,
    out_dir: Path,
    sandbox: bool,
    queues: Sequence[const.QueueSpec] | None = None,
) -> list[Path]:
    """Render every template into ``out_dir`` and return the written paths.

    ``sandbox`` adds the simulation dialplan, the test-driver AMI user and example phones.
    ``queues`` are the site's queues (kept in the database); None renders the two default ones.
    Raises :class:`RenderError` when a setting cannot be rendered safely.
    """
    context = template_context(settings, sandbox, queues)
    env = _environment()
    names = SITE_FILES + (SANDBOX_FILES if sandbox else ())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        text = env.get_template(name).render(context)
        mode = 0o640 if name in SECRET_FILES else 0o644
        written.append(_write_atomically(out_dir / name, text, mode))
    return written


def write_queues_conf(
    hospital_name: str, out_dir: Path, queues: Sequence[const.QueueSpec], *, sandbox: bool = False
) -> Path:
    """Render queues.conf alone (the server does, after a queue changed) into ``out_dir``."""
    context = {
        "sandbox": sandbox,
        "const": const,
        "hospital_name": _comment_text(hospital_name),
        "queues": _queues(queues),
    }
    text = _environment().get_template("queues.conf").render(context)
    return _write_atomically(out_dir / "queues.conf", text, 0o644)


def template_context(
    settings: Settings, sandbox: bool, queues: Sequence[const.QueueSpec] | None = None
) -> dict[str, Any]:
    """The validated values the templates see."""
    secret = settings.ami.secret.get_secret_value()
    ami_users = [
        AmiUser(
            name=_name(settings.ami.username, "ami.username"),
            secret=_config_value(secret, "ami.secret", required=True),
            read=const.AMI_READ_CLASSES,
            write=const.AMI_WRITE_CLASSES,
            permit=_permits(settings.ami.permit),
        )
    ]
    if sandbox:
        ami_users.append(sim_driver_user(settings))
    if settings.ami.tls and settings.ami.port == PLAIN_AMI_PORT:
        # With TLS on, the plain listener stays on loopback:5038 for local tools.
        raise RenderError("ami.tls needs its own port: 5038 is plain AMI (5039 is usual)")
    return {
        "sandbox": sandbox,
        "const": const,
        "hospital_name": _comment_text(settings.hospital.name),
        "language": _language(settings.hospital.languages),
        "ami": {
            "bindaddr": _bind_address(settings.ami.host),
            "port": settings.ami.port,
            "plain_port": PLAIN_AMI_PORT,
            "tls": settings.ami.tls,
            "users": ami_users,
            "writetimeout": const.AMI_WRITE_TIMEOUT_MS,
        },
        # The first address is CALLCENTER_AGI; with more, each AGI() falls back to the next.
        "agi_urls": settings.agi.asterisk_urls
        or [f"agi://{_host(settings.agi.host, 'agi.host')}:{settings.agi.port}"],
        "recordings_dir": _absolute_path(
            str(settings.asterisk.recordings_asterisk_path), "asterisk.recordings_asterisk_path"
        ),
        "queues": _queues(const.QUEUES if queues is None else queues),
        "recording_globals": dialplan_globals(settings.recording),
        "phones": _sandbox_phones(secret) if sandbox else [],
        "sip": _sip_security(settings),
        "logs": {
            "retention_days": log_retention_days(settings),
            "cdr_csv": settings.asterisk.cdr_csv,
        },
    }


def _queues(queues: Sequence[const.QueueSpec]) -> list[const.QueueSpec]:
    """The queues checked for queues.conf: names Asterisk accepts, plain numbers, no comment
    escaping its line."""
    seen: set[str] = set()
    result = []
    for queue in queues:
        if not _QUEUE_NAME.fullmatch(queue.name) or queue.name == "general":
            raise RenderError(f"queue name {queue.name!r} cannot be an Asterisk queue")
        if queue.name in seen:
            raise RenderError(f"queue {queue.name!r} is listed twice")
        if queue.strategy not in const.QUEUE_STRATEGIES:
            raise RenderError(f"queue {queue.name}: unknown strategy {queue.strategy!r}")
        numbers = (queue.timeout, queue.wrapuptime, queue.announce_frequency)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
            raise RenderError(f"queue {queue.name}: times must be whole seconds")
        seen.add(queue.name)
        result.append(replace(queue, description=_comment_text(queue.description)))
    return result


def log_retention_days(settings: Settings) -> int:
    """Days Asterisk's logs and CDRs are kept: ``asterisk.log_retention_days``, never longer
    than the call log itself (``recording.call_retention_days``, when set)."""
    days = settings.asterisk.log_retention_days
    calls = settings.recording.call_retention_days
    return min(days, calls) if calls > 0 else days


def _sip_security(settings: Settings) -> dict[str, Any]:
    """The optional TLS transport and SRTP for phones: both files, or neither."""
    asterisk = settings.asterisk
    cert, key = asterisk.sip_tls_cert, asterisk.sip_tls_key
    if (cert is None) != (key is None):
        raise RenderError("asterisk.sip_tls_cert and asterisk.sip_tls_key go together")
    if asterisk.sip_srtp and cert is None:
        # SDES sends the media keys in the SDP: over plain UDP anyone on the path reads them.
        raise RenderError("asterisk.sip_srtp needs TLS: set sip_tls_cert and sip_tls_key")
    return {
        "tls": cert is not None,
        "cert": _absolute_path(str(cert), "asterisk.sip_tls_cert") if cert else "",
        "key": _absolute_path(str(key), "asterisk.sip_tls_key") if key else "",
        "srtp": asterisk.sip_srtp,
    }


def sim_driver_user(settings: Settings) -> AmiUser:
    """The sandbox's test-driver AMI user; its secret is derived from the AMI secret."""
    secret = settings.ami.secret.get_secret_value()
    return AmiUser(
        name=const.SIM_DRIVER_USERNAME,
        secret=derive_secret(secret, "ami:" + const.SIM_DRIVER_USERNAME),
        read=const.SIM_DRIVER_READ_CLASSES,
        write=const.SIM_DRIVER_WRITE_CLASSES,
        permit=("127.0.0.1/255.255.255.255",),
    )


def derive_secret(master: str, label: str) -> str:
    """A stable secret for ``label`` derived from ``master``: no second secret to store."""
    if not master:
        raise RenderError("ami.secret is empty: run ensure_secrets() before rendering")
    digest = hmac.new(master.encode(), label.encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def _sandbox_phones(master: str) -> list[SipPhone]:
    return [SipPhone(ext, derive_secret(master, f"sip:{ext}")) for ext in ("1001", "1002")]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def _write_atomically(path: Path, text: str, mode: int) -> Path:
    # Asterisk may reload while we write: it must see the old file or the new one, never half.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _config_value(value: str, key: str, *, required: bool = False) -> str:
    if required and not value:
        raise RenderError(f"{key} is empty")
    bad = _CONFIG_BREAKERS.intersection(value)
    if bad or value != value.strip():
        raise RenderError(
            f"{key} contains characters Asterisk config files cannot hold "
            "(newline, ';', NUL or surrounding spaces)"
        )
    return value


def _name(value: str, key: str) -> str:
    if not _NAME.fullmatch(value):
        raise RenderError(f"{key} must be letters, digits, '.', '_' or '-' (got {value!r})")
    return value


def _host(value: str, key: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        if _HOST.fullmatch(value):
            return value
        raise RenderError(f"{key} must be an IP address or a host name (got {value!r})") from None
    return f"[{address}]" if address.version == 6 else str(address)


def _bind_address(host: str) -> str:
    """Where AMI listens: the address the server connects to, loopback by default.

    A host name cannot be bound; then AMI listens on all addresses and the deny/permit lists
    of the user are what keep others out.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "0.0.0.0"


def _permits(entries: Iterable[str]) -> tuple[str, ...]:
    """Normalise permit entries to the ``address/netmask`` form manager.conf documents."""
    result = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as exc:
            raise RenderError(f"ami.permit entry {entry!r} is not a network: {exc}") from None
        if network.version == 6:
            result.append(str(network))
        else:
            result.append(f"{network.network_address}/{network.netmask}")
    if not result:
        raise RenderError("ami.permit is empty: nobody could log in to AMI")
    return tuple(result)


def _language(languages: list[str]) -> str:
    language = languages[0] if languages else "en"
    if not _LANGUAGE.fullmatch(language):
        raise RenderError(f"hospital.languages[0] is not a language code: {language!r}")
    return language


def _absolute_path(value: str, key: str) -> str:
    if not _PATH.fullmatch(value) or "/../" in f"{value}/":
        raise RenderError(f"{key} must be an absolute path of plain characters (got {value!r})")
    return value.rstrip("/") or "/"


def _comment_text(value: str) -> str:
    # Only ever rendered after ';', so a newline is the one thing that could escape the comment.
    return " ".join(value.split())
