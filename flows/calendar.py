"""Working days in the Czech Republic, and dates shown the way each language writes them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date, format_datetime, format_skeleton

PRAGUE: Final = ZoneInfo("Europe/Prague")
BOOKING_DAYS: Final = 14


def working_days(after: date, count: int = BOOKING_DAYS) -> list[date]:
    """The next `count` working days after `after`: no weekends, no Czech public holidays."""
    public = holidays.country_holidays("CZ", years=[after.year, after.year + 1])
    days: list[date] = []
    day = after
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in public:
            days.append(day)
    return days


def today_in_prague(now: datetime) -> date:
    return now.astimezone(PRAGUE).date()


def day_label(day: date, lang: str) -> str:
    """A short day for a button: "po 30. 11.", "Mon, Nov 30", "Th 2, 30 thg 11"."""
    return format_skeleton("MMMEd", day, locale=lang)


def date_label(day: date, lang: str) -> str:
    """A date in words, in the person's language: "4 December 2026", "4. prosince 2026"."""
    return format_date(day, "long", locale=lang)


def when_label(moment: datetime, lang: str) -> str:
    """A full date and time in Prague time, in the person's language."""
    return format_datetime(moment.astimezone(PRAGUE), "EEEE d MMMM y, HH:mm", locale=lang)
