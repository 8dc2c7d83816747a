"""Match a free-text question to FAQ topics, in any supported language.

Each topic is a bag of matching tokens per language (question, title, variants, keywords, and
adjacent word pairs). A question scores against a topic by *coverage*: how much of the question's
informative words the topic explains, each word weighted by how specific it is in the FAQ (a word
found in one topic weighs more than one found in ten) and by how closely it matches (exact,
same stem, typo). A whole-phrase similarity catches short questions that are a near copy of a
variant with typos or another word order. The best language of each topic counts.

Decisions: *answer* only when one topic is clearly ahead; *clarify* with the closest few when
several fit or the fit is partial; *escalate* when nothing fits (greetings, chatter, a personal
situation that a FAQ cannot answer).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import yaml
from rapidfuzz import fuzz, process

from faq.langdetect import SCRIPT_LANGUAGES, Detection, LanguageDetector, script_of
from faq.normalize import skeleton, words

if TYPE_CHECKING:
    from faq.loader import Faq
    from faq.urgent import UrgentDetector

Decision = Literal["answer", "clarify", "escalate", "urgent"]

STOPWORDS_FILE: Final = Path(__file__).parent / "stopwords.yaml"

ANSWER_SCORE: Final = 72
ANSWER_MARGIN: Final = 12
CLARIFY_SCORE: Final = 45
CLARIFY_SPREAD: Final = 25
MAX_CANDIDATES: Final = 3
# Word weights are specificities in 0..1: 1 for a word only one topic uses, less the more topics
# share it. A word the FAQ has never seen weighs UNKNOWN_WEIGHT: enough that a long personal story
# with one FAQ word in it is not answered as if it were that FAQ question.
UNKNOWN_WEIGHT: Final = 0.45
# How much matched specificity a topic needs before its coverage counts in full: one exact word
# that only this topic uses, or two fairly specific ones. Less evidence scales the score down, so
# one common word ("many", "card") never answers on its own.
EVIDENCE_FULL: Final = 1.1
# A near copy of a whole variant (typos, other word order) counts from this similarity up.
PHRASE_SCORE: Final = 85
# Coverage at which every informative word of a question is explained by a topic.
FULL_COVERAGE: Final = 90
# Languages that write one syllable per word: no stem or typo matching on them, word pairs decide.
ANALYTIC_LANGUAGES: Final = frozenset({"vi"})
PAIR_SEPARATOR: Final = " "
# A query word is compared with the FAQ words whose similarity ratio (rapidfuzz `fuzz.ratio`) is
# at least FUZZY_CUTOFF, the FUZZY_LIMIT closest of them.
FUZZY_CUTOFF: Final = 55
FUZZY_LIMIT: Final = 40
# Two words whose ratio is at least this much (and that are long enough) are one word mistyped.
TYPO_RATIO: Final = 84


@dataclass(frozen=True)
class Candidate:
    topic: str
    score: int


@dataclass(frozen=True)
class Match:
    """How a question was matched; `topic` is set only for an answer."""

    text: str
    lang: str
    lang_confident: bool
    decision: Decision
    topic: str | None
    score: int
    candidates: tuple[Candidate, ...]
    informative: tuple[str, ...] = field(default=())
    urgent_category: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The `poradna ask --json` shape."""
        return {
            "text": self.text,
            "lang": self.lang,
            "decision": self.decision,
            "topic": self.topic,
            "score": self.score,
            "candidates": [{"topic": c.topic, "score": c.score} for c in self.candidates],
        }


@dataclass
class _Doc:
    topic: str
    lang: str
    tokens: set[str]
    pairs: set[str]
    phrases: list[str]
    # The phrases with their words sorted: `fuzz.ratio` on these is `fuzz.token_sort_ratio`.
    sorted_phrases: list[str] = field(default_factory=list)


