"""Canned replies: the default set a new installation starts with
(`locales/canned/defaults.yaml`, seeded when the table is empty), and a reply as a caseworker
gets it (in the person's language, `{offices}` filled in from OFFICES_FILE)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import yaml
from sqlalchemy.exc import IntegrityError

from locales import LANGUAGES, LOCALES_DIR

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from faq.offices import Office
    from storage.dto import CannedDto
    from storage.unit import Storage

logger = logging.getLogger(__name__)

DEFAULTS_FILE: Final = LOCALES_DIR / "canned" / "defaults.yaml"
OFFICES: Final = "{offices}"


@dataclass(frozen=True)
class CannedText:
    name: str
    lang: str
    title: str
    text: str


def load_defaults(path: Path = DEFAULTS_FILE) -> list[CannedText]:
    """The default canned replies, every name in every language."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        CannedText(str(name), str(lang), str(version["title"]), str(version["text"]).strip())
        for name, versions in raw.items()
        for lang, version in versions.items()
        if lang in LANGUAGES
    ]


async def seed_defaults(storage: Storage, path: Path = DEFAULTS_FILE) -> int:
    """Store the default set when there are no canned replies at all (the first start); how
    many were stored. Once there are some, they are the coordinators' and stay as they are."""
    defaults = load_defaults(path)
    try:
        async with storage.begin() as unit:
            if await unit.canned.all():
                return 0
            for c in defaults:
                await unit.canned.save(c.name, c.lang, c.title, c.text)
    except IntegrityError:  # another instance seeded them at the same moment
        return 0
    logger.info("canned replies: %d default versions stored", len(defaults))
    return len(defaults)


def offices_text(offices: Iterable[Office]) -> str:
    return "\n".join(
        f"- {o.name}, {o.address}" + (f": {o.hours}" if o.hours else "") for o in offices
    )


def pick(
    canned: list[CannedDto], name: str, lang: str, offices: Iterable[Office]
) -> CannedText | None:
    """The canned reply `name` in `lang`, else in English (the caller says so), ready to send."""
    by_lang = {c.lang: c for c in canned if c.name == name}
    chosen = by_lang.get(lang) or by_lang.get("en")
    if chosen is None:
        return None
    text = chosen.text
    if OFFICES in text:
        text = text.replace(OFFICES, offices_text(offices))
    return CannedText(chosen.name, chosen.lang, chosen.title, text)
