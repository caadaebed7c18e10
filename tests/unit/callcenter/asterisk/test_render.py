"""Rendering the Asterisk configuration: safety properties of the files we hand to sites."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from callcenter.asterisk import const
from callcenter.asterisk.render import (
    SANDBOX_FILES,
    SITE_FILES,
    RenderError,
    derive_secret,
    render_config,
)
from callcenter.settings import AgiSettings, AmiSettings, HospitalSettings, Settings

SECRET = "unit-test-secret"


def make_settings(**ami: object) -> Settings:
    fields: dict[str, object] = {"secret": SecretStr(SECRET), **ami}
    return Settings(ami=AmiSettings(**fields))


def render(tmp_path: Path, settings: Settings | None = None, sandbox: bool = False) -> Path:
    render_config(settings or make_settings(), tmp_path, sandbox=sandbox)
    return tmp_path


def sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """A small reader for Asterisk's config syntax: [section] then key = value lines."""
    result: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if header := re.fullmatch(r"\[([^\]]+)\](\(.*\))?", line):
            current = header.group(1)
            result.setdefault(current, [])
        elif "=" in line:
            key, _, value = line.partition("=")
            result[current].append((key.strip().lstrip(">").strip(), value.lstrip(">").strip()))
    return result


def manager_users(out: Path) -> dict[str, dict[str, list[str]]]:
    users: dict[str, dict[str, list[str]]] = {}
    for name, pairs in sections((out / "manager.conf").read_text()).items():
        if name == "general":
            continue
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        users[name] = values
    return users


def test_site_render_writes_only_site_files(tmp_path: Path) -> None:
    written = render_config(make_settings(), tmp_path, sandbox=False)
    assert sorted(p.name for p in written) == sorted(SITE_FILES)
    assert not (tmp_path / "extensions_simulation.conf").exists()


def test_sandbox_render_adds_simulation(tmp_path: Path) -> None:
    written = render_config(make_settings(), tmp_path, sandbox=True)
    assert sorted(p.name for p in written) == sorted(SITE_FILES + SANDBOX_FILES)
    extensions = (tmp_path / "extensions.conf").read_text()
    assert "#include extensions_simulation.conf" in extensions
    # Contexts a sandbox test installs for itself (tests/.../test_agi_fallback_asterisk.py).
    assert "#tryinclude extensions_test_*.conf" in extensions
    simulation = (tmp_path / "extensions_simulation.conf").read_text()
    for context in (
        const.CONTEXT_SIM_PATIENT,
        const.CONTEXT_SIM_AGENTS,
        const.CONTEXT_SIM_CALLEE,
        const.CONTEXT_SIM_LISTENER,
    ):
        assert f"[{context}]" in simulation
    assert "UserEvent(SimPatient" in simulation


def test_site_dialplan_has_no_simulation(tmp_path: Path) -> None:
    out = render(tmp_path)
    text = "".join(p.read_text() for p in out.glob("*.conf"))
    assert "sim-" not in text
    assert "SIM_" not in text
    assert const.SIM_DRIVER_USERNAME not in text
    assert "extensions_test_" not in text


def test_site_dialplan_contexts(tmp_path: Path) -> None:
    names = sections((render(tmp_path) / "extensions.conf").read_text())
    for context in (
        const.CONTEXT_INBOUND,
        const.CONTEXT_QUEUES,
        const.CONTEXT_AGENTS,
        const.CONTEXT_OUTBOUND,
        const.CONTEXT_OUTBOUND_DIAL,
        const.CONTEXT_AGI_TEST,
    ):
        assert context in names


