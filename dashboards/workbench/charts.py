"""Charts as SVG written from the data on the server: no JavaScript, no inline style, nothing crawled
inside except numbers and dates (labels are escaped all the same). Styled by classes in workbench.css."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from dashboards.workbench.text import visible


@dataclass
class Series:
    name: str
    points: list[tuple[str, float | None]]  # (ISO date, value); None = not observed
    css: str = "s1"  # class of the line: s1 … s4


def _ticks(low: float, high: float, n: int = 4) -> list[float]:
    if high == low:
        return [low]
    step = (high - low) / n
    return [low + i * step for i in range(n + 1)]


def line_chart(series: list[Series], title: str, unit: str = "", width: int = 640, height: int = 220) -> Markup:
    """A line chart over dates (one x position per distinct date, in order)."""
    dates = sorted({d for s in series for d, v in s.points if v is not None})
    values = [v for s in series for _d, v in s.points if v is not None]
    label = escape(visible(title))
    if not dates:
        return Markup(f'<p class="muted">{label}: no observations.</p>')
    left, right, top, bottom = 64, 12, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = min(0.0, min(values)), max(values)
    high = high if high > low else low + 1

    def x(date: str) -> float:
        return left + (plot_w * dates.index(date) / (len(dates) - 1) if len(dates) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - (value - low) / (high - low) * plot_h

    parts = [f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>',
             f'<text class="chart-title" x="{left}" y="14">{label}</text>']
    for tick in _ticks(low, high):
        ty = y(tick)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        digits = 0 if high - low >= 8 else 1 if high - low >= 0.8 else 2  # small ranges: 0.5, 1.5 … not 0, 1, 1
        parts.append(f'<text class="axis" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick:,.{digits}f}{escape(unit)}</text>')
    every = max(1, len(dates) // 8)
    for i, date in enumerate(dates):
        if i % every == 0 or i == len(dates) - 1:
            parts.append(f'<text class="axis" x="{x(date):.1f}" y="{height - 14}" text-anchor="middle">'
                         f'{escape(date[5:10] if len(date) >= 10 else date)}</text>')
    for legend_i, s in enumerate(series):
        pts = [(x(d), y(v)) for d, v in s.points if v is not None and d in dates]
        if not pts:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        parts.append(f'<polyline class="line {escape(s.css)}" points="{path}"/>')
        parts.extend(f'<circle class="dot {escape(s.css)}" cx="{px:.1f}" cy="{py:.1f}" r="2.5"/>' for px, py in pts)
        lx = left + 8 + legend_i * 150
        parts.append(f'<rect class="legend {escape(s.css)}" x="{lx}" y="{height - 10}" width="10" height="4"/>'
                     f'<text class="axis" x="{lx + 14}" y="{height - 5}">{escape(visible(s.name))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
