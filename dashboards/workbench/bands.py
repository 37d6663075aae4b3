"""An SVG chart of estimates with their uncertainty: a line per series through the estimates and a
shaded band from each point's low to its high bound. Server-side like charts.line_chart: numbers and
dates only, labels escaped, styled by classes (s1 … s4) in workbench.css."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from dashboards.workbench.text import visible


@dataclass
class BandSeries:
    name: str
    points: list[tuple[str, float, float, float]]  # (ISO date, estimate, low, high)
    css: str = "s1"


def band_chart(series: list[BandSeries], title: str, unit: str = "", width: int = 640, height: int = 240) -> Markup:
    dates = sorted({p[0] for s in series for p in s.points})
    label = escape(visible(title))
    if not dates:
        return Markup(f'<p class="muted">{label}: no estimates.</p>')
    left, right, top, bottom = 64, 36, 24, 40  # room for the last date label
    plot_w, plot_h = width - left - right, height - top - bottom
    high = max([p[3] for s in series for p in s.points] + [p[1] for s in series for p in s.points] + [1.0])

    def x(day: str) -> float:
        return left + (plot_w * dates.index(day) / (len(dates) - 1) if len(dates) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - max(0.0, value) / high * plot_h

    parts = [f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>',
             f'<text class="chart-title" x="{left}" y="14">{label}</text>']
    for i in range(5):
        value = high * i / 4
        ty = y(value)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
                     f'<text class="axis" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{value:,.0f}{escape(unit)}</text>')
    every = max(1, len(dates) // 8)
    for i, day in enumerate(dates):
        if i % every == 0 or i == len(dates) - 1:
            parts.append(f'<text class="axis" x="{x(day):.1f}" y="{height - 20}" text-anchor="middle">{escape(day)}</text>')
    for n, s in enumerate(series):
        pts = sorted(s.points)
        if not pts:
            continue
        css = escape(s.css)
        if len(pts) > 1:
            outline = [(x(d), y(hi)) for d, _e, _lo, hi in pts] + [(x(d), y(lo)) for d, _e, lo, _hi in reversed(pts)]
            parts.append(f'<polygon class="band {css}" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in outline)}"/>')
        for d, _e, lo, hi in pts:  # whiskers: the range at each point, visible for a single week too
            parts.append(f'<line class="whisker {css}" x1="{x(d):.1f}" x2="{x(d):.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}"/>')
        line = " ".join(f"{x(d):.1f},{y(e):.1f}" for d, e, _lo, _hi in pts)
        parts.append(f'<polyline class="line {css}" points="{line}"/>')
        parts.extend(f'<circle class="dot {css}" cx="{x(d):.1f}" cy="{y(e):.1f}" r="2.5"/>' for d, e, _lo, _hi in pts)
        lx = left + 8 + n * 150
        parts.append(f'<rect class="legend {css}" x="{lx}" y="{height - 10}" width="10" height="4"/>'
                     f'<text class="axis" x="{lx + 14}" y="{height - 5}">{escape(visible(s.name))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
