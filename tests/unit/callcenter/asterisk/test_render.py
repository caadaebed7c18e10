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
    # deny comes first so that permit narrows it; Asterisk applies the rules in order.
    assert user["deny"] == ["0.0.0.0/0.0.0.0"]
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
        assert f"exten => {queue.name},1," in dialplan
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