@pytest.mark.parametrize("sandbox", [False, True])
def test_manager_users_never_get_dangerous_classes(tmp_path: Path, sandbox: bool) -> None:
    users = manager_users(render(tmp_path, sandbox=sandbox))
    assert users, "manager.conf declares no user"
    for name, values in users.items():
        (write,) = values["write"]
        assert not set(write.split(",")) & const.AMI_FORBIDDEN_WRITE_CLASSES, name
        assert not {"system", "command", "config"} & set(write.split(",")), name
        # Reading "system" brings FullyBooted and Shutdown events; it runs nothing.
        (read,) = values["read"]
        assert not set(read.split(",")) & const.AMI_FORBIDDEN_READ_CLASSES, name


def test_manager_user_classes_and_acl(tmp_path: Path) -> None:
    users = manager_users(render(tmp_path))
    assert list(users) == ["callcenter"]
    user = users["callcenter"]
    assert user["secret"] == [SECRET]
    assert user["read"] == [",".join(const.AMI_READ_CLASSES)]
    assert user["write"] == [",".join(const.AMI_WRITE_CLASSES)]
    # deny comes first so that permit narrows it; Asterisk applies the rules in order, an
    # IPv4 rule only to IPv4 peers and an IPv6 rule only to IPv6 peers: both families denied.
    assert user["deny"] == ["0.0.0.0/0.0.0.0", "::/0"]
    assert user["permit"] == ["127.0.0.1/255.255.255.255"]
    assert user["writetimeout"] == [str(const.AMI_WRITE_TIMEOUT_MS)]


def test_manager_binds_loopback_by_default(tmp_path: Path) -> None:
    general = dict(sections((render(tmp_path) / "manager.conf").read_text())["general"])
    assert general["bindaddr"] == "127.0.0.1"
    assert general["port"] == "5038"
    assert general["webenabled"] == "no"


@pytest.mark.parametrize(
    ("host", "bindaddr"),
    [("10.1.2.3", "10.1.2.3"), ("localhost", "127.0.0.1"), ("pbx.example", "0.0.0.0")],
)
def test_manager_bindaddr_follows_ami_host(tmp_path: Path, host: str, bindaddr: str) -> None:
    out = render(tmp_path, make_settings(host=host))
    general = dict(sections((out / "manager.conf").read_text())["general"])
    assert general["bindaddr"] == bindaddr


def test_permit_entries_are_normalised(tmp_path: Path) -> None:
    out = render(tmp_path, make_settings(permit=["10.0.0.0/8", "192.168.1.7"]))
    user = manager_users(out)["callcenter"]
    assert user["permit"] == ["10.0.0.0/255.0.0.0", "192.168.1.7/255.255.255.255"]


def test_live_dangerously_is_off(tmp_path: Path) -> None:
    options = dict(sections((render(tmp_path) / "asterisk.conf").read_text())["options"])
    assert options["live_dangerously"] == "no"


def test_tls_moves_plain_ami_to_loopback(tmp_path: Path) -> None:
    out = render(tmp_path, make_settings(tls=True, port=5039, host="10.0.0.5"))
    general = dict(sections((out / "manager.conf").read_text())["general"])
    assert general["tlsenable"] == "yes"
    assert general["tlsbindaddr"] == "10.0.0.5:5039"
    assert general["bindaddr"] == "127.0.0.1"


def test_tls_on_the_plain_port_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="tls"):
        render(tmp_path, make_settings(tls=True))


@pytest.mark.parametrize("secret", ["abc;def", "abc\ndeny=", " padded", ""])
def test_secret_that_would_break_the_file_is_refused(tmp_path: Path, secret: str) -> None:
    with pytest.raises(RenderError, match=r"ami\.secret"):
        render(tmp_path, make_settings(secret=SecretStr(secret)))


@pytest.mark.parametrize("username", ["bad user", "x]\n[admin", "general;"])
def test_bad_ami_username_is_refused(tmp_path: Path, username: str) -> None:
    with pytest.raises(RenderError, match=r"ami\.username"):
        render(tmp_path, make_settings(username=username))


