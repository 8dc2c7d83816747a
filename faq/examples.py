"""Example messages the matcher learns from, besides the FAQ topics: coordinators' content.

- `faq/negatives.yaml`: messages no topic answers (a personal legal situation that needs a
  caseworker, or a subject the FAQ does not cover), per language: the decision learns from
  them that a leading topic can be wrong (`faq.calibrate`).
- `faq/smalltalk.yaml`: greetings, thanks, goodbyes, "are you a bot?", "I want a person",
  yes / no / ok and frustration, per intent and language (`faq.smalltalk`).
- `faq/urgent_examples.yaml`: urgent messages per category and language, and ordinary
  look-alikes, for the learned part of urgent detection (`faq.urgent`).
- `faq/language_words.yaml`: common chat words per language, as people write them (Latin
  spellings too), for language detection only (`faq.langdetect`).

Each loader returns the data and every problem found, as `file:line: message`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from faq import yamlio
from faq.loader import Problem, _line_of
from faq.normalize import tokens
from locales import LANGUAGES

HERE: Final = Path(__file__).parent
NEGATIVES_FILE: Final = HERE / "negatives.yaml"
SMALLTALK_FILE: Final = HERE / "smalltalk.yaml"
URGENT_EXAMPLES_FILE: Final = HERE / "urgent_examples.yaml"
LANGUAGE_WORDS_FILE: Final = HERE / "language_words.yaml"
NEGATIVE_KINDS: Final = ("caseworker", "uncovered")
INTENTS: Final = (
    "greeting", "thanks", "goodbye", "bot", "human", "yes", "no", "ok", "frustration",
)  # fmt: skip


@dataclass
class Examples:
    """Negatives (lang -> texts), small talk (intent -> lang -> texts), urgent examples
    (category -> lang -> texts) and look-alikes (lang -> texts)."""

    negatives: dict[str, list[str]] = field(default_factory=dict)
    smalltalk: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    urgent: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    lookalikes: dict[str, list[str]] = field(default_factory=dict)
    # Language detection only (not `texts_by_language`: matching never sees them).
    language_words: dict[str, list[str]] = field(default_factory=dict)

    def texts_by_language(self) -> dict[str, list[str]]:
        """Every example per language (language detection learns their words)."""
        result: dict[str, list[str]] = {}
        for lang, texts in self.negatives.items():
            result.setdefault(lang, []).extend(texts)
        for groups in (self.smalltalk, self.urgent):
            for by_lang in groups.values():
                for lang, texts in by_lang.items():
                    result.setdefault(lang, []).extend(texts)
        for lang, texts in self.lookalikes.items():
            result.setdefault(lang, []).extend(texts)
        return result


def example_files(directory: Path = HERE) -> tuple[Path, Path, Path, Path]:
    """The negatives, small-talk, urgent examples and language words files of a folder."""
    return (
        directory / NEGATIVES_FILE.name,
        directory / SMALLTALK_FILE.name,
        directory / URGENT_EXAMPLES_FILE.name,
        directory / LANGUAGE_WORDS_FILE.name,
    )


def load_examples_or_fail(directory: Path = HERE) -> Examples:
    """The examples of a folder; `FaqError` listing every problem if any."""
    examples, problems = load_examples(*example_files(directory))
    if problems:
        from faq.loader import FaqError

        raise FaqError(problems)
    return examples


def load_examples(
    negatives: Path = NEGATIVES_FILE,
    smalltalk: Path = SMALLTALK_FILE,
    urgent: Path = URGENT_EXAMPLES_FILE,
    language_words: Path = LANGUAGE_WORDS_FILE,
) -> tuple[Examples, list[Problem]]:
    """All four files; a missing file is a problem, and so is every invalid entry."""
    examples = Examples()
    problems: list[Problem] = []
    node, data = _read(negatives, problems)
    if node is not None:
        for lang, kinds in _mapping(negatives, node, data, (), problems, LANGUAGES).items():
            where = (lang,)
            for kind, texts in _mapping(
                negatives, node, kinds, where, problems, NEGATIVE_KINDS
            ).items():
                examples.negatives.setdefault(lang, []).extend(
                    _texts(negatives, node, texts, (*where, kind), problems)
                )
    node, data = _read(smalltalk, problems)
    if node is not None:
        for intent, by_lang in _mapping(smalltalk, node, data, (), problems, INTENTS).items():
            examples.smalltalk[intent] = _by_language(
                smalltalk, node, by_lang, (intent,), problems
            )
    node, data = _read(urgent, problems)
    if node is not None:
        from faq.urgent import CATEGORIES

        sections = _mapping(urgent, node, data, (), problems, ("categories", "lookalikes"))
        categories = _mapping(
            urgent, node, sections.get("categories"), ("categories",), problems, CATEGORIES
        )
        for category, by_lang in categories.items():
            examples.urgent[category] = _by_language(
                urgent, node, by_lang, ("categories", category), problems
            )
        examples.lookalikes = _by_language(
            urgent, node, sections.get("lookalikes"), ("lookalikes",), problems
        )
    node, data = _read(language_words, problems)
    if node is not None:
        examples.language_words = _by_language(language_words, node, data, (), problems)
    return examples, problems


def _read(path: Path, problems: list[Problem]) -> tuple[yaml.Node | None, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        node, data = yamlio.parse(text)
    except OSError as exc:
        problems.append(Problem(str(path), 0, f"cannot read the file: {exc.strerror}"))
        return None, None
    except yaml.MarkedYAMLError as exc:
        line, column, message = yamlio.explain(text, exc)
        problems.append(Problem(str(path), line, f"YAML syntax error: {message}", column))
        return None, None
    if node is None:
        problems.append(Problem(str(path), 1, "the file is empty"))
    return node, data


def _mapping(
    path: Path,
    node: yaml.Node,
    data: object,
    where: tuple[str, ...],
    problems: list[Problem],
    allowed: tuple[str, ...],
) -> dict[str, Any]:
    """`data` as a mapping whose keys are among `allowed`; other keys are problems."""
    if not isinstance(data, dict):
        what = " > ".join(where) or "the file"
        problems.append(
            Problem(str(path), _line_of(node, where), f"{what}: expected one of {allowed}")
        )
        return {}
    result = {}
    for key, value in data.items():
        name = "yes" if key is True else "no" if key is False else str(key)
        if name not in allowed:
            problems.append(
                Problem(
                    str(path),
                    _line_of(node, (*where, key)),
                    f"unknown name {name!r}; use one of: {', '.join(allowed)}",
                )
            )
            continue
        result[name] = value
    return result


def _by_language(
    path: Path, node: yaml.Node, data: object, where: tuple[str, ...], problems: list[Problem]
) -> dict[str, list[str]]:
    return {
        lang: _texts(path, node, texts, (*where, lang), problems)
        for lang, texts in _mapping(path, node, data, where, problems, LANGUAGES).items()
    }


def _texts(
    path: Path, node: yaml.Node, data: object, where: tuple[str, ...], problems: list[Problem]
) -> list[str]:
    line = _line_of(node, where)
    if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
        problems.append(Problem(str(path), line, "expected a list of messages in quotes"))
        return []
    kept = []
    for i, text in enumerate(data):
        if tokens(text) or not text.isascii():  # an emoji alone is a message too
            kept.append(text)
        else:
            problems.append(Problem(str(path), _line_of(node, (*where, i)), "a message is empty"))
    return kept
