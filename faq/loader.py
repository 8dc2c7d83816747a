"""Load and validate a folder of FAQ topic files, reporting problems as ``file:line: message``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from faq import yamlio
from faq.schema import CATEGORIES, Topic
from locales import LANGUAGES

CONTENT_DIR: Final = Path(__file__).parent / "content"


@dataclass(frozen=True, order=True)
class Problem:
    """Something wrong in a content file, with where it is."""

    path: str
    line: int
    message: str
    column: int = 0

    def __str__(self) -> str:
        where = (
            f"{self.path}:{self.line}:{self.column}" if self.column else f"{self.path}:{self.line}"
        )
        return f"{where}: {self.message}"


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
    """One topic file, and every problem in it at once (not only the first kind found)."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 1, f"the file is not UTF-8 text ({exc.reason})")]
    try:
        node, data = yamlio.parse(text)
    except yaml.MarkedYAMLError as exc:
        line, column, message = yamlio.explain(text, exc)
        return None, [Problem(name, line, f"YAML syntax error: {message}", column)]
    if not isinstance(data, dict) or node is None:
        return None, [Problem(name, 1, "a topic file must be a mapping with id, category, ...")]
    problems = [
        Problem(name, line, message, column)
        for line, column, message in yamlio.duplicate_keys(node)
    ]
    # What can be checked on the raw data is checked whatever else is wrong, so that one run
    # of `poradna faq check` lists everything to fix in the file.
    topic_id = data.get("id")
    if isinstance(topic_id, str) and topic_id != path.stem:
        problems.append(
            Problem(
                name,
                _line_of(node, ("id",)),
                f"topic id {topic_id!r} must match the file name {path.stem!r} (rename the "
                "file or change the id)",
            )
        )
    translations = data.get("translations")
    if isinstance(translations, dict):
        problems.extend(
            Problem(
                name,
                _line_of(node, ("translations", lang)),
                f"unknown language code {lang!r}; supported: {', '.join(languages)}",
                _column_of(node, ("translations", lang)),
            )
            for lang in translations
            if lang not in languages
        )
        missing = [lang for lang in languages if lang not in translations]
        if missing:
            problems.append(
                Problem(
                    name,
                    _line_of(node, ("translations",)),
                    f"missing translations: {', '.join(missing)}",
                    _column_of(node, ("translations",)),
                )
            )
    try:
        topic = Topic.model_validate(data)
    except ValidationError as exc:
        problems.extend(
            Problem(name, _line_of(node, err["loc"]), _describe(err), _column_of(node, err["loc"]))
            for err in exc.errors()
        )
        return None, sorted(problems)
    return (None if problems else topic), sorted(problems)


def _describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"{loc}: this field is required (add it, see README 'FAQ content')"
    if kind == "extra_forbidden":
        return f"{loc}: unknown field (check the spelling)"
    if kind == "string_too_long":
        limit = err.get("ctx", {}).get("max_length")
        return f"{loc}: too long, at most {limit} characters (shorten it)"
    if kind == "too_short":
        least = err.get("ctx", {}).get("min_length", 1)
        return f"{loc}: needs at least {least} (add one)"
    if kind in ("bool_type", "bool_parsing"):
        return f"{loc}: write true or false"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{loc}: write a whole number, like 10"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"{loc}: write the date as year-month-day, like 2026-12-02"
    if kind in ("string_type", "list_type", "dict_type"):
        wanted = {
            "string_type": "text: put it in double quotes if it contains ': ' or starts "
            "with a sign such as [ { & * # or -",
            "list_type": "a list like [a, b] or lines starting with '- '",
            "dict_type": "a block of fields",
        }[kind]
        return f"{loc}: should be {wanted}"
    if kind == "string_pattern_mismatch":
        return f"{loc}: use lowercase letters, digits and dashes only (like 'health-insurance')"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}"


def _column_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based column of the deepest key along `loc` that exists."""
    if node is None:
        return 1
    column = node.start_mark.column + 1
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        found = next(((k, v) for k, v in node.value if k.value == str(part)), None)
        if found is None:
            break
        column = found[0].start_mark.column + 1
        node = found[1]
    return column


def missing_translations(
    directory: Path, languages: tuple[str, ...] = LANGUAGES
) -> dict[str, list[str]]:
    """File stem -> languages its topic has no translation for (files that parse at all)."""
    table: dict[str, list[str]] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yamlio.load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("translations"), dict):
            missing = [lang for lang in languages if lang not in data["translations"]]
            if missing:
                table[str(data.get("id") or path.stem)] = missing
    return table


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest YAML node along `loc` that exists (1 in an empty file)."""
    if node is None:
        return 1
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