@pytest.mark.parametrize("sandbox", [False, True])
def test_every_ami_user_denies_ipv4_and_ipv6_before_its_permits(
    tmp_path: Path, sandbox: bool
) -> None:
    settings = make_settings(permit=["10.0.0.0/8", "fd00::/8"])
    text = (render(tmp_path, settings, sandbox=sandbox) / "manager.conf").read_text()
    for name, pairs in sections(text).items():
        if name == "general":
            continue
        acl = [(key, value) for key, value in pairs if key in ("deny", "permit")]
        assert acl[:2] == [("deny", "0.0.0.0/0.0.0.0"), ("deny", "::/0")], name
        assert all(key == "permit" for key, _ in acl[2:]) and len(acl) > 2, name
    assert ("permit", "fd00::/8") in sections(text)["callcenter"]


def test_bad_permit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="permit"):
        render(tmp_path, make_settings(permit=["everyone"]))


def test_hospital_name_cannot_escape_its_comment(tmp_path: Path) -> None:
    evil = "Evil\n[hospital-inbound]\nexten => s,1,System(rm -rf /)"
    settings = make_settings().model_copy(update={"hospital": HospitalSettings(name=evil)})
    out = render(tmp_path, settings)
    for path in out.glob("*.conf"):
        for line in path.read_text().splitlines():
            assert not line.startswith("exten => s,1,System"), path.name


def test_agi_url_uses_settings(tmp_path: Path) -> None:
    settings = make_settings().model_copy(update={"agi": AgiSettings(host="::1", port=4600)})
    text = (render(tmp_path, settings) / "extensions.conf").read_text()
    assert "CALLCENTER_AGI = agi://[::1]:4600" in text
    assert f"AGI(${{CALLCENTER_AGI}}/{const.AGI_ROUTE_IVR})" in text


@pytest.mark.parametrize("sandbox", [False, True])
def test_caller_data_never_reaches_commands_or_files(tmp_path: Path, sandbox: bool) -> None:
    out = render(tmp_path, sandbox=sandbox)
    dialplan = "".join(p.read_text() for p in out.glob("extensions*.conf"))
    code = "\n".join(line.split(";", 1)[0] for line in dialplan.splitlines())
    # Caller ID and connected line are caller-supplied: no use of them at all.
    assert "CALLERID" not in code.upper()
    assert "CONNECTEDLINE" not in code.upper()
    for dangerous in ("System(", "TrySystem(", "SHELL(", "Exec("):
        assert dangerous not in code
    # Recordings are named from Asterisk's own ids only.
    (mixmonitor,) = re.findall(r"MixMonitor\((.*)\)$", code, re.M)
    stem = "${CALLCENTER_RECORDINGS}/${CALLCENTER_RECORDING}"
    assert mixmonitor == f"{stem}.wav,br({stem}-caller.wav)t({stem}-agent.wav)"
    assert "Set(CALLCENTER_RECORDING=${CHANNEL(linkedid)}-${EPOCH})" in code


def test_outbound_numbers_are_filtered_before_dialling(tmp_path: Path) -> None:
    text = (render(tmp_path) / "extensions.conf").read_text()
    assert "${FILTER(+0123456789,${EXTEN})}" in text
    assert f"Dial(PJSIP/${{CALLCENTER_NUMBER}}@{const.TRUNK_ENDPOINT},60)" in text


def test_queues_match_the_queue_dialplan(tmp_path: Path) -> None:
    out = render(tmp_path)
    queues = sections((out / "queues.conf").read_text())
    dialplan = (out / "extensions.conf").read_text()
    template = dict(queues["callcenter-queue"])
    assert template["joinempty"] == "unavailable,invalid"
    assert template["leavewhenempty"] == "unavailable,invalid"
    for queue in const.QUEUES:
        assert queue.name in queues
    # One pattern reaches every queue of queues.conf, those added later included.
    assert "exten => _[a-z].,1," in dialplan and "QUEUE_EXISTS(${EXTEN})" in dialplan
    assert "general" not in {q.name for q in const.QUEUES}


