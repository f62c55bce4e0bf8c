"""Inline SVG charts for the audit report: no JavaScript, no CDN, no network. Pure.

Every label is escaped; every chart has a <title> and a text fallback in the report's
tables, so a printed or archived report reads the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#b91c1c", "#c2410c", "#a16207", "#15803d", "#1d4ed8", "#6d28d9", "#4b5563")


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        f'font-size="11"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def hbar(title: str, items: Sequence[tuple[str, float]], *, width: int = 640) -> str:
    """Horizontal bars, one per (label, value), largest first as given."""
    items = list(items)[:25]
    row, left = 20, 260
    height = max(40, row * len(items) + 20)
    top = max((v for _, v in items), default=0) or 1
    body = []
    for i, (label, value) in enumerate(items):
        y = 10 + i * row
        w = (width - left - 60) * value / top
        body.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(label[:48])}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 12}">{value:g}</text>'
        )
    if not items:
        body.append('<text x="10" y="24">—</text>')
    return _svg(width, height, title, body)


def columns(title: str, items: Sequence[tuple[str, float]], *, width: int = 640) -> str:
    """Vertical bars over time (label = period)."""
    items = list(items)
    height, bottom, left = 220, 40, 40
    top = max((v for _, v in items), default=0) or 1
    n = max(1, len(items))
    step = (width - left - 10) / n
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="16" text-anchor="end">{top:g}</text>',
    ]
    for i, (label, value) in enumerate(items):
        h = (height - bottom - 20) * value / top
        x = left + i * step
        body.append(
            f'<rect x="{x + 2:.1f}" y="{height - bottom - h:.1f}" width="{max(1.0, step - 4):.1f}" '
            f'height="{h:.1f}" fill="#1d4ed8"><title>{escape(label)}: {value:g}</title></rect>'
        )
        if n <= 16 or i % max(1, n // 8) == 0:
            body.append(
                f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" '
                f'text-anchor="middle">{escape(label[-5:])}</text>'
            )
    return _svg(width, height, title, body)


def heatmap(
    title: str, grid: Sequence[Sequence[float]], rows: Sequence[str], *, width: int = 640
) -> str:
    """Rows (e.g. weekdays) × 24 hour columns; darker = more."""
    cell_w, cell_h, left, top_pad = (width - 50) / 24, 18, 44, 18
    height = top_pad + cell_h * len(rows) + 6
    peak = max((v for r in grid for v in r), default=0) or 1
    body = []
    for h in range(0, 24, 3):
        body.append(
            f'<text x="{left + h * cell_w + cell_w / 2:.1f}" y="12" '
            f'text-anchor="middle">{h:02d}</text>'
        )
    for r, label in enumerate(rows):
        y = top_pad + r * cell_h
        body.append(f'<text x="{left - 4}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        for h in range(24):
            v = grid[r][h] if r < len(grid) and h < len(grid[r]) else 0
            alpha = 0.05 + 0.95 * v / peak if v else 0.0
            body.append(
                f'<rect x="{left + h * cell_w:.1f}" y="{y}" width="{cell_w - 1:.1f}" '
                f'height="{cell_h - 1}" fill="#b91c1c" fill-opacity="{alpha:.3f}" '
                f'stroke="#eee"><title>{escape(label)} {h:02d}:00 — {v:g}</title></rect>'
            )
    return _svg(width, int(height), title, body)
