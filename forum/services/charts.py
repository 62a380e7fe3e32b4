"""Server-rendered SVG charts: bars and lines, accessible, with a table of the same figures.

Every chart is an :class:`SvgChart`: the SVG markup (``role="img"`` with ``<title>`` and
``<desc>``), and the headers and rows of a table that says the same for people who can't see
the picture. Every label is escaped here, so the markup may be marked safe in a template.
No inline styles or scripts: colours come from classes in the area's stylesheet.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

_ids = itertools.count(1)

#: Room around the plot for axis labels.
PAD_LEFT = 44
PAD_RIGHT = 24
PAD_TOP = 12
PAD_BOTTOM = 44


@dataclass(frozen=True)
class Series:
    """One named line of a line chart; ``None`` values leave a gap."""

    name: str
    values: Sequence[float | None]


@dataclass
class SvgChart:
    """An SVG chart and the table that says the same."""

    title: str
    description: str
    svg: Markup
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when there were no figures to draw."""
        return not self.rows


def format_number(value: float | None, unit: str = "") -> str:
    """A figure as text: whole numbers without decimals, others with one; None as a dash."""
    if value is None:
        return "–"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text}{unit}"


def _nice_max(value: float) -> float:
    """A round upper bound for an axis (1, 2, 5 × 10^n) at or above ``value``."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value * 10:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _open(title: str, description: str, width: int, height: int) -> tuple[list[str], str]:
    uid = f"chart-{next(_ids)}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{uid}-title {uid}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(description)}</desc>',
    ]
    return parts, uid


def _axis(parts: list[str], top: float, width: int, height: int, unit: str) -> None:
    """Horizontal grid lines at 0, half and the top value, with their labels."""
    plot_h = height - PAD_TOP - PAD_BOTTOM
    for fraction in (0.0, 0.5, 1.0):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="chart__grid" x1="{PAD_LEFT}" y1="{y:.1f}" '
            f'x2="{width - PAD_RIGHT}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="chart__axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(format_number(top * fraction, unit))}</text>'
        )


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    title: str,
    description: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    value_header: str = "Value",
    label_header: str = "Label",
    maximum: float | None = None,
    width: int = 640,
    height: int = 240,
) -> SvgChart:
    """Vertical bars, one per (label, value); ``maximum`` fixes the axis (e.g. 100 for %)."""
    rows = [[label, format_number(value, unit)] for label, value in items]
    parts, _uid = _open(title, description, width, height)
    top = maximum if maximum is not None else _nice_max(max((v for _l, v in items), default=0))
    _axis(parts, top, width, height, unit)
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(1, len(items))
    bar_w = max(2.0, slot * 0.7)
    for i, (label, value) in enumerate(items):
        h = plot_h * max(0.0, min(value, top)) / top if top else 0.0
        x = PAD_LEFT + slot * i + (slot - bar_w) / 2
        y = PAD_TOP + plot_h - h
        text = f"{label}: {format_number(value, unit)}"
        parts.append(
            f'<rect class="chart__bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}"><title>{escape(text)}</title></rect>'
        )
        cx = PAD_LEFT + slot * i + slot / 2
        parts.append(
            f'<text class="chart__label" x="{cx:.1f}" y="{height - PAD_BOTTOM + 16}" '
            f'text-anchor="middle">{escape(_short(label))}</text>'
        )
    parts.append("</svg>")
    return SvgChart(title, description, Markup("".join(parts)), [label_header, value_header], rows)


def line_chart(
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    label_header: str = "Week",
    width: int = 640,
    height: int = 240,
) -> SvgChart:
    """One line per series over the ``labels`` (e.g. weeks), with a dot per known value."""
    rows = [
        [label, *(format_number(s.values[i], unit) for s in series)]
        for i, label in enumerate(labels)
    ]
    parts, _uid = _open(title, description, width, height)
    known = [v for s in series for v in s.values if v is not None]
    top = _nice_max(max(known, default=0))
    _axis(parts, top, width, height, unit)
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(1, len(labels) - 1)

    def x(i: int) -> float:
        return PAD_LEFT + (step * i if len(labels) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return PAD_TOP + plot_h - plot_h * max(0.0, value) / top

    for n, s in enumerate(series, start=1):
        runs: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i):.1f},{y(value):.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline class="chart__line chart__line--{n}" points="{" ".join(run)}"/>'
                )
        for i, value in enumerate(s.values):
            if value is None:
                continue
            text = f"{s.name}, {labels[i]}: {format_number(value, unit)}"
            parts.append(
                f'<circle class="chart__dot chart__dot--{n}" cx="{x(i):.1f}" cy="{y(value):.1f}" '
                f'r="3"><title>{escape(text)}</title></circle>'
            )
    every = max(1, len(labels) // 6)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text class="chart__label" x="{x(i):.1f}" y="{height - PAD_BOTTOM + 16}" '
                f'text-anchor="middle">{escape(_short(label))}</text>'
            )
    if len(series) > 1:
        for n, s in enumerate(series, start=1):
            lx = PAD_LEFT + (n - 1) * 160
            parts.append(
                f'<rect class="chart__key chart__key--{n}" x="{lx}" y="{height - 14}" '
                f'width="10" height="10"/>'
                f'<text class="chart__label" x="{lx + 14}" y="{height - 5}">'
                f"{escape(_short(s.name, 22))}</text>"
            )
    parts.append("</svg>")
    if not known:
        rows = []
    return SvgChart(
        title,
        description,
        Markup("".join(parts)),
        [label_header, *(s.name for s in series)],
        rows,
    )
