"""Deciding what to do with a ranked question: answer, answer with alternatives, or ask.

Ranking (`faq.matcher`) says which topic leads; this module says how likely the leader is to be
right, and what follows from it. The probability comes from a logistic model over a few
features of the ranking (`features`), learned from the content itself (`faq.calibrate`): FAQ
variants held out fold by fold, the same variants with a sentence of unrelated context around
them, and the shipped negatives (`faq/negatives.yaml`), whose leader is never right.

The thresholds follow from stated precisions, measured over the same held-out messages:
- SURE_PRECISION: answer alone when at least this share of messages scoring as high were right;
- LIKELY: below that, answer but offer the next topics ("not what you asked?") when the
  leader is at least this likely right: the model's own probability, since a cumulative
  precision over everything above a cut says little about the messages at the cut;
- lower still, ask back with the candidates, or offer a person.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

CALIBRATION_FILE: Final = Path(__file__).parent / "calibration.json"

SURE_PRECISION: Final = 0.95
LIKELY: Final = 0.4
# The n-gram similarity's weight beside the word score (both 0..1) in the ranking: chosen on
# the dev half of the blind evaluation (1 ranked worse, 2 and 3 alike).
NGRAM_WEIGHT: Final = 2.0
# L2 penalty of the logistic model: the features are few and of one scale (0..1).
PENALTY: Final = 1.0
FEATURES: Final = (
    "word score",  # the leader's word score, 0..1
    "n-gram similarity",  # the leader's nearest-phrase cosine
    "rank margin",  # the leader's combined rank minus the runner-up's
    "word margin",  # the leader's word score minus the best other word score
    "n-gram margin",  # the leader's similarity minus the best other similarity
    "coverage",  # share of the question's informative words the leader explains
    "agreement",  # 1 when the word score and the n-grams put the same topic first
    "length",  # how many informative words, log-scaled: long messages carry context
    "negative",  # the n-gram similarity of the nearest negative (faq/negatives.yaml)
    "over negative",  # the leader's similarity minus the nearest negative's
)


@dataclass(frozen=True)
class Ranked:
    """One topic's evidence for a question."""

    topic: str
    words: float  # 0..1
    ngrams: float  # 0..1
    coverage: float  # 0..1

    @property
    def rank(self) -> float:
        return self.words + NGRAM_WEIGHT * self.ngrams

    @property
    def score(self) -> int:
        """The rank as 0..100 (`poradna ask` shows it)."""
        return round(100 * self.rank / (1 + NGRAM_WEIGHT))


def features(ranked: Sequence[Ranked], informative: int, negative: float) -> tuple[float, ...]:
    """The model's inputs for the leader of `ranked` (best first, at least one), for a
    question of `informative` words whose nearest negative is `negative` alike."""
    leader = ranked[0]
    others = ranked[1:]
    second_rank = others[0].rank if others else 0.0
    best_words = max((r.words for r in others), default=0.0)
    best_ngrams = max((r.ngrams for r in others), default=0.0)
    by_words = max(ranked, key=lambda r: r.words)
    by_ngrams = max(ranked, key=lambda r: r.ngrams)
    return (
        leader.words,
        leader.ngrams,
        leader.rank - second_rank,
        leader.words - best_words,
        leader.ngrams - best_ngrams,
        leader.coverage,
        float(by_words.topic == by_ngrams.topic == leader.topic),
        math.log1p(informative) / math.log(20),
        negative,
        leader.ngrams - negative,
    )


@dataclass(frozen=True)
class Calibration:
    """The learned model and the thresholds that follow from the stated precisions."""

    weights: tuple[float, ...]
    bias: float
    sure: float  # P(right) from which the bot answers alone
    likely: float  # P(right) from which it answers with alternatives
    content_hash: str = ""
    # What the cross-validation measured, for `poradna faq check`.
    samples: int = 0

    @property
    def falls_with_negative(self) -> bool:
        """Whether a nearer negative can only lower the probability (the features "negative"
        and "over negative" together weigh it down)."""
        negative = FEATURES.index("negative")
        return self.weights[negative] - self.weights[FEATURES.index("over negative")] <= 0

    def probability(self, values: Sequence[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, values, strict=True))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["weights"] = tuple(raw["weights"])
        return cls(**raw)


def fit(samples: Sequence[tuple[Sequence[float], bool]]) -> tuple[tuple[float, ...], float]:
    """Logistic regression by Newton's method (a handful of features: exact and fast)."""
    import numpy as np

    x = np.array([[*values, 1.0] for values, _ in samples], dtype=np.float64)
    y = np.array([float(right) for _, right in samples])
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], PENALTY)
    penalty[-1] = 0.0  # the bias is not penalised
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x.T * (p * (1 - p))) @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return tuple(float(v) for v in w[:-1]), float(w[-1])


def threshold(scored: Sequence[tuple[float, bool]], precision: float) -> float:
    """The lowest probability p such that, of the messages at p or above, at least `precision`
    were right, over every cut at or above p as well (so answering more never lowers it)."""
    ordered = sorted(scored, key=lambda pair: -pair[0])
    right = 0
    best = 1.0
    for i, (p, ok) in enumerate(ordered, start=1):
        right += ok
        # Cut only between distinct probabilities.
        if i < len(ordered) and ordered[i][0] == p:
            continue
        if right / i >= precision:
            best = p
        elif i >= 20:  # past the first few, a cut below the target ends the search
            break
    return best
