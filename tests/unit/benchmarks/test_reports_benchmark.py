"""The reports benchmark runs end to end on a small centre (SQLite): the events it seeds fold
into the stored calls (the rebuild finds no difference, calls that ended in the menus
included: the benchmark asserts it) and every report's figure is printed."""

from __future__ import annotations

from typing import Any

from benchmarks import reports


def test_small_run_prints_every_figure(capsys: Any) -> None:
    args = ["--engine", "sqlite", "--agents", "3", "--days", "31", "--calls-per-day", "20"]
    code = reports.main([*args, "--rebuild-days", "2", "--samples", "1"])
    out = capsys.readouterr().out
    # 620 queue calls, and the IVR's own: bookings, cancellations, hang-ups in the menus.
    assert "sqlite: 2,011 calls, 5,262 events" in out
    for by in ("day", "15min"):
        for name in ("queue", "agent", "IVR", "campaign", "appointment", "complaint", "task"):
            assert f"{name} report, month by {by}, p95" in out
    assert "RFM group counts, now, p95" in out and "segment counts, now, p95" in out
    assert "rebuild (" in out
    # Every figure gets its verdict. Not asserted: which ones pass (speed is the benchmark's
    # to measure, on a quiet machine; under the test suite's load a sample may take a second).
    verdicts = [line for line in out.splitlines() if line.rstrip().endswith(("PASS", "FAIL"))]
    assert len(verdicts) == 17 and code == (0 if all("PASS" in v for v in verdicts) else 1)
