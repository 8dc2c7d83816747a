"""Figures for funders, computed from anonymous interactions and request timestamps.

Everything here survives erasure: interactions carry a random person key instead of an identity,
and callback requests keep their timestamps, language, topic and rating after their personal
data is erased.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, select

from storage.models import CallbackRequest, Interaction, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.unit import Unit

PRAGUE = ZoneInfo("Europe/Prague")
CALLBACK_KINDS = ("callback", "urgent-callback")
# person key, kind, topic, language, when, channel
InteractionRow = Row[str, str, str | None, str, datetime, str]
UNANSWERED_KINDS = ("no-match", "none-fits", "not-helped")


@dataclass(frozen=True)
class Period:
    """Whole days in Prague time, both ends included."""

    start: date
    end: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        begin = datetime.combine(self.start, time.min, PRAGUE)
        finish = datetime.combine(self.end + timedelta(days=1), time.min, PRAGUE)
        return begin, finish


async def build_report(session: AsyncSession, period: Period) -> dict[str, Any]:
    begin, finish = period.bounds
    rows = list(
        await session.execute(
            select(
                Interaction.person_key,
                Interaction.kind,
                Interaction.topic,
                Interaction.lang,
                Interaction.created_at,
                Interaction.channel,
            ).where(Interaction.created_at >= begin, Interaction.created_at < finish)
        )
    )
    requests = list(
        await session.scalars(
            select(CallbackRequest).where(
                CallbackRequest.created_at >= begin, CallbackRequest.created_at < finish
            )
        )
    )
    kinds = Counter(r.kind for r in rows)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "people_served": len({r.person_key for r in rows}),
        "interventions": _interventions(kinds),
        "unanswered": {kind: kinds[kind] for kind in UNANSWERED_KINDS},
        **_breakdowns(rows),
        **_desk_figures(requests),
    }


def _interventions(kinds: Counter[str]) -> dict[str, Any]:
    return {
        "faq_answers": kinds["faq-answer"],
        "clarifications": kinds["clarify"],
        "callbacks": kinds["callback"],
        "urgent_callbacks": kinds["urgent-callback"],
        "urgent_situations": kinds["urgent"],
        "appointments": {
            kind.removeprefix("appointment:"): count
            for kind, count in sorted(kinds.items())
            if kind.startswith("appointment:")
        },
    }


def _breakdowns(rows: list[InteractionRow]) -> dict[str, Any]:
    """The figures by language, by channel (Telegram, Messenger, …), by topic and by month."""
    by_language: dict[str, dict[str, Any]] = defaultdict(lambda: {"people": set()} | _zero())
    by_channel: dict[str, dict[str, Any]] = defaultdict(lambda: {"people": set()} | _zero())
    by_topic: dict[str, Counter[str]] = defaultdict(Counter)
    by_month: dict[str, dict[str, Any]] = defaultdict(lambda: {"people": set()} | _zero())
    for r in rows:
        month = r.created_at.astimezone(PRAGUE).strftime("%Y-%m")
        for bucket in (by_language[r.lang], by_channel[r.channel], by_month[month]):
            bucket["people"].add(r.person_key)
            field = _field(r.kind)
            if field:
                bucket[field] += 1
        if r.topic and r.kind in ("faq-answer", "helped", "not-helped"):
            by_topic[r.topic][r.kind] += 1
    return {
        "by_language": _counted(by_language),
        "by_channel": _counted(by_channel),
        "by_topic": {
            topic: {
                "faq_answers": counts["faq-answer"],
                "helped": counts["helped"],
                "not_helped": counts["not-helped"],
            }
            for topic, counts in sorted(by_topic.items())
        },
        "by_month": _counted(by_month),
    }


def _counted(buckets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each bucket's figures, with its set of people as how many they were."""
    return {
        key: {**{k: v for k, v in data.items() if k != "people"}, "people": len(data["people"])}
        for key, data in sorted(buckets.items())
    }


def _desk_figures(requests: list[CallbackRequest]) -> dict[str, Any]:
    """How fast the desk answered, and how people rated it."""
    waits = [
        (r.first_response_at - r.created_at).total_seconds() / 60
        for r in requests
        if r.first_response_at is not None
    ]
    ratings = [r.rating for r in requests if r.rating is not None]
    return {
        "first_response_minutes": {
            "requests_answered": len(waits),
            "median": round(statistics.median(waits), 1) if waits else None,
        },
        "ratings": {
            "count": len(ratings),
            "average": round(statistics.fmean(ratings), 2) if ratings else None,
            **{str(n): ratings.count(n) for n in range(1, 6)},
        },
    }


