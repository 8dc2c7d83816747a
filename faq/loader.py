"""Load and validate a folder of FAQ topic files, reporting problems as ``file:line: message``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml
from pydantic import ValidationError

from faq.schema import CATEGORIES, Topic
from locales import LANGUAGES

CONTENT_DIR: Final = Path(__file__).parent / "content"


@dataclass(frozen=True, order=True)
class Problem:
    """Something wrong in a content file, with where it is."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class FaqError(ValueError):
    """The FAQ content cannot be loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Faq:
    """Loaded, valid FAQ topics."""

    topics: dict[str, Topic]
    directory: Path | None = None
    languages: tuple[str, ...] = LANGUAGES
    _by_category: dict[str, list[Topic]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for category in CATEGORIES:
            self._by_category[category] = sorted(
                (t for t in self.topics.values() if t.category == category),
                key=lambda t: (t.order, t.id),
            )

    @property
    def categories(self) -> list[str]:
        """Categories that have at least one topic, in the fixed order."""
        return [c for c in CATEGORIES if self._by_category[c]]

    def in_category(self, category: str) -> list[Topic]:
        return self._by_category.get(category, [])


def load_faq(directory: Path = CONTENT_DIR, languages: Iterable[str] = LANGUAGES) -> Faq:
    """Load every ``*.yaml`` topic in `directory`; raise `FaqError` listing every problem."""
    languages = tuple(languages)
    topics, problems = check_faq(directory, languages)
    if problems:
        raise FaqError(problems)
    return Faq(topics=topics, directory=directory, languages=languages)


def check_faq(
    directory: Path, languages: tuple[str, ...] = LANGUAGES
) -> tuple[dict[str, Topic], list[Problem]]:
    """Parse and validate a content folder; return the valid topics and all problems found."""
    problems: list[Problem] = []
    topics: dict[str, Topic] = {}
    where: dict[str, str] = {}
    if not directory.is_dir():
        return {}, [Problem(str(directory), 0, "the FAQ folder does not exist")]
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        problems.append(Problem(str(directory), 0, "the FAQ folder has no .yaml topic files"))
    for path in files:
        topic, file_problems = _load_topic(path, languages)
        problems.extend(file_problems)
        if topic is None:
            continue
        if topic.id in topics:
            problems.append(
                Problem(
                    str(path), 1, f"topic id {topic.id!r} is already used by {where[topic.id]}"
                )
            )
            continue
        topics[topic.id] = topic
        where[topic.id] = str(path)
    return topics, problems


def _load_topic(path: Path, languages: tuple[str, ...]) -> tuple[Topic | None, list[Problem]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 1, f"the file is not UTF-8 text ({exc.reason})")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or "malformed YAML"
        hint = " (check the indentation, and put text containing ': ' in quotes)"
        return None, [Problem(name, line, f"YAML syntax error: {what}{hint}")]
    if not isinstance(data, dict) or node is None:
        return None, [Problem(name, 1, "a topic file must be a mapping with id, category, ...")]
    try:
        topic = Topic.model_validate(data)
    except ValidationError as exc:
        return None, [
            Problem(name, _line_of(node, err["loc"]), _describe(err)) for err in exc.errors()
        ]
    problems = []
    if topic.id != path.stem:
        problems.append(
            Problem(
                name,
                _line_of(node, ("id",)),
                f"topic id {topic.id!r} must match the file name {path.stem!r}",
            )
        )
    problems.extend(
        Problem(
            name,
            _line_of(node, ("translations", lang)),
            f"unknown language code {lang!r}; supported: {', '.join(languages)}",
        )
        for lang in topic.translations
        if lang not in languages
    )
    missing = [lang for lang in languages if lang not in topic.translations]
    if missing:
        problems.append(
            Problem(
                name,
                _line_of(node, ("translations",)),
                f"missing translations: {', '.join(missing)}",
            )
        )
    return (None if problems else topic), problems


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"{loc}: this field is required"
    if kind == "extra_forbidden":
        return f"{loc}: unknown field (check the spelling)"
    if kind == "string_too_long":
        limit = err.get("ctx", {}).get("max_length")
        return f"{loc}: too long, at most {limit} characters"
    if kind == "string_pattern_mismatch":
        return f"{loc}: use lowercase letters, digits and dashes only (like 'health-insurance')"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}"


def _line_of(node: yaml.Node, loc: tuple) -> int:
    """The 1-based line of the deepest YAML node along `loc` that exists."""
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
