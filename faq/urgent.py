"""Urgent and protection situations: recognised before any FAQ matching, never answered by it.

Phrases live in `urgent.yaml` (coordinators tune them). A phrase matches when every one of its
words occurs in the message, in any order, allowing other endings, typos, missing diacritics and
Latin transliteration (the same normalisation as FAQ matching). Phrases listed under
`not_urgent` ("foreign police registration") cover their words first, so an ordinary paperwork
question that merely mentions the police is not mistaken for an emergency.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from faq import yamlio
from faq.fuzzy import WordIndex
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
# (Above `fuzzy.NEAR`: the shared index gives every word this close.)
TYPO_RATIO: Final = 90
# A message word shorter than this may stand for a phrase word one letter longer, not two.
SHORT_WORD: Final = 5
# A phrase's words must stand within its length plus this many words of each other.
WINDOW_SLACK: Final = 5
# In a one-syllable language a phrase's syllables stand in its order, each at most this many
# words after the one before (`_in_order`).
IN_ORDER_GAP: Final = WINDOW_SLACK


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
    # Another ending: "hit" matches "hits" (not "insu", Ukrainian "other", "insult").
    longer = len(phrase_word) - len(word)
    if (
        len(word) >= 3
        and phrase_word.startswith(word)
        and longer <= (2 if len(word) >= SHORT_WORD else 1)
    ):
        return True
    return min(len(word), len(phrase_word)) >= 5 and ratio >= TYPO_RATIO  # a typo


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
                if len(w) - cut >= (3 if cut == 1 else SHORT_WORD):
                    self._by_shorter.setdefault(w[:-cut], []).append(w)
        # Typos are looked up in an index of words (`faq.fuzzy`): the matcher lends its own,
        # which holds these words too (`share`); alone, the detector makes one when first asked.
        self._index: WordIndex | None = None
        self._ours: frozenset[int] = frozenset()
        # Each phrase under its rarest word: a phrase can match only when that word is in the
        # message, and few phrases share a rare word (many share "me", "v", "na").
        self._urgent_by_word = _by_rarest([phrase.tokens for phrase in urgent])
        self._harmless_by_word = _by_rarest(harmless)
        self._matches = lru_cache(maxsize=20_000)(self._matches_uncached)
        # The engine asks about a message before any step, and the matcher again before
        # matching it: the second time is a lookup.
        self._detected = lru_cache(maxsize=256)(self._detect_uncached)

    @property
    def vocabulary(self) -> list[str]:
        """Every word of the phrases (urgent and not), sorted."""
        return self._vocabulary

    def share(self, index: WordIndex) -> None:
        """Look typos up in `index` (which holds every word of `vocabulary`) from now on."""
        self._index, self._ours = index, index.members(self._vocabulary)
        self._matches.cache_clear()
        self._detected.cache_clear()

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
            urgent = self._urgent[index]
            if lang is not None and urgent.lang != lang:
                continue
            pool = exact if urgent.exact else available
            if all(pw in pool for pw in urgent.tokens) and self._near(
                urgent, free, matched, positions
            ):
                return UrgentHit(urgent.category, urgent.text)
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
        if phrase.exact:
            return _in_order(phrase.tokens, positions)
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
        """The phrase words of five letters or more whose ratio with `word` is TYPO_RATIO or
        more, best first (ties in alphabetical order)."""
        if self._index is None:
            self.share(WordIndex(self._vocabulary))
        index = self._index
        assert index is not None
        found = sorted(
            (-ratio, i)
            for i, ratio in index.near(word)
            if ratio >= TYPO_RATIO and i in self._ours and len(index.words[i]) >= 5
        )
        return [(index.words[i], -negative) for negative, i in found]


def _by_rarest(phrases: list[tuple[str, ...]]) -> dict[str, list[int]]:
    """Phrase positions under the word of each phrase that the fewest phrases have."""
    counts: dict[str, int] = {}
    for words in phrases:
        for word in set(words):
            counts[word] = counts.get(word, 0) + 1
    index: dict[str, list[int]] = {}
    for i, words in enumerate(phrases):
        if words:
            rarest = min(sorted(set(words)), key=counts.__getitem__)
            index.setdefault(rarest, []).append(i)
    return index


def _in_order(phrase: tuple[str, ...], positions: dict[str, list[int]]) -> bool:
    """Whether the syllables of `phrase` stand in the message in its order, each at most
    IN_ORDER_GAP words after the one before (a one-syllable language says who does what by
    order: "đánh con", to hit the child, is not "con trai đánh nhau", the son fights)."""
    ends = set(positions.get(phrase[0], ()))
    for syllable in phrase[1:]:
        ends = {
            i for i in positions.get(syllable, ()) if any(0 < i - e <= IN_ORDER_GAP for e in ends)
        }
        if not ends:
            return False
    return bool(ends)


def check_urgent(path: Path = URGENT_FILE) -> tuple[dict[str, Any], list[Problem]]:
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


def _check_by_lang(
    name: str, node: yaml.Node | None, where: tuple[str, ...], by_lang: object
) -> list[Problem]:
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


def phrases_on_lookalikes(
    detector: UrgentDetector, examples_file: Path
) -> list[tuple[int, str, UrgentHit]]:
    """(line, text, hit) of every ordinary look-alike example in `examples_file` that an urgent
    phrase matches: a phrase that general sends ordinary questions to the emergency numbers
    (`poradna faq check` warns about each)."""
    node, data = yamlio.parse(examples_file.read_text(encoding="utf-8"))
    found = []
    for lang, texts in ((data or {}).get("lookalikes") or {}).items():
        for i, text in enumerate(texts or ()):
            hit = detector.detect(str(text), lang)
            if hit:
                found.append((_line_of(node, ("lookalikes", lang, i)), str(text), hit))
    return found
