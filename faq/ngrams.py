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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np

from faq.normalize import tokens

# n-grams of 3 to 4 letters of each word padded with spaces (" visa " gives " vi", "vis", ...):
# chosen on the dev half of the blind evaluation (2..4 ranked worse, 3..5 alike but larger).
SHORTEST: Final = 3
LONGEST: Final = 4
# An index of at most this many phrases is searched all at once (`PhraseIndex.similarity`).
WHOLE_ROWS: Final = 30_000


# While learning (`remembered`), every text's n-grams are kept: the folds of the
# cross-validation index the same phrases again.
_remembered: dict[str, Counter[str]] | None = None


@contextmanager
def remembered() -> Iterator[None]:
    """Keep the n-grams of every text until the block ends (then they are freed)."""
    global _remembered
    outer, _remembered = _remembered, {} if _remembered is None else _remembered
    try:
        yield
    finally:
        _remembered = outer


def grams(text: str) -> Counter[str]:
    """The n-grams of the matching forms of `text`, with their counts (shared: do not
    change it; every index of a message asks for the same text)."""
    if _remembered is not None:
        found = _remembered.get(text)
        if found is None:
            found = _remembered[text] = _grams(text)
        return found
    return _recent(text)


def _grams(text: str) -> Counter[str]:
    found: list[str] = []
    for token in tokens(text):
        found.extend(_token_grams(token))
    return Counter(found)


@lru_cache(maxsize=50_000)
def _token_grams(token: str) -> tuple[str, ...]:
    """The n-grams of one word, padded with spaces (words recur: computed once each)."""
    padded = f" {token} "
    return tuple(
        padded[i : i + n] for n in range(SHORTEST, LONGEST + 1) for i in range(len(padded) - n + 1)
    )


# The last messages' n-grams (a turn asks for them once per index); small, as each is a dict.
_recent = lru_cache(maxsize=1024)(_grams)


class GramSpace:
    """Numbers for n-grams, shared by the indices of one matcher: a message is turned into
    numbers once, and each index reads its own IDF of them with numpy (`PhraseIndex._vector`)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.encode = lru_cache(maxsize=1024)(self._encode)

    def add(self, found: Iterable[str]) -> None:
        ids = self.ids
        for gram in found:
            if gram not in ids:
                ids[gram] = len(ids)

    def _encode(self, text: str) -> tuple[np.ndarray, np.ndarray, float]:
        """(ids, sublinear counts) of the message's n-grams that some index knows, and the
        sum of squared counts of those none knows."""
        found = grams(text)
        get = self.ids.get
        ids = np.fromiter((get(gram, -1) for gram in found), dtype=np.intp, count=len(found))
        counts = np.fromiter(map(_tf, found.values()), dtype=np.float64, count=len(found))
        known = ids >= 0
        others = counts[~known]
        return ids[known], counts[known], float(others @ others)


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


@dataclass(frozen=True)
class _Whole:
    """The postings of an index: for n-gram column c, rows[pointers[c]:pointers[c + 1]] with
    their values; `block` (row-major) gives each row's language."""

    rows: np.ndarray
    values: np.ndarray
    pointers: np.ndarray
    block: _Block
    starts: np.ndarray  # where each topic's rows start
    topics: tuple[str, ...]


