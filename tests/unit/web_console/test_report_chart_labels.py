"""The SVG chart thins its axis labels so they never overlap, and escapes what it draws."""

from __future__ import annotations

import re

from web_console.report_charts import Series, stacked_columns


def _axis_labels(svg: str) -> list[str]:
    return re.findall(r'text-anchor="middle">([^<]*)</text>', svg)


def test_hour_labels_of_a_day_are_thinned_to_fit():
    labels = [f"2026-11-03 {h:02d}:00" for h in range(24)]
    svg = str(stacked_columns("t", labels, [Series("a", "#000", [1.0] * 24)]))
    shown = _axis_labels(svg)
    # "11-03 00:00" is 11 characters: about ten fit the plot's width, so every third is kept.
    assert shown == [f"11-03 {h:02d}:00" for h in range(0, 24, 3)]


def test_short_labels_are_all_shown_and_escaped():
    svg = str(stacked_columns("t", ["<b>", "b"], [Series("x&y", "#000", [1.0, 2.0])]))
    assert _axis_labels(svg) == ["&lt;b&gt;", "b"]
    assert "x&amp;y" in svg