def _zero() -> dict[str, int]:
    return {"faq_answers": 0, "callbacks": 0, "appointments": 0, "unanswered": 0}


def _field(kind: str) -> str | None:
    if kind == "faq-answer":
        return "faq_answers"
    if kind in CALLBACK_KINDS:
        return "callbacks"
    if kind.startswith("appointment:"):
        return "appointments"
    if kind in UNANSWERED_KINDS:
        return "unanswered"
    return None


def to_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables, for pasting into a funder's report."""
    period = report["period"]
    lines = [f"# Poradna: {period['from']} – {period['to']}", ""]
    lines += ["| figure | value |", "|---|---|", f"| people served | {report['people_served']} |"]
    for key, value in report["interventions"].items():
        if key != "appointments":
            lines.append(f"| {key.replace('_', ' ')} | {value} |")
    for kind, value in report["interventions"]["appointments"].items():
        lines.append(f"| appointments: {kind} | {value} |")
    for key, value in report["unanswered"].items():
        lines.append(f"| unanswered: {key} | {value} |")
    first = report["first_response_minutes"]
    lines.append(f"| median minutes to first response | {first['median'] or '-'} |")
    ratings = report["ratings"]
    lines.append(f"| ratings (average of {ratings['count']}) | {ratings['average'] or '-'} |")
    for title, table in (
        ("language", report["by_language"]),
        ("channel", report["by_channel"]),
        ("month", report["by_month"]),
    ):
        lines += [
            "",
            f"| {title} | people | FAQ answers | callbacks | appointments | unanswered |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {key} | {row['people']} | {row['faq_answers']} | {row['callbacks']} | "
            f"{row['appointments']} | {row['unanswered']} |"
            for key, row in table.items()
        ]
    lines += ["", "| topic | FAQ answers | helped | did not help |", "|---|---|---|---|"]
    lines += [
        f"| {topic} | {row['faq_answers']} | {row['helped']} | {row['not_helped']} |"
        for topic, row in report["by_topic"].items()
    ]
    return "\n".join(lines) + "\n"


def to_rows(report: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """The report as (section, key, measure, value) rows, for CSV."""
    rows: list[tuple[str, str, str, Any]] = [
        ("total", "people_served", "count", report["people_served"])
    ]
    for key, value in report["interventions"].items():
        if key != "appointments":
            rows.append(("interventions", key, "count", value))
    rows += [
        ("interventions", f"appointments:{kind}", "count", value)
        for kind, value in report["interventions"]["appointments"].items()
    ]
    rows += [("unanswered", key, "count", value) for key, value in report["unanswered"].items()]
    for section in ("by_language", "by_channel", "by_topic", "by_month"):
        for key, measures in report[section].items():
            rows += [(section, key, measure, value) for measure, value in measures.items()]
    rows += [
        ("first_response_minutes", "all", k, v)
        for k, v in report["first_response_minutes"].items()
    ]
    rows += [("ratings", "all", k, v) for k, v in report["ratings"].items()]
    return rows


async def recent_counts(session: AsyncSession, period: timedelta) -> dict[str, int]:
    """Answered / clarified / escalated questions (and requests) in the last `period`."""
    rows = await session.execute(
        select(Interaction.kind, func.count())
        .where(Interaction.created_at >= utcnow() - period)
        .group_by(Interaction.kind)
    )
    kinds = dict(rows.all())
    return {
        "answered": kinds.get("faq-answer", 0),
        "clarified": kinds.get("clarify", 0),
        "escalated": kinds.get("no-match", 0) + kinds.get("none-fits", 0),
        "urgent": kinds.get("urgent", 0),
        "callbacks": kinds.get("callback", 0) + kinds.get("urgent-callback", 0),
    }


class ReportRepository:
    """The figures, on a unit of work."""

    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    async def build(self, period: Period) -> dict[str, Any]:
        return await build_report(self._unit.orm(), period)

    async def recent_counts(self, period: timedelta) -> dict[str, int]:
        return await recent_counts(self._unit.orm(), period)
