"""One index of words for fuzzy lookups, shared by the FAQ matcher and the urgent detector.

Both ask the same question of a message word: which known words are within a few letters of it
(rapidfuzz `fuzz.ratio`, 0..100)? The matcher knows the FAQ's words, the urgent detector its
phrases' words; one `WordIndex` holds both vocabularies (`Matcher` builds it and lends it to its
detector), so a message word is looked up once per turn, and each caller keeps the words of its
own vocabulary (`WordIndex.members`) and its own cut (the matcher from NEAR up, the urgent
detector from its stricter TYPO_RATIO).

How, without comparing the word with every word: ratio = 200 * LCS / (len(a) + len(b)), LCS
being the longest common subsequence. A word is above a bound only with an LCS of at least some
L (given both lengths); LCS is at most the number of letters the words have in common, and
LCS >= L implies at least 3L + 1 - len(a) - len(b) shared bigrams of the words padded with start
and end marks. Bit masks (Python ints, bit i for word i), one per letter occurrence, per bigram
occurrence and per word length, count both for all words at once; only the words that pass are
compared with rapidfuzz.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from operator import itemgetter
from typing import Final

from rapidfuzz import fuzz, process

# `near` gives the words above this ratio. It is not a ratio two words can have (200 * common
# letters / total length), so no word sits on it.
NEAR: Final = 74.9
# Shared bigrams are counted up to this many (a weaker but valid filter above it).
_MAX_SHARED_BIGRAMS: Final = 8
_ONE_BIT = re.compile("1")
# `_set_bits` on masks with fewer than one bit in _SPARSE: byte by byte; on denser ones, through
# the binary string (which costs a character per bit of the mask, however few are set).
_SPARSE: Final = 256
# ... and masks of at most this many bits one bit at a time (faster for a handful).
_FEW_BITS: Final = 8
_NONZERO: Final = bytes([0] + [1] * 255)  # bytes.translate table: every byte but 0 becomes 1
_BYTE_BITS: Final = tuple(tuple(bit for bit in range(8) if byte >> bit & 1) for byte in range(256))
# Message words looked up and remembered (a word's neighbours depend on the word alone).
_REMEMBERED: Final = 50_000


class WordIndex:
    """Words, sorted, indexed by letters, bigrams and length."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words: list[str] = sorted(set(words))
        self.position = {word: i for i, word in enumerate(self.words)}
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
        self._plan = lru_cache(maxsize=256)(self._plan_uncached)  # one per word length
        self._near = lru_cache(maxsize=_REMEMBERED)(self._near_uncached)

    def members(self, words: Iterable[str]) -> frozenset[int]:
        """The positions of `words` (all of them must be in the index): a caller's vocabulary."""
        return frozenset(self.position[word] for word in words)

    def near(self, token: str) -> tuple[tuple[int, float], ...]:
        """(position, ratio) of every word whose ratio with `token` is above NEAR, by position."""
        return self._near(token)

    def starting(self, prefix: str) -> range:
        """The positions of the words that start with `prefix`."""
        start = bisect.bisect_left(self.words, prefix)
        end = start
        while end < len(self.words) and self.words[end].startswith(prefix):
            end += 1
        return range(start, end)

    def _near_uncached(self, token: str) -> tuple[tuple[int, float], ...]:
        plan = self._plan(len(token))
        grams = _at_least(
            [self._grams.get(key, 0) for key in _occurrences(_bigrams(token))],
            max((shared for _, shared, _ in plan), default=0),
        )  # grams[k]: the words sharing at least k bigrams with the token
        letters = _at_least(
            [self._letters.get(key, 0) for key in _occurrences(token)],
            max((lcs for _, _, lcs in plan), default=0),
        )  # letters[k]: the words sharing at least k letters
        candidates = 0
        for mask, shared, lcs in plan:
            if shared:
                mask &= grams[shared]
            candidates |= mask & letters[lcs]
        indices = _set_bits(candidates)
        if not indices:
            return ()
        # (itemgetter of one index gives the word itself, not a tuple of one.)
        words = itemgetter(*indices)(self.words) if len(indices) > 1 else [self.words[indices[0]]]
        found = process.extract(
            # A point below the bound: process.extract leaves out a word whose ratio is a hair
            # above its cutoff.
            token,
            words,
            scorer=fuzz.ratio,
            score_cutoff=NEAR - 1,
            limit=None,
        )
        return tuple(sorted((indices[j], ratio) for _, ratio, j in found if ratio > NEAR))

    def _plan_uncached(self, size: int) -> tuple[tuple[int, int, int], ...]:
        """How to find the words that can have a ratio above NEAR with a word of `size`:
        (mask of word lengths, shared bigrams needed, shared letters needed), one entry per
        pair of needs. The words are those of the lengths with at least that many of each."""
        needs: dict[tuple[int, int], int] = {}
        for length, mask in self._lengths.items():
            lcs = math.floor(NEAR * (size + length) / 200) + 1
            if lcs > min(size, length):
                continue
            # Counted up to _MAX_SHARED_BIGRAMS only (0: the bigrams do not tell).
            shared = min(max(3 * lcs + 1 - size - length, 0), _MAX_SHARED_BIGRAMS)
            needs[shared, lcs] = needs.get((shared, lcs), 0) | mask
        return tuple((mask, shared, lcs) for (shared, lcs), mask in needs.items())


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
    if top < 1:
        return counts
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
    if mask.bit_count() <= _FEW_BITS:
        # The usual case (a handful of candidate words): the lowest bit, one at a time.
        positions = []
        while mask:
            low = mask & -mask
            positions.append(low.bit_length() - 1)
            mask ^= low
        return positions
    if mask.bit_count() * _SPARSE < mask.bit_length():
        # Few bits: find the bytes that are not 0 (memchr on a copy with them as 1).
        data = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
        flags = data.translate(_NONZERO)
        positions = []
        at = flags.find(1)
        while at >= 0:
            base = at * 8
            positions.extend([base + bit for bit in _BYTE_BITS[data[at]]])
            at = flags.find(1, at + 1)
        return positions
    bits = bin(mask)
    last = len(bits) - 1
    positions = [last - found.start() for found in _ONE_BIT.finditer(bits, 2)]
    positions.reverse()
    return positions
