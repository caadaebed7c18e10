"""The rendered configuration as the real Asterisk 22 in the sandbox reads it.

Each check asks Asterisk itself (``asterisk -rx``) rather than re-reading our files: a typo in
an option name is silently ignored by Asterisk, and only its own report shows that.
"""

from __future__ import annotations

import re

import pytest

from callcenter.asterisk import const
from callcenter.asterisk.sandbox import ami_answers
from tests.support.asterisk_sandbox import AsteriskSandboxHandle

pytestmark = pytest.mark.asterisk


def perm_set(report: str, label: str) -> set[str]:
    match = re.search(rf"^\s*{label}:\s*(\S+)\s*$", report, re.MULTILINE)
    assert match, f"no {label!r} in:\n{report}"
    return set(match.group(1).split(","))


def test_status_reports_asterisk_22(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    status = asterisk_sandbox.sandbox.status()
    assert status.running and status.pid
    assert status.version and status.version.startswith("Asterisk 22.")
    assert ami_answers(asterisk_sandbox.ami_host, asterisk_sandbox.ami_port)


def test_inbound_dialplan_runs_the_ivr(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    report = asterisk_sandbox.cli(f"dialplan show {const.CONTEXT_INBOUND}")
    assert "AGI(${CALLCENTER_AGI}/ivr)" in report
    assert "DIALPLAN_EXISTS(callcenter-queues,${CALLCENTER_QUEUE},1)" in report
    assert "'_[+0-9].' =>" in report
    variables = asterisk_sandbox.cli("dialplan show globals")
    agi = asterisk_sandbox.settings.agi
    assert f"CALLCENTER_AGI=agi://{agi.host}:{agi.port}" in variables


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (const.CONTEXT_QUEUES, ["'_[a-z].' =>", "QUEUE_EXISTS(${EXTEN})", "'after-queue' =>"]),
        (
            "callcenter-record",
            ["MixMonitor(${CALLCENTER_RECORDINGS}/${CALLCENTER_RECORDING}.wav,br("],
        ),
        (const.CONTEXT_AGENTS, ["'_1XXX' =>", "'*99' =>"]),
        (const.CONTEXT_OUTBOUND_DIAL, ["FILTER(+0123456789,${EXTEN})"]),
        (const.CONTEXT_OUTBOUND, ["AGI(${CALLCENTER_AGI}/survey)"]),
        (const.CONTEXT_AGI_TEST, ["AGI(${CALLCENTER_AGI}/echo-digits)"]),
        (const.CONTEXT_SIM_PATIENT, ["UserEvent(SimPatient,Step: played)", "SendDTMF("]),
        (const.CONTEXT_SIM_AGENTS, ["'_1XXX' =>", "'_2XXX' =>", "'_3XXX' =>"]),
        (const.CONTEXT_SIM_CALLEE, ["'busy' =>", "'congestion' =>", "'noanswer' =>"]),
        (const.CONTEXT_SIM_LISTENER, ["UserEvent(SimListener,Step: answered)"]),
    ],
)
def test_contexts_are_loaded(
    asterisk_sandbox: AsteriskSandboxHandle, context: str, expected: list[str]
) -> None:
    report = asterisk_sandbox.cli(f"dialplan show {context}")
    assert f"Context '{context}'" in report, report
    for text in expected:
        assert text in report, f"{text!r} missing from:\n{report}"


def test_queues_are_configured(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    report = asterisk_sandbox.cli("queue show")
    for queue in const.QUEUES:
        assert re.search(rf"^{queue.name} has \d+ calls .* in 'rrmemory' strategy", report, re.M)
    rules = asterisk_sandbox.cli(f"queue show {const.QUEUES[0].name}")
    assert "No Callers" in rules or "Callers:" in rules


def test_pjsip_endpoints_and_loopback_transport(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    endpoints = asterisk_sandbox.cli("pjsip show endpoints")
    assert re.search(r"Endpoint:\s+1001\b", endpoints)
    assert re.search(r"Endpoint:\s+1002\b", endpoints)
    transports = asterisk_sandbox.cli("pjsip show transports")
    assert re.search(r"transport-udp\s+udp\s+\d+\s+\d+\s+" + re.escape(const.SIP_BIND), transports)


def test_manager_users_have_only_the_granted_classes(
    asterisk_sandbox: AsteriskSandboxHandle,
) -> None:
    users = asterisk_sandbox.cli("manager show users")
    assert asterisk_sandbox.ami_username in users
    assert const.SIM_DRIVER_USERNAME in users
    report = asterisk_sandbox.cli(f"manager show user {asterisk_sandbox.ami_username}")
    assert perm_set(report, "read perm") == set(const.AMI_READ_CLASSES)
    assert perm_set(report, "write perm") == set(const.AMI_WRITE_CLASSES)
    assert re.search(r"0:\s+deny - 0\.0\.0\.0/0\.0\.0\.0", report)
    # IPv4 rules never match IPv6 peers in Asterisk's ACLs: IPv6 is denied on its own.
    assert re.search(r"1:\s+deny - ::/::", report), report
    assert re.search(r"2:\s+allow - 127\.0\.0\.1/255\.255\.255\.255", report)
    driver = asterisk_sandbox.cli(f"manager show user {const.SIM_DRIVER_USERNAME}")
    assert not perm_set(driver, "write perm") & const.AMI_FORBIDDEN_WRITE_CLASSES


def test_manager_listens_on_loopback_only(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    report = asterisk_sandbox.cli("manager show settings")
    assert re.search(r"TCP Bindaddress:\s+127\.0\.0\.1:5038", report), report
    assert re.search(r"Web Manager \(AMI/HTTP\):\s+No", report), report


def test_unused_listeners_are_not_loaded(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    for module in ("chan_iax2", "chan_skinny", "chan_mgcp", "chan_unistim", "pbx_dundi"):
        report = asterisk_sandbox.cli(f"module show like {module}")
        assert "0 modules loaded" in report, report


def test_hold_music_is_installed(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    report = asterisk_sandbox.cli("moh show files")
    assert "Class: default" in report
    assert "File: " in report, "no hold music files: asterisk-moh-opsound-gsm missing?"


def test_no_csv_cdrs_and_no_verbose_lines_in_the_log_file(
    asterisk_sandbox: AsteriskSandboxHandle,
) -> None:
    # Both name callers' numbers; the server's call log is the record of calls.
    cdr = asterisk_sandbox.cli("cdr show status")
    assert re.search(r"Logging:\s+Disabled", cdr), cdr
    channels = asterisk_sandbox.cli("logger show channels")
    (messages,) = [line for line in channels.splitlines() if "messages.log" in line]
    assert "NOTICE" in messages and "VERBOSE" not in messages, channels
