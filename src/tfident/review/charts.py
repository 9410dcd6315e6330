"""Charts drawn on the server as inline SVG: no JavaScript, nothing fetched, every label escaped.

Each chart has a ``<title>`` for screen readers; pages show the same numbers in a table too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from tfident.review.weights import Waterfall

BLUE = "#1d70b8"
GREY = "#b1b4b6"
RED = "#d4351c"
GREEN = "#00703c"
TEXT = "#0b0c0c"
FONT = "&quot;GDS Transport&quot;, arial, sans-serif"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    label = escape(title)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tf-chart" viewBox="0 0 {width} {height}" '
        f'width="100%" font-family="{FONT}" role="img" aria-label="{label}">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: Any, anchor: str = "start", size: int = 14, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
        f'fill="{TEXT}">{escape(str(text))}</text>'
    )


def bar_chart(items: Sequence[tuple[str, float]], title: str, label_width: int = 330) -> Markup:
    """Horizontal bars, one per (label, value)."""
    width, row = 720, 28
    height = max(row * len(items) + 10, 40)
    top = max((value for _, value in items), default=0) or 1
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        bar = (width - label_width - 60) * value / top
        body.append(_text(label_width - 8, y + 18, label, anchor="end", size=13))
        body.append(f'<rect x="{label_width}" y="{y + 4}" width="{bar:.1f}" height="{row - 8}" fill="{BLUE}"/>')
        body.append(_text(label_width + bar + 6, y + 18, f"{value:,.0f}", size=13))
    return _svg(width, height, title, body)


def histogram(
    values: Sequence[float], title: str, thresholds: Sequence[tuple[str, float]] = (), bins: int = 20
) -> Markup:
    """A histogram of probabilities on [0, 1] with threshold lines marked."""
    width, height, left, bottom, top_margin = 720, 240, 50, 40, 20
    counts = [0] * bins
    for value in values:
        counts[min(int(max(value, 0.0) * bins), bins - 1)] += 1
    peak = max(counts) or 1
    plot_w, plot_h = width - left - 20, height - bottom - top_margin
    axis_y = top_margin + plot_h
    body = [f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="{TEXT}"/>']
    for i, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + plot_w * i / bins
        body.append(
            f'<rect x="{x + 1:.1f}" y="{top_margin + plot_h - bar_h:.1f}" width="{plot_w / bins - 2:.1f}" '
            f'height="{bar_h:.1f}" fill="{BLUE}"><title>{i / bins:.2f}-{(i + 1) / bins:.2f}: {count}</title></rect>'
        )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(_text(left + plot_w * tick, height - bottom + 18, f"{tick:.2f}", anchor="middle", size=12))
    body.append(_text(left - 6, top_margin + 10, f"{peak:,}", anchor="end", size=12))
    body.append(_text(left + plot_w / 2, height - 4, "link probability", anchor="middle", size=12))
    for i, (name, threshold) in enumerate(thresholds):
        x = left + plot_w * threshold
        body.append(
            f'<line x1="{x:.1f}" y1="{top_margin}" x2="{x:.1f}" y2="{top_margin + plot_h}" stroke="{RED}" '
            'stroke-dasharray="4 3" stroke-width="2"/>'
        )
        body.append(_text(x - 4, top_margin + 14 + 16 * i, f"{name} {threshold:g}", anchor="end", size=12))
    return _svg(width, height, title, body)


def paired_bars(items: Sequence[tuple[str, float, float | None]], title: str, labels: tuple[str, str]) -> Markup:
    """Two bars per label (this run and the previous one), values as fractions 0-1."""
    width, row, label_width = 720, 40, 160
    height = row * len(items) + 40
    body = [
        f'<rect x="{label_width}" y="6" width="12" height="12" fill="{BLUE}"/>',
        _text(label_width + 18, 17, labels[0], size=12),
        f'<rect x="{label_width + 160}" y="6" width="12" height="12" fill="{GREY}"/>',
        _text(label_width + 178, 17, labels[1], size=12),
    ]
    span = width - label_width - 70
    for i, (label, current, previous) in enumerate(items):
        y = 30 + i * row
        body.append(_text(label_width - 8, y + 20, label, anchor="end", size=13))
        body.append(f'<rect x="{label_width}" y="{y + 2}" width="{span * current:.1f}" height="14" fill="{BLUE}"/>')
        body.append(_text(label_width + span * current + 4, y + 14, f"{current:.0%}", size=12))
        if previous is not None:
            body.append(
                f'<rect x="{label_width}" y="{y + 18}" width="{span * previous:.1f}" height="14" fill="{GREY}"/>'
            )
            body.append(_text(label_width + span * previous + 4, y + 30, f"{previous:.0%}", size=12))
    return _svg(width, height, title, body)


def waterfall(weights: Waterfall, title: str) -> Markup:
    """A stored link's match weights as ``tfident explain`` prints them: the prior, then each comparison's
    weight starting where the running total ended, then the total (the stored link weight) from zero.

    The total and probability are results, not bars; each step bar carries ``data-weight`` and the
    total bar ``data-total``, so a test can check the bars sum to the total shown.
    """
    bars = weights.bars
    width, row, label_width = 720, 26, 170
    height = row * (len(bars) + 1) + 20
    totals = [0.0]
    for bar in bars:
        totals.append(totals[-1] + bar.weight)
    low, high = min(*totals, weights.total, 0.0), max(*totals, weights.total, 0.0)
    span = (high - low) or 1.0
    plot = width - label_width - 70

    def x_of(value: float) -> float:
        return label_width + plot * (value - low) / span

    body = [f'<line x1="{x_of(0):.1f}" y1="0" x2="{x_of(0):.1f}" y2="{height - 10}" stroke="{TEXT}" stroke-width="1"/>']
    for i, bar in enumerate(bars):
        y = 5 + i * row
        x0, x1 = sorted((x_of(totals[i]), x_of(totals[i + 1])))
        colour = GREEN if bar.weight >= 0 else RED
        body.append(_text(label_width - 8, y + 17, bar.field, anchor="end", size=13))
        body.append(
            f'<rect class="tf-step" data-field="{escape(bar.field)}" data-weight="{bar.weight:.4f}" x="{x0:.1f}" '
            f'y="{y + 3}" width="{max(x1 - x0, 1):.1f}" height="{row - 8}" fill="{colour}"/>'
        )
        body.append(_text(min(x1 + 4, width - 60), y + 17, f"{bar.weight:+.2f}", size=12))
    y = 5 + len(bars) * row
    body.append(_text(label_width - 8, y + 17, "total", anchor="end", size=13, weight="bold"))
    x0, x1 = sorted((x_of(0), x_of(weights.total)))
    body.append(
        f'<rect class="tf-total" data-total="{weights.total:.4f}" x="{x0:.1f}" y="{y + 3}" '
        f'width="{max(x1 - x0, 1):.1f}" height="{row - 8}" fill="{BLUE}"/>'
    )
    body.append(_text(min(x1 + 4, width - 60), y + 17, f"{weights.total:+.2f}", size=12, weight="bold"))
    return _svg(width, height, title, body)