def test_manager_conf_is_not_world_readable(tmp_path: Path) -> None:
    out = render(tmp_path)
    assert (out / "manager.conf").stat().st_mode & 0o007 == 0


def test_sandbox_phones_get_derived_passwords(tmp_path: Path) -> None:
    text = (render(tmp_path, sandbox=True) / "pjsip.conf").read_text()
    assert f"password = {derive_secret(SECRET, 'sip:1001')}" in text
    site = (render(tmp_path / "site") / "pjsip.conf").read_text()
    assert "password =" not in site.replace(";   password", "")
    assert "#tryinclude pjsip_site.conf" in site


def test_derive_secret_is_stable_and_label_specific() -> None:
    assert derive_secret("m", "a") == derive_secret("m", "a")
    assert derive_secret("m", "a") != derive_secret("m", "b")
    with pytest.raises(RenderError):
        derive_secret("", "a")


def test_cli_render(tmp_path: Path) -> None:
    from callcenter.cli import cli

    runner = CliRunner()
    env = {"CALLCENTER_DATA_DIR": str(tmp_path / "data"), "CALLCENTER_AMI__SECRET": SECRET}
    result = runner.invoke(cli, ["asterisk", "render", "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "manager.conf").exists()
    assert not (tmp_path / "out" / "extensions_simulation.conf").exists()


def test_cli_render_reports_bad_settings(tmp_path: Path) -> None:
    from callcenter.cli import cli

    env = {"CALLCENTER_DATA_DIR": str(tmp_path), "CALLCENTER_AMI__SECRET": "bad;secret"}
    result = CliRunner().invoke(cli, ["asterisk", "render", "--out", str(tmp_path)], env=env)
    assert result.exit_code != 0
    assert "ami.secret" in result.output


def _with_asterisk(**values: object) -> Settings:
    base = make_settings()
    return base.model_copy(update={"asterisk": base.asterisk.model_copy(update=values)})


def test_asterisk_logs_keep_no_caller_numbers_and_expire(tmp_path: Path) -> None:
    out = render(tmp_path, _with_asterisk(log_retention_days=14))
    logger = sections((out / "logger.conf").read_text())
    assert ("rotatestrategy", "rotate") in logger["general"]
    # Verbose lines name dialled numbers and caller IDs: not written to the file.
    files = dict(logger["logfiles"])
    assert "verbose" not in files["messages.log"]
    rotate = (out / "logrotate-asterisk").read_text()
    assert "/var/log/asterisk/cdr-csv/*.csv" in rotate
    assert "/var/log/asterisk/*.log" in rotate and "/var/log/asterisk/*_log" in rotate
    assert re.search(r"^\s+maxage 14$", rotate, re.MULTILINE)
    assert re.search(r"^\s+rotate 14$", rotate, re.MULTILINE)
    assert re.search(r"^\s+daily$", rotate, re.MULTILINE)


def test_asterisk_logs_never_outlive_the_call_log(tmp_path: Path) -> None:
    base = _with_asterisk(log_retention_days=30)
    settings = base.model_copy(
        update={"recording": base.recording.model_copy(update={"call_retention_days": 7})}
    )
    rotate = (render(tmp_path, settings) / "logrotate-asterisk").read_text()
    assert re.search(r"^\s+maxage 7$", rotate, re.MULTILINE)


def test_csv_cdrs_are_off_unless_asked_for(tmp_path: Path) -> None:
    cdr = sections((render(tmp_path / "off") / "cdr.conf").read_text())
    assert cdr == {"general": [("enable", "no")]}
    on = sections((render(tmp_path / "on", _with_asterisk(cdr_csv=True)) / "cdr.conf").read_text())
    assert ("enable", "yes") in on["general"] and "csv" in on


def test_sip_is_udp_only_without_tls_files(tmp_path: Path) -> None:
    pjsip = sections((render(tmp_path) / "pjsip.conf").read_text())
    assert "transport-tls" not in pjsip
    assert not [key for key, _ in pjsip["agent-phone"] if key.startswith("media_encryption")]


def test_tls_transport_and_srtp_for_phones(tmp_path: Path) -> None:
    settings = _with_asterisk(
        sip_tls_cert="/etc/asterisk/keys/sip.pem",
        sip_tls_key="/etc/asterisk/keys/sip.key",
        sip_srtp=True,
    )
    pjsip = sections((render(tmp_path, settings) / "pjsip.conf").read_text())
    tls = dict(pjsip["transport-tls"])
    assert tls["protocol"] == "tls"
    assert tls["bind"] == const.SIP_TLS_BIND
    assert (tls["cert_file"], tls["priv_key_file"]) == (
        "/etc/asterisk/keys/sip.pem",
        "/etc/asterisk/keys/sip.key",
    )
    phone = dict(pjsip["agent-phone"])
    assert phone["media_encryption"] == "sdes"
    assert phone["media_encryption_optimistic"] == "no"
    assert phone["transport"] == "transport-tls"
    # The trunk is the carrier's choice: untouched.
    assert "media_encryption" not in dict(pjsip["trunk-endpoint"])


def test_tls_without_srtp_keeps_phones_media_as_they_are(tmp_path: Path) -> None:
    settings = _with_asterisk(
        sip_tls_cert="/etc/asterisk/keys/sip.pem", sip_tls_key="/etc/asterisk/keys/sip.key"
    )
    pjsip = sections((render(tmp_path, settings) / "pjsip.conf").read_text())
    assert "transport-tls" in pjsip
    assert "media_encryption" not in dict(pjsip["agent-phone"])


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"sip_srtp": True}, "sip_srtp needs TLS"),
        ({"sip_tls_cert": "/etc/asterisk/keys/sip.pem"}, "go together"),
        ({"sip_tls_key": "/etc/asterisk/keys/sip.key"}, "go together"),
        (
            {"sip_tls_cert": "/etc/keys/a;b.pem", "sip_tls_key": "/etc/asterisk/keys/sip.key"},
            "sip_tls_cert",
        ),
    ],
)
def test_bad_sip_security_settings_are_refused(
    tmp_path: Path, values: dict[str, object], match: str
) -> None:
    with pytest.raises(RenderError, match=match):
        render(tmp_path, _with_asterisk(**values))