class PhraseIndex:
    """TF-IDF n-gram vectors of every topic's phrases, grouped by topic."""

    def __init__(
        self,
        phrases: Iterable[tuple[str, str, str]],
        *,
        whole: bool = False,
        space: GramSpace | None = None,
        background: Iterable[str] = (),
    ) -> None:
        """`phrases`: (topic, language, text). `whole`: ready for `similarity_of_all` (built
        now rather than on the first message). `space`: shared with the matcher's other
        indices. `background`: more texts that count in the IDF only, so that words common in
        other messages too ("yesterday") weigh little."""
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
        for text in background:
            df.update(grams(text).keys())
            count += 1
        self._lang_code = {
            lang: i for i, lang in enumerate(sorted({lg for r in rows.values() for lg, _ in r}))
        }
        self._space = space or GramSpace()
        self._space.add(sorted(df))
        self._column = self._space.ids
        # Numbers the space gave before this index was made: higher ones are unknown to it.
        self._columns = len(self._column)
        # 0: not in this index (and one more 0 for the numbers given after it, `_vector`).
        self._idf = np.zeros(self._columns + 1, dtype=np.float64)
        for gram, n in df.items():
            self._idf[self._column[gram]] = math.log((1 + count) / (1 + n)) + 1
        self._unseen_idf = math.log(1 + count) + 1
        self._buffer = np.zeros(self._columns + 1, dtype=np.float64)
        # Up to WHOLE_ROWS rows, every topic costs less at once than a few topic by topic.
        self._at_once = bool(rows) and (whole or count <= WHOLE_ROWS)
        # Only what each way of searching needs is kept (the n-gram counts are not).
        self._blocks: dict[str, _Block] = {}
        self._whole: _Whole | None = None
        if self._at_once:
            self._whole = self._postings(rows)
        else:
            self._blocks = {topic: self._block(topic_rows) for topic, topic_rows in rows.items()}

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The unit TF-IDF vector of `text`, as (columns, values) of its n-grams this index
        knows.

        n-grams the index has never seen count in the length with the highest IDF, so that
        a long message sharing a few n-grams with a short phrase is not taken for it."""
        ids, counts, unseen = self._space.encode(text)
        # Numbers given after this index was made read the IDF 0 at its end: unknown here.
        idf = self._idf[np.minimum(ids, self._columns)]
        known = idf > 0
        columns = ids[known]
        if not len(columns):
            return columns, np.empty(0, dtype=np.float64)
        others = counts[~known]
        values = counts[known] * idf[known]
        length = math.sqrt(
            float(values @ values) + (unseen + float(others @ others)) * self._unseen_idf**2
        )
        return columns, values / length

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

    def _postings(self, rows: dict[str, list[tuple[str, Counter[str]]]]) -> _Whole:
        """Every row by n-gram (column-major): a message touches only the rows that share its
        n-grams, whatever the size of the index (`similarity_of_all`)."""
        topics = tuple(rows)
        every = [row for topic in topics for row in rows[topic]]
        sizes = [len(rows[topic]) for topic in topics]
        block = self._block(every)
        row_of = np.repeat(np.arange(len(every)), np.diff([*block.starts, len(block.columns)]))
        order = np.argsort(block.columns, kind="stable")
        by_column = block.columns[order]
        return _Whole(
            rows=row_of[order],
            values=block.values[order],
            pointers=np.searchsorted(by_column, np.arange(self._columns + 1)),
            block=block,
            starts=np.cumsum([0, *sizes[:-1]]).astype(np.intp),
            topics=topics,
        )

    def similarity_of_all(
        self, text: str, languages: tuple[str, ...], nearest: int = 1
    ) -> dict[str, float]:
        """`similarity` for every topic of the index, in one pass over the postings of the
        message's n-grams."""
        whole = self._whole
        if whole is None:
            raise ValueError("this index searches topic by topic: use `similarity`")
        columns, values = self._vector(text)
        if not len(columns):
            return {}
        first = whole.pointers[columns]
        lengths = whole.pointers[columns + 1] - first
        total = int(lengths.sum())
        # The positions of every posting of the message's n-grams, in one array.
        at = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        per_row = np.bincount(
            whole.rows[at],
            weights=whole.values[at] * np.repeat(values, lengths),
            minlength=len(whole.block.starts),
        )
        per_row = np.where(self._mask(whole.block, languages), per_row, 0.0)
        starts, topics = whole.starts, whole.topics
        if nearest == 1:
            best = np.maximum.reduceat(per_row, starts)
            return {topic: float(v) for topic, v in zip(topics, best, strict=True)}
        # Within each topic's rows, best first (the rows of a topic stay where they are).
        segment = np.repeat(np.arange(len(topics)), np.diff([*starts, len(per_row)]))
        ordered = per_row[np.lexsort((-per_row, segment))]
        ends = np.append(starts[1:], len(per_row))
        result = {}
        for i, topic in enumerate(topics):
            top = ordered[starts[i] : min(starts[i] + nearest, ends[i])]
            result[topic] = float(top.sum()) / nearest
        return result

    def similarity(
        self, text: str, topics: Iterable[str], languages: tuple[str, ...], nearest: int = 1
    ) -> dict[str, float]:
        """Cosine (0..1) of `text` with the nearest phrase of each topic in `languages`; with
        `nearest` = k, the mean over the k nearest (a topic with fewer counts zeros): one
        phrase alike by chance ("yesterday") then weighs less than several alike."""
        if self._at_once:
            every = self.similarity_of_all(text, languages, nearest)
            return {topic: every[topic] for topic in topics if topic in every}
        columns, values = self._vector(text)
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
