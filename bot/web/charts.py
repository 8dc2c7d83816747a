"""Bar charts as inline SVG, drawn on the server: no script, no external file."""

from __future__ import annotations

from markupsafe import Markup, escape

BAR = 22
LABEL_WIDTH = 170
CHART_WIDTH = 560


def bar_chart(title: str, items: list[tuple[str, int]]) -> Markup:
    """Horizontal bars, one per (label, value), largest scale = the largest value."""
    top = max((value for _, value in items), default=0) or 1
    height = BAR * len(items) + 30
    scale = (CHART_WIDTH - LABEL_WIDTH - 50) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'width="{CHART_WIDTH}" height="{height}" viewBox="0 0 {CHART_WIDTH} {height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = 26 + i * BAR
        width = max(value * scale, 1 if value else 0)
        parts += [
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>",
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{BAR - 6}" '
            f'fill="#2a6f97"><title>{escape(label)}: {value}</title></rect>',
            f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + 15}" font-size="12">{value}</text>',
        ]
    parts.append("</svg>")
    # Every text in it is escaped above.
    return Markup("".join(parts))
