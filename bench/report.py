"""The benchmark's table: sections of rows, columns aligned."""

from __future__ import annotations

import math

HEADER = ("measurement", "n", "p50 / rate", "p99 / peak", "notes", "target", "")


def ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    if value >= 1:
        return f"{value:.2f} ms"
    return f"{value * 1000:.0f} µs"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def verdict(passed: bool | None) -> str:
    return "" if passed is None else ("PASS" if passed else "FAIL")


def render(title: str, sections: list[tuple[str, list[tuple[str, ...]]]], footer: str) -> str:
    rows = [HEADER] + [row for _, section in sections for row in section]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:4], widths[1:4], strict=True)]
        cells += [cell.ljust(width) for cell, width in zip(row[4:], widths[4:], strict=True)]
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(tuple("x" * w for w in widths)))
    out = [title, rule, line(HEADER)]
    for name, section in sections:
        out += [rule, name]
        out += [line(row) for row in section]
    out += [rule, footer]
    return "\n".join(out)
