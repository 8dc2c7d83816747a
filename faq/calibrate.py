"""Learning the decision from the content: cross-validation over the FAQ and its negatives.

Fold by fold (FOLDS of them), every FOLDS-th variant and keyword of each translation is held
out, the
matcher is built on the rest, and each held-out variant is ranked as a user's message would be:
once as written and once inside a sentence of unrelated context (a negative of the same
language before it), because real messages carry context the FAQ does not contain. Negatives
(`faq/negatives.yaml`) are ranked too; their leader is never right. The logistic model of
`faq.decide` is fitted on all of them, and the thresholds are read off its probabilities.

`poradna faq calibrate` writes the result to `faq/calibration.json` with a hash of what it was
learned from; the bot loads that file, and learns again in the background when the content
changed (`bot.reload`).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from faq.decide import (
    FEATURES,
    LIKELY,
    SURE_PRECISION,
    Calibration,
    features,
    fit,
    threshold,
)
from faq.examples import Examples
from faq.langdetect import Detection
from faq.loader import Faq
from faq.ngrams import remembered

if TYPE_CHECKING:
    from faq.matcher import Matcher

FOLDS: Final = 3
# Calibration used while nothing better is known (an empty model): never sure.
SEED: Final = 20261203


@dataclass(frozen=True)
class Held:
    """One held-out message: where it came from and how it ranked."""

    lang: str
    topic: str | None  # None for a negative
    text: str
    leader: str | None
    values: tuple[float, ...] | None
    # Where the text is in its topic's translation ("variants.3", "keywords.0"); empty for a
    # negative, and for a variant inside a sentence of context.
    where: str = ""


@dataclass
class Report:
    """What the cross-validation measured."""

    calibration: Calibration
    held: list[Held] = field(default_factory=list)

    def per_language(self) -> dict[str, tuple[int, float, float]]:
        """lang -> (messages, precision of the sure answers, recall: share answered right)."""
        result = {}
        by_lang: dict[str, list[Held]] = defaultdict(list)
        for h in self.held:
            by_lang[h.lang].append(h)
        for lang, items in sorted(by_lang.items()):
            answered = [h for h in items if self._sure(h)]
            right = [h for h in answered if h.leader == h.topic and h.topic is not None]
            in_scope = [h for h in items if h.topic is not None]
            precision = len(right) / len(answered) if answered else 1.0
            recall = len(right) / len(in_scope) if in_scope else 0.0
            result[lang] = (len(items), precision, recall)
        return result

    def confused(self) -> list[Held]:
        """Held-out variants and keywords answered with another topic (surely, or with their
        own among the alternatives)."""
        likely = self.calibration.likely
        return [
            h
            for h in self.held
            if h.where
            and h.values is not None
            and h.leader != h.topic
            and self.calibration.probability(h.values) >= likely
        ]

    def _sure(self, h: Held) -> bool:
        if h.values is None:
            return False
        return self.calibration.probability(h.values) >= self.calibration.sure


def content_hash(faq: Faq, negatives: dict[str, list[str]]) -> str:
    """What a calibration depends on: every phrase, keyword and negative, in a stable order."""
    digest = hashlib.sha256()
    for topic_id in sorted(faq.topics):
        for lang, tr in sorted(faq.topics[topic_id].translations.items()):
            for text in (topic_id, lang, tr.question, tr.title or "", *tr.variants, *tr.keywords):
                digest.update(text.encode() + b"\0")
    for lang, texts in sorted(negatives.items()):
        for text in (lang, *texts):
            digest.update(text.encode() + b"\1")
    return digest.hexdigest()[:16]


def _without(faq: Faq, fold: int) -> tuple[Faq, list[tuple[str, str, str, str]]]:
    """The FAQ without every FOLDS-th variant and keyword (from `fold`), and those. Held-out
    keywords are the one-word questions people send ("visa"): often several topics' word."""
    held: list[tuple[str, str, str, str]] = []
    topics = {}
    for topic in faq.topics.values():
        translations = {}
        for lang, tr in topic.translations.items():
            kept: dict[str, list[str]] = {}
            for name in ("variants", "keywords"):
                texts = getattr(tr, name)
                kept[name] = [t for i, t in enumerate(texts) if i % FOLDS != fold]
                held.extend(
                    (topic.id, lang, t, f"{name}.{i}")
                    for i, t in enumerate(texts)
                    if i % FOLDS == fold
                )
            translations[lang] = tr.model_copy(update=kept)
        topics[topic.id] = topic.model_copy(update={"translations": translations})
    return Faq(topics=topics, directory=faq.directory, languages=faq.languages), held


def _ranked(matcher: Matcher, lang: str, text: str) -> tuple[str | None, tuple[float, ...] | None]:
    query, ranked, negative = matcher.rank(text, Detection(lang, True))
    if not ranked:
        return None, None
    return ranked[0].topic, features(ranked, len(query), negative)


def cross_validate(
    faq: Faq, examples: Examples, stopwords: dict[str, set[str]] | None = None
) -> Report:
    """Fit the decision on held-out variants and negatives (see the module documentation)."""
    with remembered():
        return _cross_validate(faq, examples, stopwords)


def _cross_validate(faq: Faq, examples: Examples, stopwords: dict[str, set[str]] | None) -> Report:
    from faq.matcher import Matcher, load_stopwords

    stopwords = stopwords if stopwords is not None else load_stopwords()
    rng = random.Random(SEED)
    held: list[Held] = []
    negatives = examples.negatives
    neutral = Calibration(weights=(0.0,) * len(FEATURES), bias=0.0, sure=1.0, likely=1.0)
    for fold in range(FOLDS):
        reduced, variants = _without(faq, fold)
        # The negatives of this fold are held out of the negatives the matcher knows.
        known = {
            lang: [t for i, t in enumerate(texts) if i % FOLDS != fold]
            for lang, texts in negatives.items()
        }
        matcher = Matcher(
            reduced,
            stopwords,
            calibration=neutral,
            examples=replace(examples, negatives=known),
            ranking_only=True,
        )
        for topic, lang, text, where in variants:
            # The context comes from this fold's negatives, which the matcher does not know.
            unknown = negatives.get(lang, [])[fold::FOLDS]
            # A keyword is one or two words: asked alone, not inside a story.
            story = _in_context(rng, unknown, text) if len(text.split()) > 2 else None
            for message in (text, story):
                if message is None:
                    continue
                leader, values = _ranked(matcher, lang, message)
                held.append(
                    Held(lang, topic, message, leader, values, where if message == text else "")
                )
        for lang, texts in sorted(negatives.items()):
            for text in texts[fold::FOLDS]:
                leader, values = _ranked(matcher, lang, text)
                held.append(Held(lang, None, text, leader, values))
    samples = [(h.values, h.leader == h.topic) for h in held if h.values is not None]
    weights, bias = fit(samples)
    model = Calibration(weights=weights, bias=bias, sure=1.0, likely=1.0)
    scored = [(model.probability(values), right) for values, right in samples]
    calibration = Calibration(
        weights=weights,
        bias=bias,
        sure=threshold(scored, SURE_PRECISION),
        likely=min(LIKELY, threshold(scored, SURE_PRECISION)),
        content_hash=content_hash(faq, negatives),
        samples=len(samples),
    )
    return Report(calibration, held)


def _in_context(rng: random.Random, negatives: list[str], text: str) -> str | None:
    """`text` after a sentence that says something else, as people write."""
    if not negatives:
        return None
    return f"{rng.choice(negatives).rstrip(' ?!.')}. {text}"
