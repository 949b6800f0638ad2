"""Tiny self-contained SVG charts (grouped bars, histograms) for the HTML report: no plotting dependency."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
_FONT = 'font-family="sans-serif" font-size="11"'


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-family="sans-serif" font-size="13" '
        f'font-weight="bold">{escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts: list[str] = []
    for index, name in enumerate(names):
        color = PALETTE[index % len(PALETTE)]
        top = y + index * 15
        parts.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14:.1f}" y="{top + 9:.1f}" {_FONT}>{escape(name)}</text>')
    return parts


def grouped_bars(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_max: float = 1.0,
    y_label: str = "execution accuracy",
) -> str:
    """Bars per category, one colour per series; ``None`` values leave a gap. Values are in ``[0, y_max]``."""
    names = list(series)
    left, right, top, bottom = 50, 20 + 150, 30, 90
    group_width = max(24.0, 12.0 * max(1, len(names)) + 10)
    width = int(left + right + group_width * max(1, len(categories)))
    height = 320
    plot_h = height - top - bottom
    body: list[str] = []
    for tick in range(6):
        value = y_max * tick / 5
        y = top + plot_h - plot_h * tick / 5
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{value:.2g}</text>')
    body.append(
        f'<text transform="translate(12,{top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" {_FONT}>'
        f"{escape(y_label)}</text>"
    )
    bar_width = (group_width - 10) / max(1, len(names))
    for c_index, category in enumerate(categories):
        x0 = left + c_index * group_width + 5
        for s_index, name in enumerate(names):
            cell = series[name][c_index]
            if cell is None:
                continue
            bar_h = plot_h * max(0.0, min(cell, y_max)) / y_max
            x = x0 + s_index * bar_width
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_width - 1:.1f}" '
                f'height="{bar_h:.1f}" fill="{PALETTE[s_index % len(PALETTE)]}">'
                f"<title>{escape(name)} / {escape(category)}: {cell:.3f}</title></rect>"
            )
        label_x = x0 + (group_width - 10) / 2
        body.append(
            f'<text transform="translate({label_x:.1f},{top + plot_h + 8}) rotate(45)" {_FONT}>'
            f"{escape(category)}</text>"
        )
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#333"/>')
    body.extend(_legend(names, width - right + 10, top))
    return _frame(width, height, title, body)


def histogram(title: str, series: Mapping[str, Sequence[float]], *, bins: int = 20, x_label: str = "") -> str:
    """Overlaid, semi-transparent histograms of each series on shared bins."""
    names = [name for name in series if series[name]]
    values = [value for name in names for value in series[name]]
    width, height = 520, 300
    left, right, top, bottom = 50, 150, 30, 45
    plot_w, plot_h = width - left - right, height - top - bottom
    body: list[str] = []
    if not values:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" {_FONT}>no data</text>')
        return _frame(width, height, title, body)
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = {name: [0] * bins for name in names}
    for name in names:
        for value in series[name]:
            counts[name][min(bins - 1, int((value - low) / span * bins))] += 1
    peak = max(max(row) for row in counts.values()) or 1
    bin_w = plot_w / bins
    for s_index, name in enumerate(names):
        color = PALETTE[s_index % len(PALETTE)]
        for b_index, count in enumerate(counts[name]):
            if count == 0:
                continue
            bar_h = plot_h * count / peak
            x = left + b_index * bin_w
            lo, hi = low + span * b_index / bins, low + span * (b_index + 1) / bins
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bin_w - 1:.1f}" height="{bar_h:.1f}" '
                f'fill="{color}" fill-opacity="0.55"><title>{escape(name)}: {count} in [{lo:.3g}, {hi:.3g})'
                f"</title></rect>"
            )
    for tick in range(5):
        value = low + span * tick / 4
        x = left + plot_w * tick / 4
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" {_FONT}>{value:.3g}</text>')
    for tick in range(3):
        count = math.ceil(peak * tick / 2)
        y = top + plot_h - plot_h * count / peak
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{count}</text>')
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    body.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" {_FONT}>{escape(x_label)}</text>'
    )
    body.extend(_legend(names, width - right + 10, top))
    return _frame(width, height, title, body)
