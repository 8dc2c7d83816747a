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

import math
from collections import defaultdict
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


def load_stopwords(path: Path = STOPWORDS_FILE) -> dict[str, set[str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        lang: {skeleton(w) for item in items for w in words(str(item))}
        for lang, items in raw.items()
    }


def token_similarity(a: str, b: str, ratio: float) -> float:
    """How well query word `a` matches FAQ word `b` (0..1): exact, same stem, or a typo."""
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
    if shortest >= 5 and ratio >= 84:
        return 0.9 * ratio / 100  # a typo
    return 0.0


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
        found = process.extract(token, self._vocab, scorer=fuzz.ratio, score_cutoff=55, limit=40)
        result = []
        for vt, ratio, _ in found:
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
        phrase = " ".join(query)
        scores: dict[str, tuple[float, float]] = {}
        for doc in self._docs:
            if doc.lang not in languages:
                continue
            covered = 0.0
            for qt, sims in similar.items():
                best = max(
                    (s * self._idf[vt] for vt, s in sims.items() if vt in doc.tokens), default=0.0
                )
                covered += min(best, weight[qt])
            covered += sum(self._idf[p] for p in pairs if p in doc.pairs)
            if not covered:
                continue
            coverage = min(100.0, 100 * covered / total)
            score = coverage * min(1.0, covered / EVIDENCE_FULL)
            if score >= CLARIFY_SCORE / 2 and len(query) >= 2:
                near = max((fuzz.token_sort_ratio(phrase, p) for p in doc.phrases), default=0.0)
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
