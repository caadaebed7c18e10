"""The slots benchmark runs end to end on a small hospital (SQLite): its figures are real."""

from __future__ import annotations

from typing import Any

from benchmarks import slots_extend


async def test_small_run_passes_and_prints_both_figures(capsys: Any) -> None:
    code = await slots_extend.main(["--engine", "sqlite", "--doctors", "2", "--days", "14"])
    out = capsys.readouterr().out
    assert code == 0
    # 2 doctors x 10 weekdays x 13 slots, created once, none the second time.
    assert "sqlite: 260 slots for 2 doctors over 14 days" in out
    assert "extend (260 slots)" in out and "extend again (0 new)" in out
