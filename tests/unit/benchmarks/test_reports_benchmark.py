"""The reports benchmark runs end to end on a small centre (SQLite): the events it seeds fold
into the stored calls (the rebuild finds no difference) and every figure is printed."""

from __future__ import annotations

from typing import Any

from benchmarks import reports


def test_small_run_prints_every_figure(capsys: Any) -> None:
    args = ["--engine", "sqlite", "--agents", "3", "--days", "31", "--calls-per-day", "20"]
    code = reports.main([*args, "--rebuild-days", "2"])
    out = capsys.readouterr().out
    assert "sqlite: 620 calls, 2,480 events" in out
    for by in ("day", "15min"):
        assert f"queue report, month by {by}, p95" in out
        assert f"agent report, month by {by}, p95" in out
    assert "rebuild (" in out
    # The two month reports are far under a second at this size; the rebuild's rate is noise.
    assert out.count("PASS") >= 2 and code in (0, 1)
