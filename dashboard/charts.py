"""Small server-side SVG charts for the dashboard (no JavaScript, no CDN, printable, testable).

Each function takes already-aggregated points and returns safe inline SVG markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 14, 28
COLORS = ("#4f46e5", "#10b981", "#f59e0b", "#ef4444")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 1_000:
        return f"{value / 1_000:.1f}k".replace(".0k", "k")
    return f"{value:g}"


def _frame(title: str, body: list[str], legend: Sequence[tuple[str, str]] = ()) -> SafeString:
    legend_html = "".join(
        f'<span class="legend-item"><i style="background:{color}"></i>{escape(label)}</span>' for label, color in legend
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title>{"".join(body)}</svg>'
    )
    return mark_safe(
        f'<figure class="chart-figure">{svg}<figcaption class="legend">{legend_html}</figcaption></figure>'
    )


def _axes(y_max: float, x_labels: Sequence[str], *, prefix: str = "") -> list[str]:
    parts = []
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    for i in range(5):
        value = y_max * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{prefix}{_short(value)}</text>'
        )
    n = len(x_labels)
    if n:
        plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
        every = max(1, n // 6)
        for i, label in enumerate(x_labels):
            if i % every and i != n - 1:
                continue
            x = PAD_LEFT + (plot_w * (i + 0.5) / n)
            parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(label)}</text>')
    return parts


def line_chart(
    *,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    area: bool = False,
    prefix: str = "",
) -> SafeString:
    """One or more lines over the same x axis (days)."""
    values = [float(v) for _, points in series for v in points]
    y_max = _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(x_labels), 1)
    body = _axes(y_max, x_labels, prefix=prefix)
    legend = []
    for index, (label, points) in enumerate(series):
        color = COLORS[index % len(COLORS)]
        coords = [
            (PAD_LEFT + plot_w * (i + 0.5) / n, PAD_TOP + plot_h - plot_h * float(v) / y_max)
            for i, v in enumerate(points)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        if area and coords:
            base = PAD_TOP + plot_h
            body.append(
                f'<polygon points="{coords[0][0]:.1f},{base} {path} {coords[-1][0]:.1f},{base}" '
                f'fill="{color}" fill-opacity="0.12"/>'
            )
        body.append(f'<polyline class="series" points="{path}" fill="none" stroke="{color}" stroke-width="2.2"/>')
        # Dots (with hover values) only while they stay readable; long series are just lines.
        for (x, y), v, day in zip(coords, points, x_labels, strict=False) if len(coords) <= 45 else ():
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{color}"><title>{escape(day)}: {escape(label)} '
                f"{prefix}{_fmt(v)}</title></circle>"
            )
        legend.append((label, color))
    return _frame(title, body, legend)


def bar_chart(*, title: str, labels: Sequence[str], values: Sequence[float], color: str = COLORS[0]) -> SafeString:
    """Horizontal bars, one per label (buckets, top products)."""
    n = max(len(labels), 1)
    v_max = _nice_max(max((float(v) for v in values), default=0))
    label_w = 150
    plot_w = WIDTH - label_w - 60
    row_h = (HEIGHT - 10) / n
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * row_h
        w = plot_w * float(value) / v_max
        bar_h = min(row_h * 0.62, 26)
        text = escape(label if len(label) <= 22 else label[:21] + "…")
        body.append(
            f'<text class="tick" x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{text}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + (row_h - bar_h) / 2:.1f}" width="{max(w, 1.5):.1f}" '
            f'height="{bar_h:.1f}" rx="4" fill="{color}"><title>{escape(label)}: {_fmt(value)}</title></rect>'
            f'<text class="value" x="{label_w + max(w, 1.5) + 6:.1f}" y="{y + row_h / 2 + 4:.1f}">{_fmt(value)}</text>'
        )
    return _frame(title, body)


def _fmt(value) -> str:
    if isinstance(value, Decimal | float):
        return f"{value:,.2f}" if value % 1 else f"{value:,.0f}"
    return f"{value:,}"
