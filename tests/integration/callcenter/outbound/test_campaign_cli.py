"""``callcenter campaign ...`` as an operator runs it (a real process, a real SQLite file)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

CALLCENTER = [sys.executable, "-m", "callcenter"]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [*CALLCENTER, *args], capture_output=True, text=True, check=False, env=env, timeout=120
    )


def test_campaign_commands(tmp_path: Path) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    for command in ("list", "create", "start", "pause", "stop", "results", "prompts"):
        shown = _run(tmp_path, "campaign", command, "--help")
        assert shown.returncode == 0 and "Usage:" in shown.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"window": {"end": "22:00"}}))
    refused = _run(
        tmp_path, "campaign", "create", "Late", "--kind", "survey", "--settings", str(bad)
    )
    assert refused.returncode != 0 and "window" in refused.stderr
    created = _run(tmp_path, "campaign", "create", "Survey", "--kind", "survey")
    assert created.returncode == 0, created.stderr
    campaign_id = created.stdout.strip()
    assert _run(tmp_path, "campaign", "start", campaign_id).stdout.startswith("running")
    listed = _run(tmp_path, "campaign", "list").stdout
    assert f"{campaign_id}\trunning\tsurvey\tSurvey" in listed
    out = tmp_path / "results.csv"
    assert _run(tmp_path, "campaign", "results", campaign_id, "--out", str(out)).returncode == 0
    header = next(csv.reader(io.StringIO(out.read_text())))
    assert header[:2] == ["attempt_id", "patient_id"] and header[-1] == "nps"
    assert _run(tmp_path, "campaign", "stop", campaign_id).returncode == 0
    again = _run(tmp_path, "campaign", "start", campaign_id)
    assert again.returncode != 0 and "stopped" in again.stderr
    missing = _run(tmp_path, "campaign", "pause", "999")
    assert missing.returncode != 0 and "no campaign with id 999" in missing.stderr
