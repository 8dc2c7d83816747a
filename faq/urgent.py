"""Urgent and protection situations: recognised before any FAQ matching, never answered by it.

Phrases live in `urgent.yaml` (coordinators tune them). A phrase matches when every one of its
words occurs in the message, in any order, allowing other endings, typos, missing diacritics and
Latin transliteration (the same normalisation as FAQ matching). Phrases listed under
`not_urgent` ("foreign police registration") cover their words first, so an ordinary paperwork
question that merely mentions the police is not mistaken for an emergency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import yaml
from rapidfuzz import fuzz, process

from faq import yamlio
from faq.loader import Problem, _line_of
from faq.normalize import tokens
from locales import LANGUAGES

URGENT_FILE: Final = Path(__file__).parent / "urgent.yaml"
CATEGORIES: Final = (
    "violence", "exploitation", "trafficking", "detention", "self-harm", "child", "medical",
)  # fmt: skip
MAX_TOKENS: Final = 400
EXACT_LANGUAGES: Final = frozenset({"vi"})
# One typo in a word of about ten letters; looser lets "prodali" (sold) match "prodlit" (extend).
TYPO_RATIO: Final = 90
# Up to this length a word is within a typo of another only at an Indel distance of two or
# less: 13 + 15 letters allow 2.8. Two letters more or less need 20 letters in all, so words of
# TWO_DELETIONS letters or more (9 + 11 allow 2) are also looked up without two letters. Longer
# message words are compared with every phrase word of nearby length.
LAST_SHORT: Final = 13
# A phrase's words must stand within its length plus this many words of each other.
WINDOW_SLACK: Final = 5
TWO_DELETIONS: Final = 11


@dataclass(frozen=True)
class UrgentHit:
    category: str
    phrase: str


@dataclass(frozen=True)
class _Phrase:
    category: str
    text: str
    tokens: tuple[str, ...]
    # Languages of one-syllable words (Vietnamese): only the exact words count, since a
    # syllable's near neighbours mean something else entirely (đánh / đăng, hiếp / hiểm).
    exact: bool = False
    lang: str = ""


def _word_matches(word: str, phrase_word: str, ratio: float) -> bool:
    """Stricter than FAQ matching: a false alarm sends a person to the emergency numbers."""
    if word == phrase_word:
        return True
    if len(phrase_word) >= 3 and word.startswith(phrase_word):
        return True  # the phrase gives a stem: "bij" matches "bije", "bijes"
    if len(word) >= 3 and phrase_word.startswith(word) and len(phrase_word) - len(word) <= 2:
        return True  # another ending: "hit" matches "hits"
    return min(len(word), len(phrase_word)) >= 5 and ratio >= TYPO_RATIO  # a typo


def _deletions(word: str) -> set[str]:
    """`word` and what is left of it after deleting one of its letters, or up to two from
    TWO_DELETIONS letters on (the same rule for phrase words and message words)."""
    found = {word}
    last = {word}
    for _ in range(2 if len(word) >= TWO_DELETIONS else 1):
        last = {w[:i] + w[i + 1 :] for w in last for i in range(len(w))}
        found |= last
    return found


def _shortest(length: int) -> int:
    """The shortest word that can reach TYPO_RATIO with a word of `length` letters: the ratio
    is at most 200 * shorter / (shorter + longer)."""
    return math.ceil(length * TYPO_RATIO / (200 - TYPO_RATIO))


def _longest(length: int) -> int:
    return math.floor(length * (200 - TYPO_RATIO) / TYPO_RATIO)


class UrgentDetector:
    """Finds urgent situations in a message."""

    def __init__(self, urgent: list[_Phrase], harmless: list[tuple[str, ...]]) -> None:
        self._urgent = urgent
        self._harmless = harmless
        self._vocabulary = sorted(
            {w for p in urgent for w in p.tokens} | {w for h in harmless for w in h}
        )
        self._words = frozenset(self._vocabulary)
        # Phrase words by their stem minus one or two final letters (another ending: "hit" for
        # "hits"): one lookup.
        self._by_shorter: dict[str, list[str]] = {}
        for w in self._vocabulary:
            for cut in (1, 2):
                if len(w) - cut >= 3:
                    self._by_shorter.setdefault(w[:-cut], []).append(w)
        # Words long enough for the typo rule, by length: a ratio of TYPO_RATIO needs lengths
        # within about a fifth of each other, so a word is compared only with words of nearby
        # lengths.
        by_length: dict[int, list[str]] = {}
        for w in self._vocabulary:
            if len(w) >= 5:
                by_length.setdefault(len(w), []).append(w)
        self._nearby = {
            n: [w for m in range(_shortest(n), _longest(n) + 1) for w in by_length.get(m, ())]
            for n in range(5, _longest(max(by_length, default=5)) + 1)
        }
        # A typo needs a ratio of TYPO_RATIO, that is an Indel distance (letters inserted plus
        # letters deleted) of at most a tenth of both lengths together: at most two up to
        # LAST_SHORT letters. Two such words become the same after deleting at most one letter
        # from each, or two from the longer one. Long phrase words indexed by what is left
        # after deleting one letter (from TWO_DELETIONS letters on, also two) are found with a
        # few lookups instead of comparing the word with a thousand others (`_typos`); the
        # position in `_nearby` orders ties as process.extract does.
        self._position = {
            n: {w: i for i, w in enumerate(nearby)} for n, nearby in self._nearby.items()
        }
        self._deleted: dict[str, set[str]] = {}
        for w in self._vocabulary:
            if len(w) >= 5:
                for rest in _deletions(w):
                    self._deleted.setdefault(rest, set()).add(w)
        self._urgent_by_word: dict[str, list[int]] = {}
        for i, phrase in enumerate(urgent):
            for word in set(phrase.tokens):
                self._urgent_by_word.setdefault(word, []).append(i)
        self._harmless_by_word: dict[str, list[int]] = {}
        for i, words in enumerate(harmless):
            for word in set(words):
                self._harmless_by_word.setdefault(word, []).append(i)
        self._matches = lru_cache(maxsize=20_000)(self._matches_uncached)
        # The engine asks about a message before any step, and the matcher again before
        # matching it: the second time is a lookup.
        self._detected = lru_cache(maxsize=256)(self._detect_uncached)

    @classmethod
    def load(cls, path: Path = URGENT_FILE) -> UrgentDetector:
        data, problems = check_urgent(path)
        if problems:
            from faq.loader import FaqError

            raise FaqError(problems)
        urgent = [
            _Phrase(
                category, phrase, tuple(tokens(phrase)), exact=lang in EXACT_LANGUAGES, lang=lang
            )
            for category, by_lang in data["categories"].items()
            for lang, phrases in by_lang.items()
            for phrase in phrases
            if tokens(phrase)
        ]
        harmless = [
            tuple(tokens(phrase))
            for phrases in (data.get("not_urgent") or {}).values()
            for phrase in phrases
            if tokens(phrase)
        ]
        return cls(urgent, harmless)

    def detect(self, text: str, lang: str | None = None) -> UrgentHit | None:
        """The first urgent phrase the message matches. With `lang` (a language the message
        is surely in), only that language's phrases count: a phrase's words with other
        endings and typos resemble ordinary words of other languages ("unesl dítě" in a French
        question about a "bebe"). Without it, every language's phrases count."""
        return self._detected(text, lang)

    def _detect_uncached(self, text: str, lang: str | None) -> UrgentHit | None:
        sequence = tokens(text)[: MAX_TOKENS * 2]
        words = list(dict.fromkeys(sequence))[:MAX_TOKENS]
        if not words:
            return None
        positions: dict[str, list[int]] = {}
        for i, word in enumerate(sequence):
            positions.setdefault(word, []).append(i)
        matched = {w: self._matches(w) for w in words}
        present = set().union(*matched.values())
        covered: set[str] = set()
        for index in self._candidates(self._harmless_by_word, present):
            phrase = self._harmless[index]
            if all(pw in present for pw in phrase):
                covered.update(w for w in words if matched[w] & set(phrase))
        free = [w for w in words if w not in covered]
        available = set().union(*(matched[w] for w in free)) if free else set()
        exact = set(free)
        for index in self._candidates(self._urgent_by_word, available | exact):
            phrase = self._urgent[index]
            if lang is not None and phrase.lang != lang:
                continue
            pool = exact if phrase.exact else available
            if all(pw in pool for pw in phrase.tokens) and self._near(
                phrase, free, matched, positions
            ):
                return UrgentHit(phrase.category, phrase.text)
        return None

    @staticmethod
    def _near(
        phrase: _Phrase,
        free: list[str],
        matched: dict[str, frozenset[str]],
        positions: dict[str, list[int]],
    ) -> bool:
        """Whether the message has the phrase's words within a window of its length plus
        WINDOW_SLACK words: the same words scattered over a long message say something else
        ("solo habla español. ¿Puede entrar...?" is not "no puede hablar")."""
        hits = sorted(
            (i, pw)
            for pw in set(phrase.tokens)
            for w in free
            if (w == pw if phrase.exact else pw in matched[w])
            for i in positions[w]
        )
        need = len(set(phrase.tokens))
        window = len(phrase.tokens) + WINDOW_SLACK
        for start, (first, _) in enumerate(hits):
            seen = {pw for i, pw in hits[start:] if i - first < window}
            if len(seen) == need:
                return True
        return False

    @staticmethod
    def _candidates(index: dict[str, list[int]], words: set[str]) -> list[int]:
        """Phrases sharing a word with the message, in file order (only these can match)."""
        return sorted({i for w in words for i in index.get(w, ())})

    def _matches_uncached(self, word: str) -> frozenset[str]:
        """The phrase words that this message word can stand for."""
        found = {word} if word in self._words else set()
        if len(word) >= 3:
            # Phrase words that are stems of this word, or this word plus one or two letters.
            found.update(word[:n] for n in range(3, len(word)) if word[:n] in self._words)
            found.update(self._by_shorter.get(word, ()))
        if len(word) >= 5:
            for candidate, ratio in self._typos(word):
                if _word_matches(word, candidate, ratio):
                    found.add(candidate)
        return frozenset(found)

    def _typos(self, word: str) -> list[tuple[str, float]]:
        """The 30 phrase words closest to `word` with a ratio of TYPO_RATIO or more, best first,
        as ``process.extract(word, nearby, scorer=fuzz.ratio, score_cutoff=TYPO_RATIO,
        limit=30)`` gives them."""
        nearby = self._nearby.get(len(word), ())  # none for a word far longer than all
        if len(word) > LAST_SHORT:
            return [
                (candidate, ratio)
                for candidate, ratio, _ in process.extract(
                    word, nearby, scorer=fuzz.ratio, score_cutoff=TYPO_RATIO, limit=30
                )
            ]
        position = self._position.get(len(word), {})
        candidates = {
            w for rest in _deletions(word) for w in self._deleted.get(rest, ()) if w in position
        }
        scored = [(w, fuzz.ratio(word, w)) for w in candidates]
        scored = [(w, ratio) for w, ratio in scored if ratio >= TYPO_RATIO]
        scored.sort(key=lambda pair: (-pair[1], position[pair[0]]))
        return scored[:30]


