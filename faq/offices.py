"""Offices where appointments take place: a YAML file coordinators edit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from faq import yamlio
from faq.loader import FaqError, Problem, _describe, _line_of
from locales import LANGUAGES

OFFICES_FILE: Final = Path(__file__).parent / "offices.yaml"
KINDS: Final = ("consultation-social", "consultation-legal", "interpreting", "accompaniment")
PLACES: Final = ("oamp", "municipal", "school", "doctor", "other")


class Office(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=30)]
    name: Annotated[str, Field(min_length=1, max_length=80)]
    address: Annotated[str, Field(min_length=1)]
    hours: str = ""
    kinds: list[str]
    languages: list[str]
    example: bool = False

    def serves(self, kind: str, lang: str | None = None) -> bool:
        return kind in self.kinds and (lang is None or lang in self.languages)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offices: list[Office]


def check_offices(path: Path = OFFICES_FILE) -> tuple[list[Office], list[Problem]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        node, data = yamlio.parse(text)
    except OSError as exc:
        return [], [Problem(name, 0, f"cannot read the file: {exc.strerror}")]
    except yaml.MarkedYAMLError as exc:
        line, column, message = yamlio.explain(text, exc)
        return [], [Problem(name, line, f"YAML syntax error: {message}", column)]
    try:
        offices = _File.model_validate(data).offices
    except ValidationError as exc:
        return [], [
            Problem(name, _line_of(node, err["loc"]), _describe(err)) for err in exc.errors()
        ]
    problems = []
    seen: set[str] = set()
    for index, office in enumerate(offices):
        line = _line_of(node, ("offices", index))
        if office.id in seen:
            problems.append(Problem(name, line, f"office id {office.id!r} is used twice"))
        seen.add(office.id)
        problems.extend(
            Problem(name, line, f"{office.id}: unknown kind {kind!r}; use {', '.join(KINDS)}")
            for kind in office.kinds
            if kind not in KINDS
        )
        problems.extend(
            Problem(
                name,
                line,
                f"{office.id}: unknown language code {lang!r}; supported: {', '.join(LANGUAGES)}",
            )
            for lang in office.languages
            if lang not in LANGUAGES
        )
    return offices, problems


def load_offices(path: Path = OFFICES_FILE) -> list[Office]:
    offices, problems = check_offices(path)
    if problems:
        raise FaqError(problems)
    return offices