def test_a_consent_answer_never_widens_the_recording_policy(tmp_path: Path) -> None:
    """CALLCENTER_RECORD=yes (the IVR's consent) lets the site's policy decide; no never records.

    A yes must not record a call whose queue or site policy is never, nor turn on_demand into
    always; the sandbox test test_the_dialplan_picks_the_recording_policy runs the same calls."""
    text = (render(tmp_path) / "extensions.conf").read_text()
    record = text.split("[callcenter-record]", 1)[1].split("\n\n", 1)[0]
    steps = [line.split(",", 1)[1] for line in record.splitlines() if "policy" in line]
    assert steps[:6] == [
        "Set(LOCAL(policy)=${CALLCENTER_RECORD})",
        'ExecIf($["${policy}" = "yes"]?Set(LOCAL(policy)=))',
        'ExecIf($["${policy}" = "no"]?Set(LOCAL(policy)=never))',
        'ExecIf($["${policy}" = ""]?Set(LOCAL(policy)=${CALLCENTER_RECORD_POLICY_${ARG1}}))',
        'ExecIf($["${policy}" = "" & "${CALLCENTER_RECORD_SCOPE}" = "inbound"]'
        "?Set(LOCAL(policy)=${CALLCENTER_RECORD_INBOUND}))",
        'ExecIf($["${policy}" = ""]?Set(LOCAL(policy)=${CALLCENTER_RECORD_DEFAULT}))',
    ]
