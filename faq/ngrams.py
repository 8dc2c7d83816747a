"""Character n-gram similarity: the second opinion on a question, robust to what words miss.

Word matching (`faq.matcher`) explains its evidence word by word, but a real message carries
words the FAQ never uses, glued particles, odd endings and typos beyond one letter. Character
n-grams of the matching forms (`faq.normalize.tokens`) see through those: "prodlouzeni" and
"prodlouzit" share most of their trigrams. Each FAQ phrase (question, title, variant, keyword)
is a TF-IDF vector of its n-grams (sublinear counts, smoothed IDF, unit length); a question is
as close to a topic as to that topic's nearest phrase (cosine).

Only the topics the word ranking already put forward are compared (`similarity`), so the cost
of a question does not grow with the size of the FAQ. Vectors are numpy arrays (one row per
phrase, stored as index/value runs), a query is scattered into a reused dense buffer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np

from faq.normalize import tokens

# n-grams of 3 to 5 letters of each word padded with spaces (" visa " gives " vi", "vis", ...):
# chosen on the dev half of the blind evaluation (2..4 and 2..5 ranked slightly worse).
SHORTEST: Final = 3
LONGEST: Final = 5


@lru_cache(maxsize=32_768)
def grams(text: str) -> Counter[str]:
    """The n-grams of the matching forms of `text`, with their counts (shared: do not
    change it; every index of a message asks for the same text)."""
    found: list[str] = []
    for token in tokens(text):
        padded = f" {token} "
        found.extend(
            padded[i : i + n]
            for n in range(SHORTEST, LONGEST + 1)
            for i in range(len(padded) - n + 1)
        )
    return Counter(found)


@lru_cache(maxsize=64)
def _tf(count: int) -> float:
    """Sublinear term frequency."""
    return 1 + math.log(count)


@dataclass(frozen=True)
class _Block:
    """One topic's phrases: row i is values[start[i]:start[i+1]] at columns[...]."""

    columns: np.ndarray
    values: np.ndarray
    starts: np.ndarray  # where each row begins, for np.add.reduceat
    langs: np.ndarray  # the language of each row, as a number (`PhraseIndex._lang_code`)
    # Which rows are in the languages a script allows, per tuple of languages (few).
    masks: dict[tuple[str, ...], np.ndarray]


class PhraseIndex:
    """TF-IDF n-gram vectors of every topic's phrases, grouped by topic."""

    def __init__(self, phrases: Iterable[tuple[str, str, str]]) -> None:
        """`phrases`: (topic, language, text)."""
        rows: dict[str, list[tuple[str, Counter[str]]]] = {}
        df: Counter[str] = Counter()
        count = 0
        for topic, lang, text in phrases:
            counted = grams(text)
            if not counted:
                continue
            rows.setdefault(topic, []).append((lang, counted))
            df.update(counted.keys())
            count += 1
        self._lang_code = {
            lang: i for i, lang in enumerate(sorted({lg for r in rows.values() for lg, _ in r}))
        }
        self._column = {gram: i for i, gram in enumerate(sorted(df))}
        self._idf = np.array(
            [math.log((1 + count) / (1 + df[gram])) + 1 for gram in sorted(df)], dtype=np.float64
        )
        self._unseen_idf = math.log(1 + count) + 1
        self._buffer = np.zeros(len(self._column) + 1, dtype=np.float64)
        self._blocks = {topic: self._block(topic_rows) for topic, topic_rows in rows.items()}

    def _vector(self, counted: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        """The unit TF-IDF vector of `counted`, as (columns, values) of its known n-grams.

        n-grams the index has never seen count in the length with the highest IDF, so that
        a long message sharing a few n-grams with a short phrase is not taken for it."""
        column = self._column
        columns: list[int] = []
        weights: list[float] = []
        unseen = 0.0
        for gram, n in counted.items():
            at = column.get(gram)
            if at is None:
                unseen += _tf(n) ** 2
            else:
                columns.append(at)
                weights.append(_tf(n))
        if not columns:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
        at_columns = np.array(columns, dtype=np.intp)
        values = np.array(weights) * self._idf[at_columns]
        length = math.sqrt(float(values @ values) + unseen * self._unseen_idf**2)
        return at_columns, values / length

    def _block(self, topic_rows: list[tuple[str, Counter[str]]]) -> _Block:
        """The unit vectors of a topic's rows, computed for all rows at once (every n-gram
        of them is known: the index was made from them)."""
        column = self._column
        columns = [column[g] for _, counted in topic_rows for g in counted]
        counts = [n for _, counted in topic_rows for n in counted.values()]
        lengths = [len(counted) for _, counted in topic_rows]
        starts = np.cumsum([0, *lengths[:-1]]).astype(np.intp)
        at = np.array(columns, dtype=np.intp)
        values = (1 + np.log(np.array(counts, dtype=np.float64))) * self._idf[at]
        norms = np.sqrt(np.add.reduceat(values * values, starts))
        return _Block(
            columns=at,
            values=values / np.repeat(norms, lengths),
            starts=starts,
            langs=np.array([self._lang_code[lang] for lang, _ in topic_rows], dtype=np.intp),
            masks={},
        )

    def _mask(self, block: _Block, languages: tuple[str, ...]) -> np.ndarray:
        mask = block.masks.get(languages)
        if mask is None:
            codes = [self._lang_code[lang] for lang in languages if lang in self._lang_code]
            mask = block.masks[languages] = np.isin(block.langs, codes)
        return mask

    def similarity(
        self, text: str, topics: Iterable[str], languages: tuple[str, ...], nearest: int = 1
    ) -> dict[str, float]:
        """Cosine (0..1) of `text` with the nearest phrase of each topic in `languages`; with
        `nearest` = k, the mean over the k nearest (a topic with fewer counts zeros): one
        phrase alike by chance ("yesterday") then weighs less than several alike."""
        columns, values = self._vector(grams(text))
        result: dict[str, float] = {}
        if not len(columns):
            return result
        buffer = self._buffer
        buffer[columns] = values
        try:
            for topic in topics:
                block = self._blocks.get(topic)
                if block is None:
                    continue
                products = buffer[block.columns] * block.values
                per_row = np.add.reduceat(products, block.starts)[self._mask(block, languages)]
                if not len(per_row):
                    result[topic] = 0.0
                elif nearest == 1:
                    result[topic] = float(per_row.max())
                else:
                    top = (
                        np.partition(per_row, -nearest)[-nearest:]
                        if len(per_row) > nearest
                        else per_row
                    )
                    result[topic] = float(top.sum()) / nearest
        finally:
            buffer[columns] = 0.0
        return result