def check_urgent(path: Path = URGENT_FILE) -> tuple[dict, list[Problem]]:
    """Parse and validate the urgent phrases file: `file:line: message` problems."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        node, data = yamlio.parse(text)
    except OSError as exc:
        return {}, [Problem(name, 0, f"cannot read the file: {exc.strerror}")]
    except yaml.MarkedYAMLError as exc:
        line, column, message = yamlio.explain(text, exc)
        return {}, [Problem(name, line, f"YAML syntax error: {message}", column)]
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        return {}, [Problem(name, 1, "the file needs a 'categories' mapping")]
    problems = []
    for category, by_lang in data["categories"].items():
        where = ("categories", category)
        if category not in CATEGORIES:
            problems.append(
                Problem(
                    name,
                    _line_of(node, where),
                    f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}",
                )
            )
        problems.extend(_check_by_lang(name, node, where, by_lang))
    problems.extend(_check_by_lang(name, node, ("not_urgent",), data.get("not_urgent") or {}))
    return data, problems


def _check_by_lang(name: str, node: yaml.Node, where: tuple, by_lang: object) -> list[Problem]:
    if not isinstance(by_lang, dict):
        return [Problem(name, _line_of(node, where), "expected languages with lists of phrases")]
    problems = []
    for lang, phrases in by_lang.items():
        line = _line_of(node, (*where, lang))
        if lang not in LANGUAGES:
            problems.append(
                Problem(
                    name,
                    line,
                    f"unknown language code {lang!r}; supported: {', '.join(LANGUAGES)}",
                )
            )
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            problems.append(Problem(name, line, "expected a list of phrases in quotes"))
        elif not all(tokens(p) for p in phrases):
            problems.append(Problem(name, line, "a phrase has no words"))
    return problems
