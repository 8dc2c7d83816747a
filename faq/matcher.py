"""Match a free-text message to FAQ topics, in any supported language.

The matcher knows the FAQ and nothing else: `faq.understanding` reads each message once per turn
(language, urgency, small talk) and asks it about the FAQ. Its steps:
1. ranking (`Matcher.rank`): the word score below, re-ranked with character n-gram similarity
   (`faq.ngrams`), and the nearest negative example;
2. deciding (`Matcher.decide`): the calibrated probability that the leader is right
   (`faq.decide`, learned by `faq.calibrate`) answers alone, answers with alternatives, asks
   back or offers a person;
3. a follow-up of the last answer (`context`) or a second question in the message (`also`,
   `Matcher.beside`).

The word score (`Matcher._score`), the rule in one place: each topic is a bag of matching
tokens per language (question, title, variants, keywords, and adjacent word pairs). A question
scores against a topic by *coverage*: how much of the question's informative words the topic
explains, each word weighted by how specific it is in the FAQ (a word found in one topic weighs
more than one found in ten) and by how closely it matches (exact, same stem, typo:
`token_similarity`). A whole-phrase similarity catches short questions that are a near copy of a
variant with typos or another word order. The best language of each topic counts.

Speed (same results as comparing with everything): a query word is compared only with the FAQ
words that can be similar to it (`FuzzyVocabulary` over `faq.fuzzy.WordIndex`), only the
documents that share a word with the query are scored (an inverted index), and a decision scores
only the documents that can change it.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import yaml
from rapidfuzz import fuzz, process

from faq.decide import CALIBRATION_FILE, Calibration, Ranked, features
from faq.examples import Examples, load_examples_or_fail
from faq.fuzzy import WordIndex
from faq.langdetect import SCRIPT_LANGUAGES, Detection, LanguageDetector, script_of
from faq.ngrams import GramSpace, PhraseIndex
from faq.normalize import skeleton, words

if TYPE_CHECKING:
    from collections.abc import Collection

    from faq.loader import Faq

Decision = Literal["answer", "clarify", "escalate", "urgent", "chatter"]
# What one query word brings to the scores: (weight, postings of its similar FAQ words, value
# of each), see `Matcher._evidence_of`.
_Evidence = tuple[float, tuple[list[int], ...], tuple[float, ...]]

STOPWORDS_FILE: Final = Path(__file__).parent / "stopwords.yaml"

# A topic whose words score this much (0..100) is offered when the bot asks back; only topics
# that could still be offered are fully scored (`Matcher._score`).
CLARIFY_SCORE: Final = 45
# At most this many topics offered when the bot asks back (buttons).
MAX_CANDIDATES: Final = 3
# The pseudo-topic of the negatives' n-gram index.
NEGATIVE: Final = "-"
# How many topics, best by words, the n-gram similarity re-ranks.
RERANK: Final = 8
# The word score (0..100) from which the leader may be answered (else its n-grams must be close):
# 20 on the dev half of the blind set (30 asked back on long messages full of context, 15 alike).
ANSWER_EVIDENCE: Final = 20
# ... and, in a short question, n-grams at least this close: a word taken for another
# language's word with the same first letters ("yesterday" for Czech "jestli") shares few
# n-grams with the topic's phrases. A long message shares few with any phrase.
NGRAM_EVIDENCE: Final = 0.15
SHORT_QUESTION: Final = 6  # informative words
# A topic this close by n-grams is worth offering even when few of its words are in the message.
NGRAM_PLAUSIBLE: Final = 0.45
# A message of at most this many informative words can be a follow-up of the last answer
# ("and how much is it?"), unless it is clearly about another topic.
FOLLOWUP_WORDS: Final = 4
# "Clearly about another topic": answered surely with that topic at this score (0..100) or more.
FOLLOWUP_SWITCH: Final = 75
# A follow-up asks for one of its topic's follow-up answers when it is this close by n-grams
# (the mean of the two nearest) to that kind's variants, and FOLLOWUP_LEAD times closer than to
# any other kind's (chosen on the dev half: "а детям тоже такую надо?" is 0.16 from the
# children's variants and 0.09 from the next).
FOLLOWUP_SIMILAR: Final = 0.15
FOLLOWUP_LEAD: Final = 1.5
# A short message this close to any follow-up answer's variants reads as a follow-up (dev
# half: "is the exam fee paid by them or me?" 0.38; "quel temps fait-il demain" 0.34 is not).
FOLLOWUP_LIKE: Final = 0.36
# A runner-up with this much evidence (word score or n-gram similarity, 0..1) may be a second
# question in the message; only then is the message divided into parts. At most MAX_PARTS.
SECOND_QUESTION: Final = 0.25  # chosen on the dev half (0.4 found 22 of 33, 0.25 and 0.2: 27)
MAX_PARTS: Final = 6  # more parts than this: a long story, not a list of questions
# A part of one informative word is a question only when it is this close to a phrase (a
# keyword) of its topic by n-grams: "...and a pediatrician?", not "...how does it work?".
KEYWORD_PART: Final = 0.8
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
    confidence: float = 0.0
    intent: str | None = None
    also: tuple[str, ...] = ()
    alternatives: tuple[Candidate, ...] = ()
    # An answer the calibration is sure of (no alternatives needed).
    sure: bool = False
    # For a follow-up of the last answer: which of its topic's follow-up answers it asks
    # (`faq.schema.FOLLOWUP_KINDS`: "fee", "where", ...), if one fits.
    followup: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The `poradna ask --json` shape."""
        return {
            "text": self.text,
            "lang": self.lang,
            "decision": self.decision,
            "topic": self.topic,
            "score": self.score,
            "candidates": [{"topic": c.topic, "score": c.score} for c in self.candidates],
            "confidence": self.confidence,
            "intent": self.intent,
            "also": list(self.also),
            "alternatives": [c.topic for c in self.alternatives],
            "sure": self.sure,
            "followup": self.followup,
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
    if a[:3] != b[:3]:
        return 0.0  # both kinds below need at least three first letters in common
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


class FuzzyVocabulary:
    """The FAQ's words in a `WordIndex` (shared with the urgent detector, `faq.fuzzy`), to find
    a query word's similar words without comparing it with every word of the FAQ.

    `closest(token)` returns the words with a `token_similarity` above 0 among the FUZZY_LIMIT
    first of ``process.extract(token, words, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)``,
    and every other word of the same stem (`stem_similarity`) at FUZZY_CUTOFF or above, with
    their ratios, best first. A word of the same stem is evidence however many unrelated words
    happen to be closer by letters; the limit keeps the typo-like neighbours few.

    Which words: every word above `fuzzy.NEAR` is compared (`WordIndex.near`), so the similar
    ones among the closest are known. A word at or below it can only be similar by its stem (a
    typo needs TYPO_RATIO), and such words share the query word's first three or four letters,
    so they are few and found directly in the sorted list.
    """

    def __init__(self, words: list[str], index: WordIndex | None = None) -> None:
        """`index`: one that holds `words` among others (else one of `words` alone)."""
        self.index = index if index is not None else WordIndex(words)
        self._ours = self.index.members(words)

    def closest(self, token: str) -> list[tuple[str, float]]:
        """(word, ratio) of the similar words, best first: see the class documentation."""
        index, ours = self.index, self._ours
        ranked = sorted((-ratio, i) for i, ratio in index.near(token) if i in ours)
        chosen = {
            (negative, i)
            for negative, i in ranked[:FUZZY_LIMIT]
            if token_similarity(token, index.words[i], -negative) > 0
        }
        chosen.update(self._stems(token))
        return [(index.words[i], -negative) for negative, i in sorted(chosen)]

    def _stems(self, token: str) -> list[tuple[float, int]]:
        """(-ratio, position) of the words with the same stem as `token`, at FUZZY_CUTOFF or
        above (as process.extract has it)."""
        # Same stem (`stem_similarity`): the same word, or at least four first letters in common,
        # or, for words of four letters, three.
        words = self.index.words
        start = token[:4] if len(token) > 4 else token[:3]
        indices = [
            i
            for i in self.index.starting(start)
            if i in self._ours and stem_similarity(token, words[i])
        ]
        if not indices:
            return []
        return [
            (-ratio, indices[j])
            for _, ratio, j in process.extract(
                token,
                [words[i] for i in indices],
                scorer=fuzz.ratio,
                score_cutoff=FUZZY_CUTOFF,
                limit=None,
            )
        ]


class Matcher:
    """Matches questions against a loaded FAQ."""

    def __init__(
        self,
        faq: Faq,
        stopwords: dict[str, set[str]] | None = None,
        *,
        calibration: Calibration | None = None,
        examples: Examples | None = None,
        ranking_only: bool = False,
        shared_words: Collection[str] = (),
    ) -> None:
        """`ranking_only`: only what `rank` needs (the cross-validation builds many);
        `shared_words`: another user's words kept in the same word index (`word_index`: the
        urgent phrases', `faq.understanding`)."""
        self.faq = faq
        self.calibration = calibration or _shipped_calibration()
        self.examples = examples if examples is not None else _shipped_examples()
        # One numbering of n-grams for every index of this matcher and of those built beside
        # it (`faq.understanding`: small talk, urgency).
        self.space = space = GramSpace()
        self._stopwords = stopwords if stopwords is not None else load_stopwords()
        self.stopwords = self._stopwords
        self._all_stopwords = set().union(*self._stopwords.values()) if self._stopwords else set()
        self._docs: list[_Doc] = []
        lang_vocab: dict[str, set[str]] = defaultdict(set)
        ngram_phrases: list[tuple[str, str, str]] = []
        for topic in faq.topics.values():
            for lang, tr in topic.translations.items():
                stop = self._stopwords.get(lang, set())
                phrases = [tr.question, *([tr.title] if tr.title else []), *tr.variants]
                ngram_phrases.extend((topic.id, lang, text) for text in [*phrases, *tr.keywords])
                doc = _Doc(topic.id, lang, set(), set(), [])
                for text in [*phrases, *tr.keywords]:
                    toks = [t for t in (skeleton(w) for w in words(text)) if t and t not in stop]
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
        # The words people use around questions tell languages apart too ("добрий день").
        raw_vocab: dict[str, set[str]] = defaultdict(set)
        # ... and the words people write around questions (the examples, the language words;
        # not the FAQ's own), which language detection tells apart from the FAQ's quotes.
        chat: dict[str, set[str]] = defaultdict(set)
        _learn_words(self.examples.texts_by_language(), raw_vocab, lang_vocab, chat)
        for topic in () if ranking_only else faq.topics.values():
            for lang, tr in topic.translations.items():
                for text in (tr.question, *tr.variants, *tr.keywords):
                    raw_vocab[lang].update(words(text))
        self._lang_vocab = dict(lang_vocab)
        # Detection also knows the common chat words of each language (matching does not).
        detect_vocab = {lang: set(vocab) for lang, vocab in lang_vocab.items()}
        _learn_words(self.examples.language_words, raw_vocab, detect_vocab, chat)
        self._ngrams = PhraseIndex(ngram_phrases, space=space)
        self._negatives = PhraseIndex(
            (
                (NEGATIVE, lang, text)
                for lang, texts in self.examples.negatives.items()
                for text in texts
            ),
            whole=True,
            space=space,
        )
        # The follow-up answers' variants, by kind across topics: "and how much is it?" asks
        # the fee of whatever topic was answered last.
        self._followups = PhraseIndex(
            ()
            if ranking_only
            else (
                (kind, lang, text)
                for topic in faq.topics.values()
                for lang, tr in topic.translations.items()
                for kind, followup in tr.followups.items()
                for text in followup.variants
            ),
            whole=not ranking_only,
            space=space,
        )
        self.detector = LanguageDetector(
            detect_vocab, dict(raw_vocab), chat=chat, phrases=self.examples.language_words
        )
        topic_count = max(len(faq.topics), 1)
        df: dict[str, set[str]] = defaultdict(set)
        for doc in self._docs:
            for tok in doc.tokens | doc.pairs:
                df[tok].add(doc.topic)
        top = math.log(1 + topic_count)
        self.idf = {tok: math.log(1 + topic_count / len(ts)) / top for tok, ts in df.items()}
        self._vocab = sorted({t for d in self._docs for t in d.tokens})
        # One index of words for the FAQ's and the urgent phrases' (`faq.fuzzy`).
        self.word_index = WordIndex([*self._vocab, *shared_words])
        self._fuzzy = FuzzyVocabulary(self._vocab, self.word_index)
        # Which documents have a token or pair: only they can score for a query that has it.
        postings: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(self._docs):
            for tok in doc.tokens | doc.pairs:
                postings[tok].append(i)
        self._postings = dict(postings)
        self._similar = lru_cache(maxsize=50_000)(self._similar_uncached)
        # What a query word brings to the scores depends on the word alone: computed once.
        self._evidence = lru_cache(maxsize=50_000)(self._evidence_uncached)

    def detect(self, text: str, hint: str | None = None) -> Detection:
        return self.detector.detect(text, hint)

    def beside(
        self,
        decided: Match,
        detection: Detection,
        query: list[str],
        ranked: list[Ranked],
        context: str | None,
    ) -> Match:
        """A follow-up of the last answer, or a second question in the message."""
        if context in self.faq.topics and _may_follow_up(decided, query, context):
            # How near the message is to each kind's variants (of every topic), once.
            similar = self._followups.similarity_of_all(
                decided.text, languages_for(decided.text), nearest=2
            )
            kind = self._followup_kind(similar, context, detection)
            if kind or decided.topic == context or _continues(decided.text, similar):
                return replace(
                    decided,
                    decision="answer",
                    topic=context,
                    intent="followup",
                    sure=True,
                    followup=kind,
                    also=(),
                    alternatives=(),
                )
        if len(ranked) > 1 and max(ranked[1].words, ranked[1].ngrams) >= SECOND_QUESTION:
            return self._two_questions(decided, detection) or decided
        return decided

    def _followup_kind(
        self, similar: dict[str, float], topic: str, detection: Detection
    ) -> str | None:
        """Which follow-up answer of `topic` the message asks for: the kind whose variants
        (of every topic) are nearest by n-grams (`similar`), if clearly (FOLLOWUP_SIMILAR,
        FOLLOWUP_LEAD) and `topic` has it."""
        kinds = self.faq.topics[topic].translation(detection.lang).followups
        if not kinds:
            return None
        ranked = sorted(similar.values(), reverse=True)
        kind = max(similar, key=lambda k: (similar[k], k), default=None)
        if kind is None or kind not in kinds or ranked[0] < FOLLOWUP_SIMILAR:
            return None
        runner_up = ranked[1] if len(ranked) > 1 else 0.0
        return kind if ranked[0] >= FOLLOWUP_LEAD * runner_up else None

    def _two_questions(self, decided: Match, detection: Detection) -> Match | None:
        """A message asking two things ("documents, and when do I apply?"): each part ranked
        on its own; when two parts are likely answers about different topics, the answer of the
        whole message (else the one asked first) is the answer and the other comes in `also`."""
        parts = _parts(decided.text)
        if not 2 <= len(parts) <= MAX_PARTS:
            return None
        scored = []  # (part, its informative words, its languages, its word scores)
        for part in parts:
            query = self._informative(part, detection.lang, detection.confident)
            if query:
                languages = languages_for(part)
                scored.append((part, query, languages, self._leading(query, languages, detection)))
        leaders = {max(scores, key=lambda t: (scores[t][0], t)) for *_, scores in scored if scores}
        if len(leaders) < 2:
            return None  # every part leads to one topic by its words: one question
        likely: dict[str, float] = {}  # topic: the probability of its likeliest part
        asked: dict[str, int] = {}  # topic: the first part that likely asks it
        calibration = self.calibration
        for done, (part, query, languages, scores) in enumerate(scored):
            if len(likely) + len(scored) - done < 2:
                return None  # too few parts left to make two likely topics
            ranked = self._reranked(part, scores, languages)
            if not ranked:
                continue
            if len(query) < 2 and ranked[0].ngrams < KEYWORD_PART:
                continue  # one word that is not a topic's keyword ("how does it work?")
            # The nearest negative only lowers the probability (`Calibration.falls_with_negative`):
            # a part unlikely without it is unlikely with it, and its negatives are not searched.
            if calibration.falls_with_negative and (
                calibration.probability(features(ranked, len(query), 0.0)) < calibration.likely
            ):
                continue
            values = features(ranked, len(query), self._negative(part, languages))
            probability = calibration.probability(values)
            if probability >= max(calibration.likely, likely.get(ranked[0].topic, 0.0)):
                likely[ranked[0].topic] = probability
                asked.setdefault(ranked[0].topic, done)
        if len(likely) < 2:
            return None
        if decided.decision == "answer":
            if decided.topic not in likely:
                return None  # the parts do not confirm the answer: it stands, alone
            # The whole message's answer stays first: a clause of context that leads to
            # another topic is not the question ("I have my OAMP date; what do I bring?").
            first = decided.topic
        else:
            first = min(likely, key=lambda t: (asked[t], -likely[t]))  # the one asked first
        also = tuple(sorted((t for t in likely if t != first), key=lambda t: -likely[t]))[:1]
        if decided.decision == "answer" and decided.topic == first:
            return replace(decided, also=also)
        return replace(
            decided,
            decision="answer",
            topic=first,
            also=also,
            candidates=(Candidate(first, decided.score),),
            alternatives=(),
            sure=False,
        )

    def recalibrate(self, calibration: Calibration) -> None:
        """Decide with `calibration` from now on (learned in the background, `bot.reload`)."""
        self.calibration = calibration

    def rank(self, text: str, detection: Detection) -> tuple[list[str], list[Ranked], float]:
        """The question's informative words; the topics they point to, best first: the word
        score and the n-gram similarity of the RERANK best by words; and the similarity of the
        nearest negative."""
        query = self._informative(text, detection.lang, detection.confident)
        if not query:
            return query, [], 0.0
        languages = languages_for(text)
        ranked = self._reranked(text, self._leading(query, languages, detection), languages)
        return query, ranked, self._negative(text, languages)

    def _leading(
        self, query: list[str], languages: tuple[str, ...], detection: Detection
    ) -> dict[str, tuple[float, float]]:
        """The word scores a decision depends on (`_score` with `leaders_only`)."""
        return self._score(
            query, languages, detection.lang in ANALYTIC_LANGUAGES, leaders_only=True
        )

    def _reranked(
        self, text: str, scores: dict[str, tuple[float, float]], languages: tuple[str, ...]
    ) -> list[Ranked]:
        """The RERANK best topics by words, ranked with their n-gram similarity too."""
        by_words = sorted(scores.items(), key=lambda kv: (-kv[1][0], kv[0]))[:RERANK]
        similar = self._ngrams.similarity(text, [topic for topic, _ in by_words], languages)
        ranked = [
            Ranked(topic, score / 100, similar.get(topic, 0.0), coverage / 100)
            for topic, (score, coverage) in by_words
        ]
        ranked.sort(key=lambda r: (-r.rank, r.topic))
        return ranked

    def _negative(self, text: str, languages: tuple[str, ...]) -> float:
        """The n-gram similarity of the nearest negative example."""
        return self._negatives.similarity_of_all(text, languages).get(NEGATIVE, 0.0)

    def decide(
        self,
        text: str,
        detection: Detection,
        query: list[str],
        ranked: list[Ranked],
        negative: float,
    ) -> Match:
        """Answer, answer with alternatives, clarify or escalate, by the calibrated
        probability that the leader is right (`faq.decide`)."""
        base = Match(text, detection.lang, detection.confident, "escalate", None, 0, ())
        if not ranked:
            return base
        leader = ranked[0]
        confidence = self.calibration.probability(features(ranked, len(query), negative))
        plausible = tuple(
            Candidate(r.topic, r.score)
            for r in ranked[:MAX_CANDIDATES]
            if r.words * 100 >= CLARIFY_SCORE or r.ngrams >= NGRAM_PLAUSIBLE
        )
        # What every decision below reports.
        base = replace(
            base, score=leader.score, informative=tuple(query), confidence=round(confidence, 3)
        )
        # An answer needs some evidence of its own besides the model's confidence: one
        # FAQ word of the topic in a long message of unknown words is not a reason to answer.
        close_enough = leader.ngrams >= NGRAM_EVIDENCE or len(query) > SHORT_QUESTION
        evident = (
            leader.words * 100 >= ANSWER_EVIDENCE and close_enough
        ) or leader.ngrams >= NGRAM_PLAUSIBLE
        if confidence >= self.calibration.likely and evident:
            sure = confidence >= self.calibration.sure
            others = tuple(Candidate(r.topic, r.score) for r in ranked[1:3])
            return replace(
                base,
                decision="answer",
                topic=leader.topic,
                candidates=plausible or (Candidate(leader.topic, leader.score),),
                alternatives=() if sure else others,
                sure=sure,
            )
        if plausible:
            return replace(base, decision="clarify", candidates=plausible)
        weak = tuple(Candidate(r.topic, r.score) for r in ranked[:MAX_CANDIDATES])
        return replace(base, candidates=weak)

    def word_scores(self, text: str, lang: str) -> dict[str, float]:
        """Topic scores from the words alone (no whole-phrase similarity), for content checks."""
        query = self._informative(text, lang, True)
        if not query:
            return {}
        scores = self._score(query, languages_for(text), lang in ANALYTIC_LANGUAGES, phrases=False)
        return {topic: sc[0] for topic, sc in scores.items()}

    def explain(self, text: str, lang: str | None = None) -> dict[str, object]:
        """Why a question matches as it does: its informative words, the FAQ words each one
        matched (with similarity), and every topic's score, best first."""
        detection = Detection(lang, True) if lang else self.detector.detect(text)
        query = self._informative(text, detection.lang, detection.confident)
        scores = self._score(query, languages_for(text), detection.lang in ANALYTIC_LANGUAGES)
        return {
            "words": query,
            "matches": {qt: sorted(self._similar(qt), key=lambda kv: -kv[1]) for qt in query},
            "scores": sorted(((t, sc[0]) for t, sc in scores.items()), key=lambda kv: -kv[1]),
        }

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
            if not tok or tok in own_stop or (tok in self._all_stopwords and tok not in own_vocab):
                continue
            if tok not in result:
                result.append(tok)
        return result

    def _similar_uncached(self, token: str) -> tuple[tuple[str, float], ...]:
        if len(token) < 3:
            return ((token, 1.0),) if token in self.idf else ()
        result = []
        for vt, ratio in self._fuzzy.closest(token):
            sim = token_similarity(token, vt, ratio)
            if sim > 0:
                result.append((vt, sim))
        return tuple(result)

    def _evidence_uncached(self, token: str) -> _Evidence:
        return self._evidence_of(self._similar(token))

    def _evidence_of(self, similar: tuple[tuple[str, float], ...]) -> _Evidence:
        """(weight, postings, values) of a query word with these similar FAQ words: how much
        the word weighs, and what each similar word gives the documents that have it (its
        postings, its value), lowest value first; a value is at most the weight: a typo or
        another ending of a word never covers more than the word itself would."""
        # A query word weighs what its closest FAQ word weighs (not a rarer word it merely
        # resembles: "visa" must not weigh like "visit").
        closest = max(similar, key=lambda kv: (kv[1], -self.idf[kv[0]]), default=None)
        weight = self.idf[closest[0]] * closest[1] if closest else UNKNOWN_WEIGHT
        values = sorted(
            ((vt, min(sim * self.idf[vt], weight)) for vt, sim in similar), key=lambda kv: kv[1]
        )
        # Two flat tuples rather than one of pairs: fewer objects for the garbage collector
        # to track in a cache of 50,000 words.
        return (
            weight,
            tuple(self._postings[vt] for vt, _ in values),
            tuple(value for _, value in values),
        )

    def _score(
        self,
        query: list[str],
        languages: tuple[str, ...],
        exact: bool,
        phrases: bool = True,
        *,
        leaders_only: bool = False,
    ) -> dict[str, tuple[float, float]]:
        """Per topic: (score, coverage), both 0..100.

        With `leaders_only`, only the topics a decision depends on are sure to be there, with
        the same numbers: the MAX_CANDIDATES best (and any tied with them) and every topic at
        FULL_COVERAGE. Topics that cannot be among them may be left out.
        """
        if exact:
            evidence = [self._evidence_of(((qt, 1.0),) if qt in self.idf else ()) for qt in query]
        else:
            evidence = [self._evidence(qt) for qt in query]
        pairs = [p for p in _pairs(query) if p in self.idf]
        total = sum(weight for weight, _, _ in evidence) + sum(self.idf[p] for p in pairs)
        sorted_phrase = " ".join(sorted(query))
        # What each document covers: per query word in query order, the best of its similar
        # words the document has (at most the word's weight), then the sum of its pairs. Only
        # the documents with a similar word or a pair get anything, so only they are visited
        # (inverted index); the additions happen in the same order as in one loop over every
        # document, so the numbers are the very same.
        covered_by: dict[int, float] = {}
        for _, postings, values in evidence:
            best: dict[int, float] = {}
            for docs, value in zip(postings, values, strict=True):
                best.update(dict.fromkeys(docs, value))  # the highest wins
            # The documents already covered add it, the others start with it (in the order
            # of `best`, as one loop would add them).
            added = {i: covered_by[i] + best[i] for i in best.keys() & covered_by.keys()}
            covered_by.update(best)
            covered_by.update(added)
        paired: dict[int, list[float]] = defaultdict(list)
        for p in pairs:
            for i in self._postings[p]:
                paired[i].append(self.idf[p])
        for i, pair_values in paired.items():
            covered_by[i] = covered_by.get(i, 0.0) + sum(pair_values)
        scores: dict[str, tuple[float, float]] = {}
        # With leaders_only, the most covered documents first: a document's score (before the
        # phrase bonus) and coverage only grow with what it covers, so once a document is
        # below the bonus, below FULL_COVERAGE and below the third best topic so far, so is
        # every document after it, and none of them can change the leaders.
        if leaders_only:
            order = sorted(covered_by, key=covered_by.__getitem__, reverse=True)
        else:
            order = sorted(covered_by)
        third = -1.0  # the third best topic score so far (-1 while there are fewer)
        third_stale = False
        for i in order:
            doc = self._docs[i]
            if doc.lang not in languages:
                continue
            covered = covered_by[i]
            if not covered:
                continue
            coverage = min(100.0, 100 * covered / total)
            score = coverage * min(1.0, covered / EVIDENCE_FULL)
            if leaders_only and score < CLARIFY_SCORE / 2 and coverage < FULL_COVERAGE:
                if third_stale:
                    best_three = heapq.nlargest(MAX_CANDIDATES, (s for s, _ in scores.values()))
                    third = best_three[-1] if len(best_three) == MAX_CANDIDATES else -1.0
                    third_stale = False
                if score < third:
                    break
            if phrases and score >= CLARIFY_SCORE / 2 and len(query) >= 2:
                # fuzz.token_sort_ratio of the phrases, their words sorted beforehand.
                # (A point below: process.extractOne may leave out a ratio a hair above it.)
                near = process.extractOne(
                    sorted_phrase,
                    doc.sorted_phrases,
                    scorer=fuzz.ratio,
                    score_cutoff=PHRASE_SCORE - 1,
                )
                if near and near[1] >= PHRASE_SCORE:
                    score = max(score, near[1])
            if (score, coverage) > scores.get(doc.topic, (0.0, 0.0)):
                scores[doc.topic] = (score, coverage)
                third_stale = third_stale or score > third
        return scores


# Where a message divides into the parts of two questions: question marks, sentence ends,
# commas, and joining words ("and also", "a taky", "и", "і", "та", "và", "et aussi", "ու").
_PARTS = re.compile(
    r"[?？؟!;,،\n]+|(?<=\w)\.\s+|\s(?:and|also|a|taky|i|и|і|та|й|также|тоже|và|với|cả|et|aussi"
    r"|y|también|tambien|e|ու|և|ба|мөн|бас|ve|و)(?=\s)",
    re.IGNORECASE,
)

# A message that starts like the continuation of a conversation: "and", "also", "what about";
# а, и, ещё, і, та, й; a, i, taky; và, còn; et, mais; y, e; و (glued to the next word), ولو,
# طيب; ба, мөн; իսկ, և, ու; in Latin letters too ("a skolko", "w kam").
_CONTINUES = re.compile(
    r"^(?:(?:and|also|what about|how about|a|а|и|ещё|еще|i|і|та|й|taky|và|va|còn|con|"
    r"et|mais|y|e|ba|ба|мөн|իսկ|և|ու|w|wa|tayeb|طيب)\b|و|¿y\b)",
    re.IGNORECASE,
)


def _learn_words(
    texts: dict[str, list[str]],
    written: dict[str, set[str]],
    forms: dict[str, set[str]],
    both: dict[str, set[str]],
) -> None:
    """Add the words of `texts` (per language) to `written` as written (folded) and to `forms`
    as matching forms, for the languages `forms` already has; to `both` as either."""
    for lang, lang_texts in texts.items():
        if lang in forms:
            for text in lang_texts:
                folded = words(text)
                matching = [skeleton(w) for w in folded]
                written[lang].update(folded)
                forms[lang].update(matching)
                both[lang].update(folded, matching)


def _parts(text: str) -> list[str]:
    return [p.strip() for p in _PARTS.split(text) if len(p.split()) >= 2]


def _continues(text: str, similar: dict[str, float]) -> bool:
    """Whether a message reads as the continuation of a conversation: it starts with a joining
    word ("and ...?", "а если ...?", "và ...", "et ...") or is near some follow-up answer's
    variants (`similar`: "is the exam paid?"), though its topic may have no such answer.
    "who won the football yesterday" after an answer is not a follow-up of it."""
    if _CONTINUES.match(text.strip()):
        return True
    return max(similar.values(), default=0.0) >= FOLLOWUP_LIKE


def _may_follow_up(decided: Match, query: list[str], context: str) -> bool:
    """A short message may continue the last answer's topic unless it is surely and plainly
    about another one (its own words score FOLLOWUP_SWITCH or more: "and what about school?")."""
    if len(query) > FOLLOWUP_WORDS:
        return False
    switches = (
        decided.decision == "answer"
        and decided.topic != context
        and decided.sure
        and decided.score >= FOLLOWUP_SWITCH
    )
    return not switches


def _shipped_calibration() -> Calibration:
    return Calibration.load(CALIBRATION_FILE)


def _shipped_examples() -> Examples:
    return load_examples_or_fail()


def _pairs(tokens: list[str]) -> list[str]:
    return [f"{a}{PAIR_SEPARATOR}{b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def languages_for(text: str) -> tuple[str, ...]:
    """The languages a message in `text`'s script can be in."""
    script = script_of(text)
    return SCRIPT_LANGUAGES.get(script or "latin", SCRIPT_LANGUAGES["latin"])