def load_stopwords(path: Path = STOPWORDS_FILE) -> dict[str, set[str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        lang: {skeleton(w) for item in items for w in words(str(item))}
        for lang, items in raw.items()
    }


def token_similarity(a: str, b: str, ratio: float) -> float:
    """How well query word `a` matches FAQ word `b` (0..1): exact, same stem, or a typo."""
    stem = stem_similarity(a, b)
    if stem:
        return stem
    if min(len(a), len(b)) >= 5 and ratio >= TYPO_RATIO:
        return 0.9 * ratio / 100  # a typo
    return 0.0


def stem_similarity(a: str, b: str) -> float:
    """The part of `token_similarity` that needs no ratio: exact or same stem, else 0."""
    if a == b:
        return 1.0
    shortest = min(len(a), len(b))
    prefix = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        prefix += 1
    if prefix >= 4 and prefix >= shortest - 3:
        return 0.9  # one stem, another ending: prodlit / prodlenie, karta / kartu
    if len(a) == len(b) == prefix + 1 >= 4:
        return 0.8  # short words, another ending: vizu / viza
    return 0.0


# The fuzzy search first looks only at words whose ratio is above _NEAR_BOUND, then above
# _MID_BOUND, then as low as needed (see `FuzzyVocabulary.closest`). Neither bound is a ratio two
# words can have (200 * common letters / total length), so no word sits exactly on one.
_NEAR_BOUND: Final = 74.9
_MID_BOUND: Final = 66.6
# Shared bigrams are counted up to this many (a weaker but valid filter above it).
_MAX_SHARED_BIGRAMS: Final = 8
_ONE_BIT = re.compile("1")


class FuzzyVocabulary:
    """The FAQ's words, indexed to find a query word's closest words without comparing it with
    every word of the FAQ.

    `closest(token)` returns, in the same order, the head of what
    ``process.extract(token, words, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF,
    limit=FUZZY_LIMIT)`` returns: every entry down to a ratio bound below which no entry can get a
    `token_similarity` above 0. So the similar words and their similarities are exactly those of
    the full comparison.

    How: ratio = 200 * LCS / (len(a) + len(b)), LCS being the longest common subsequence. A word
    is above a bound only with an LCS of at least some L (given both lengths), and LCS <= the
    letters the two words have in common, and LCS >= L implies at least 3L + 1 - len(a) - len(b)
    shared bigrams of the words padded with start and end marks. One bit mask per letter
    occurrence, per bigram occurrence and per word length (bit i: word i; Python ints) counts
    both for all words at once; only the words that pass are compared with rapidfuzz.

    The bound: a word at or below 74.9 can only be similar by its stem (a typo needs TYPO_RATIO),
    and those words share the query word's first three letters, so they are few and checked
    directly. When none of them is in the result's range, or the words above the bound already
    fill the limit, the words above 74.9 are the answer; else the bound goes down to 66.6, then
    to the lowest such stem word.
    """

    def __init__(self, words: list[str]) -> None:
        self.words = sorted(words)
        grams: dict[tuple[str, int], list[int]] = defaultdict(list)
        letters: dict[tuple[str, int], list[int]] = defaultdict(list)
        lengths: dict[int, list[int]] = defaultdict(list)
        for i, word in enumerate(self.words):
            for key in _occurrences(_bigrams(word)):
                grams[key].append(i)
            for key in _occurrences(word):
                letters[key].append(i)
            lengths[len(word)].append(i)
        size = len(self.words)
        self._grams = {key: _bit_mask(ids, size) for key, ids in grams.items()}
        self._letters = {key: _bit_mask(ids, size) for key, ids in letters.items()}
        self._lengths = {n: _bit_mask(ids, size) for n, ids in sorted(lengths.items())}

    def closest(self, token: str) -> list[tuple[str, float]]:
        """(word, ratio), best first: see the class documentation."""
        lowest_stem = self._lowest_stem_ratio(token)
        grams = _at_least(
            [self._grams.get(key, 0) for key in _occurrences(_bigrams(token))],
            _MAX_SHARED_BIGRAMS,
        )
        letters = _at_least([self._letters.get(key, 0) for key in _occurrences(token)], len(token))
        for bound in (_NEAR_BOUND, _MID_BOUND):
            found = self._above(token, bound, grams, letters)
            if len(found) >= FUZZY_LIMIT or lowest_stem is None or lowest_stem > bound:
                return found
        assert lowest_stem is not None
        return self._above(token, lowest_stem - 1e-6, grams, letters)

    def _lowest_stem_ratio(self, token: str) -> float | None:
        """The lowest ratio, up to _NEAR_BOUND, of a word with the same stem as `token`."""
        start = token[:3]
        lowest = None
        for i in range(bisect.bisect_left(self.words, start), len(self.words)):
            word = self.words[i]
            if not word.startswith(start):
                break
            if stem_similarity(token, word):
                ratio = fuzz.ratio(token, word)
                # Generous at the cutoff: a lower bound only makes the search wider.
                if FUZZY_CUTOFF - 1 <= ratio <= _NEAR_BOUND and (lowest is None or ratio < lowest):
                    lowest = ratio
        return lowest

    def _above(
        self, token: str, bound: float, grams: list[int], letters: list[int]
    ) -> list[tuple[str, float]]:
        """The words of the full result whose ratio is above `bound`, in its order."""
        size = len(token)
        candidates = 0
        for length, mask in self._lengths.items():
            lcs = math.floor(bound * (size + length) / 200) + 1
            if lcs > min(size, length):
                continue
            shared = 3 * lcs + 1 - size - length
            if shared > 0:
                mask &= grams[min(shared, len(grams) - 1)]
            candidates |= mask & letters[min(lcs, len(letters) - 1)]
        words = [self.words[i] for i in _set_bits(candidates)]
        found = process.extract(
            token, words, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=FUZZY_LIMIT
        )
        return [(word, ratio) for word, ratio, _ in found if ratio > bound]


def _bigrams(word: str) -> list[str]:
    padded = f"\x02{word}\x03"
    return [padded[i : i + 2] for i in range(len(padded) - 1)]


def _occurrences(items: Iterable[str]) -> list[tuple[str, int]]:
    """("a", 1), ("b", 1), ("a", 2): a multiset as a set, for counting what two words share."""
    seen: dict[str, int] = defaultdict(int)
    result = []
    for item in items:
        seen[item] += 1
        result.append((item, seen[item]))
    return result


def _bit_mask(ids: list[int], size: int) -> int:
    bits = bytearray(size // 8 + 1)
    for i in ids:
        bits[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(bits, "little")


def _at_least(masks: list[int], top: int) -> list[int]:
    """[_, in at least 1 of masks, in at least 2, ..., in at least top]."""
    counts = [0] * (top + 1)
    seen = 0
    for mask in masks:
        if not mask:
            continue
        seen += 1
        for k in range(min(top, seen), 1, -1):
            counts[k] |= counts[k - 1] & mask
        counts[1] |= mask
    return counts


def _set_bits(mask: int) -> list[int]:
    """The positions of the 1 bits of `mask`, ascending."""
    bits = bin(mask)
    last = len(bits) - 1
    positions = [last - found.start() for found in _ONE_BIT.finditer(bits, 2)]
    positions.reverse()
    return positions


class Matcher:
    """Matches questions against a loaded FAQ."""

    def __init__(
        self,
        faq: Faq,
        stopwords: dict[str, set[str]] | None = None,
        urgent: UrgentDetector | None = None,
    ) -> None:
        self.faq = faq
        self.urgent = urgent
        self._stopwords = stopwords if stopwords is not None else load_stopwords()
        self._all_stopwords = set().union(*self._stopwords.values()) if self._stopwords else set()
        self._docs: list[_Doc] = []
        lang_vocab: dict[str, set[str]] = defaultdict(set)
        for topic in faq.topics.values():
            for lang, tr in topic.translations.items():
                stop = self._stopwords.get(lang, set())
                phrases = [tr.question, *([tr.title] if tr.title else []), *tr.variants]
                doc = _Doc(topic.id, lang, set(), set(), [])
                for text in [*phrases, *tr.keywords]:
                    toks = [t for t in (skeleton(w) for w in words(text)) if t not in stop]
                    doc.tokens.update(toks)
                    doc.pairs.update(_pairs(toks))
                    if text in phrases and len(toks) >= 2:
                        doc.phrases.append(" ".join(toks))
                        doc.sorted_phrases.append(" ".join(sorted(toks)))
                self._docs.append(doc)
                lang_vocab[lang].update(doc.tokens)
                lang_vocab[lang].update(skeleton(w) for w in words(tr.answer))
        for lang, stop in self._stopwords.items():
            if lang in lang_vocab:
                lang_vocab[lang].update(stop)
        self._lang_vocab = dict(lang_vocab)
        self.detector = LanguageDetector(self._lang_vocab)
        topic_count = max(len(faq.topics), 1)
        df: dict[str, set[str]] = defaultdict(set)
        for doc in self._docs:
            for tok in doc.tokens | doc.pairs:
                df[tok].add(doc.topic)
        top = math.log(1 + topic_count)
        self._idf = {tok: math.log(1 + topic_count / len(ts)) / top for tok, ts in df.items()}
        self._vocab = sorted({t for d in self._docs for t in d.tokens})
        self._fuzzy = FuzzyVocabulary(self._vocab)
        # Which documents have a token or pair: only they can score for a query that has it.
        self._postings: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(self._docs):
            for tok in doc.tokens | doc.pairs:
                self._postings[tok].append(i)
        self._similar = lru_cache(maxsize=50_000)(self._similar_uncached)

    def detect(self, text: str, hint: str | None = None) -> Detection:
        return self.detector.detect(text, hint)

    def match(self, text: str, lang: str | None = None, hint: str | None = None) -> Match:
        """Match `text`; `lang` forces the language, `hint` is the user's language for ties."""
        detection = Detection(lang, True) if lang else self.detector.detect(text, hint)
        hit = self.urgent.detect(text) if self.urgent else None
        if hit:
            return Match(
                text,
                detection.lang,
                detection.confident,
                "urgent",
                None,
                100,
                (),
                urgent_category=hit.category,
            )
        query = self._informative(text, detection.lang, detection.confident)
        if not query:
            return Match(text, detection.lang, detection.confident, "escalate", None, 0, ())
        scores = self._score(query, _languages_for(text), detection.lang in ANALYTIC_LANGUAGES)
        ranked = sorted(((t, sc[0]) for t, sc in scores.items()), key=lambda kv: (-kv[1], kv[0]))
        best = ranked[0][1] if ranked else 0
        second = ranked[1][1] if len(ranked) > 1 else 0
        candidates = tuple(
            Candidate(topic, round(score))
            for topic, score in ranked[:MAX_CANDIDATES]
            if score >= CLARIFY_SCORE and score >= best - CLARIFY_SPREAD
        )
        if not candidates:
            # Every word is explained but none is specific ("visa"): ask which topic is meant.
            candidates = tuple(
                Candidate(topic, round(score))
                for topic, score in ranked
                if scores[topic][1] >= FULL_COVERAGE
            )[:MAX_CANDIDATES]
        margin = ANSWER_MARGIN if best < 90 else ANSWER_MARGIN * 2 // 3
        if best >= ANSWER_SCORE and best - second >= margin:
            decision: Decision = "answer"
            topic: str | None = ranked[0][0]
        elif candidates:
            decision, topic = "clarify", None
        else:
            decision, topic = "escalate", None
            candidates = tuple(Candidate(t, round(s)) for t, s in ranked[:MAX_CANDIDATES] if s > 0)
        return Match(
            text,
            detection.lang,
            detection.confident,
            decision,
            topic,
            round(best),
            candidates,
            tuple(query),
        )

    def _informative(self, text: str, lang: str, sure_of_language: bool) -> list[str]:
        """The query's words that can tell topics apart.

        A stopword of the detected language goes; so does a stopword of another language,
        unless the detected language (when we are sure of it) uses the word (Czech "pas" is a
        passport, French "pas" is "not").
        """
        own_stop = self._stopwords.get(lang, set())
        own_vocab = self._lang_vocab.get(lang, set()) if sure_of_language else set()
        result = []
        for word in words(text):
            tok = skeleton(word)
            if tok in own_stop or (tok in self._all_stopwords and tok not in own_vocab):
                continue
            if tok not in result:
                result.append(tok)
        return result

    def _similar_uncached(self, token: str) -> tuple[tuple[str, float], ...]:
        if len(token) < 3:
            return ((token, 1.0),) if token in self._idf else ()
        result = []
        for vt, ratio in self._fuzzy.closest(token):
            sim = token_similarity(token, vt, ratio)
            if sim > 0:
                result.append((vt, sim))
        return tuple(result)

    def _score(
        self, query: list[str], languages: tuple[str, ...], exact: bool
    ) -> dict[str, tuple[float, float]]:
        """Per topic: (score, coverage), both 0..100."""
        if exact:
            similar = {qt: ({qt: 1.0} if qt in self._idf else {}) for qt in query}
        else:
            similar = {qt: dict(self._similar(qt)) for qt in query}
        # A query word weighs what its closest FAQ word weighs (not a rarer word it merely
        # resembles: "visa" must not weigh like "visit").
        weight = {}
        for qt, sims in similar.items():
            closest = max(sims.items(), key=lambda kv: (kv[1], -self._idf[kv[0]]), default=None)
            weight[qt] = self._idf[closest[0]] * closest[1] if closest else UNKNOWN_WEIGHT
        pairs = [p for p in _pairs(query) if p in self._idf]
        total = sum(weight.values()) + sum(self._idf[p] for p in pairs)
        sorted_phrase = " ".join(sorted(query))
        # What each document covers: per query word in order, the best of its similar words the
        # document has (at most the word's weight); then the sum of its pairs. Only documents
        # with a similar word or a pair get anything, so only they are visited. (Adding in the
        # same order as one loop over all documents gives the very same numbers.)
        covered_by: dict[int, float] = {}
        for qt, sims in similar.items():
            best: dict[int, float] = {}
            for vt, value in sorted(
                ((vt, s * self._idf[vt]) for vt, s in sims.items()), key=lambda kv: kv[1]
            ):
                best.update(dict.fromkeys(self._postings[vt], value))  # the highest wins
            cap = weight[qt]
            for i, value in best.items():
                covered_by[i] = covered_by.get(i, 0.0) + min(value, cap)
        paired: dict[int, float] = {}
        for p in pairs:
            value = self._idf[p]
            for i in self._postings[p]:
                paired[i] = paired.get(i, 0) + value
        scores: dict[str, tuple[float, float]] = {}
        for i in sorted(covered_by.keys() | paired.keys()):
            doc = self._docs[i]
            if doc.lang not in languages:
                continue
            covered = covered_by.get(i, 0.0) + paired.get(i, 0)
            if not covered:
                continue
            coverage = min(100.0, 100 * covered / total)
            score = coverage * min(1.0, covered / EVIDENCE_FULL)
            if score >= CLARIFY_SCORE / 2 and len(query) >= 2:
                # fuzz.token_sort_ratio of the phrases, their words sorted beforehand.
                near = max((fuzz.ratio(sorted_phrase, p) for p in doc.sorted_phrases), default=0.0)
                if near >= PHRASE_SCORE:
                    score = max(score, near)
            if (score, coverage) > scores.get(doc.topic, (0.0, 0.0)):
                scores[doc.topic] = (score, coverage)
        return scores


def _pairs(tokens: list[str]) -> list[str]:
    return [f"{a}{PAIR_SEPARATOR}{b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def _languages_for(text: str) -> tuple[str, ...]:
    script = script_of(text)
    return SCRIPT_LANGUAGES.get(script or "latin", SCRIPT_LANGUAGES["latin"])
