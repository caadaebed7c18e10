"""Charts for the report pages, drawn on the server as inline SVG (no script, no CDN).

Each chart is a stacked bar chart: one bar per bucket (or agent), one coloured segment per
series, a value axis with round ticks and a legend. Text is escaped; colours are attributes
(the console's Content-Security-Policy allows no inline style).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: Sequence[float]


_W, _H = 960, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 34, 54


def _nice_step(top: float, ticks: int = 5) -> float:
    raw = max(top, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _legend(series: Sequence[Series]) -> list[str]:
    parts, x = [], _LEFT
    for s in series:
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{s.colour}"/>')
        parts.append(f'<text x="{x + 17}" y="19" class="chart-legend">{escape(s.name)}</text>')
        x += 28 + 8 * len(s.name)
    return parts


def stacked_columns(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    scale: float = 1.0,
    whole: bool = True,
) -> Markup:
    """Vertical stacked columns, one per label; ``scale`` divides the values (seconds ->
    hours); ``whole``: the values are counts, so the axis never shows fractions. Labels are
    thinned to fit; every bar keeps its value in a tooltip."""
    count = max(len(labels), 1)
    totals = [sum(s.values[i] for s in series) / scale for i in range(len(labels))]
    step = _nice_step(max(totals, default=0) or 1)
    if whole:
        step = max(1.0, math.ceil(step))
    top = step * max(1, math.ceil((max(totals, default=0) or 1) / step))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / count
    bar = max(1.0, slot * 0.72)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        *_legend(series),
    ]
    tick = 0.0
    while tick <= top + 1e-9:
        y = _TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="chart-grid"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" class="chart-axis" '
            f'text-anchor="end">{_number(tick)}{escape(unit)}</text>'
        )
        tick += step
    # Labels are thinned so they never overlap: as many as fit their width (about 7 px a
    # character at the axis' 12 px font), at most 16.
    widest = max((len(_short(name)) for name in labels), default=1)
    fits = max(1, min(16, int(plot_w // (widest * 7 + 10))))
    every = max(1, math.ceil(count / fits))
    for i, name in enumerate(labels):
        x = _LEFT + slot * i + (slot - bar) / 2
        y = _TOP + plot_h
        for s in series:
            value = s.values[i] / scale
            if value <= 0:
                continue
            height = plot_h * value / top
            y -= height
            tip = f"{name}: {s.name} {_number(value)}{unit}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{s.colour}"><title>{escape(tip)}</title></rect>'
            )
        if i % every == 0:
            cx = _LEFT + slot * i + slot / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{_H - _BOTTOM + 16}" class="chart-axis" '
                f'text-anchor="middle">{escape(_short(name))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str) -> str:
    # "2026-11-01 13:00" -> "11-01 13:00": the year is in the page's heading.
    return label[5:] if len(label) > 10 and label[4] == "-" else label


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-6 else f"{value:.1f}"
