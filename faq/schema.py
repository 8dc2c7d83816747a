"""The FAQ topic file schema (one YAML file per topic, every language inside)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

CATEGORIES: Final = ("residence", "health", "family", "letters", "integration")
TITLE_MAX: Final = 40
ANSWER_MAX: Final = 900
# The short follow-up answers a topic can carry (`followups:`), asked right after its answer
# ("and how much is it?"), and their longest answer.
FOLLOWUP_KINDS: Final = ("fee", "where", "how-long", "for-children")
FOLLOWUP_MAX: Final = 600

_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?(?:/[^\s]*)?$")

NonEmpty = Annotated[str, Field(min_length=1)]


class Followup(BaseModel):
    """A short answer to a follow-up of the topic's answer, in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: Annotated[list[NonEmpty], Field(min_length=1)]
    answer: Annotated[str, Field(min_length=1, max_length=FOLLOWUP_MAX)]

    @field_validator("answer")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class Translation(BaseModel):
    """One language of a topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, Field(min_length=1, max_length=TITLE_MAX)] | None = None
    question: NonEmpty
    variants: list[NonEmpty] = []
    keywords: list[NonEmpty] = []
    answer: Annotated[str, Field(min_length=1, max_length=ANSWER_MAX)]
    # Follow-up answers by kind (FOLLOWUP_KINDS): "fee", "where", "how-long", "for-children".
    followups: dict[str, Followup] = {}
    reviewed: bool = False
    # What the source text was when this translation was made (see the coordinators' guide).
    source_hash: str | None = None

    @field_validator("question", "answer", "title")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @field_validator("followups", mode="before")
    @classmethod
    def _known_kinds(cls, value: object) -> object:
        for kind in value if isinstance(value, dict) else ():
            if kind not in FOLLOWUP_KINDS:
                raise ValueError(
                    f"unknown follow-up {kind!r}; use one of: {', '.join(FOLLOWUP_KINDS)}"
                )
        return value


class Topic(BaseModel):
    """A topic: one question answered in many languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=_ID, max_length=40)]
    category: str
    order: int = 100
    links: list[str] = []
    # When a person last checked the facts against the `links` (YYYY-MM-DD): `poradna faq
    # check` warns when it is older than CONTENT_MAX_AGE_DAYS, and the answer can say so.
    checked: date | None = None
    translations: dict[str, Translation]

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; use one of: {', '.join(CATEGORIES)}")
        return value

    @field_validator("links")
    @classmethod
    def _valid_links(cls, value: list[str]) -> list[str]:
        for link in value:
            if not _URL.match(link):
                raise ValueError(f"{link!r} is not a web address (https://...)")
        return value

    def title(self, lang: str) -> str:
        tr = self.translation(lang)
        return tr.title or tr.question

    def translation(self, lang: str) -> Translation:
        """The translation in `lang`, else English, else Czech, else any."""
        for candidate in (lang, "en", "cs"):
            if candidate in self.translations:
                return self.translations[candidate]
        return next(iter(self.translations.values()))
