"""Small talk: greetings, thanks, "are you a bot?", "I want a person"... recognised, not matched.

A message is small talk when it is short and every one of its words is a small-talk word
(`faq/smalltalk.yaml`), allowing a typo in longer words: "hello", "thx a lot", "дякую вам".
Its intent is the one its words vote for, each word counting for the intents it appears in,
shared words less. A message that carries anything else ("hello, which documents for the
extension?") is a question: greetings and thanks in it are stopwords.
An emoji alone counts by the examples it appears in (👋, 🙏).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from rapidfuzz import fuzz, process

from faq.normalize import clean, tokens

if TYPE_CHECKING:
    from collections.abc import Container

    from faq.examples import Examples

# Longer messages are not small talk, whatever their words.
MAX_WORDS: Final = 7
# A word of at least TYPO_LENGTH letters this similar to a small-talk word is that word mistyped.
TYPO_RATIO: Final = 84
TYPO_LENGTH: Final = 5


@dataclass(frozen=True)
class SmallTalk:
    intent: str
    lang: str | None  # the language of the examples it matched best, if one


class SmallTalkDetector:
    """Recognises small talk in a message (see the module documentation)."""

    def __init__(self, examples: Examples) -> None:
        self._whole: dict[str, tuple[str, str]] = {}
        self._votes: dict[str, Counter[str]] = defaultdict(Counter)
        self._langs: dict[str, Counter[str]] = defaultdict(Counter)
        self._emoji: dict[str, str] = {}
        for intent, by_lang in examples.smalltalk.items():
            for lang, texts in by_lang.items():
                for text in texts:
                    words = tokens(text)
                    if not words:
                        for ch in clean(text):
                            if not ch.isspace():
                                self._emoji.setdefault(ch, intent)
                        continue
                    self._whole.setdefault(" ".join(words), (intent, lang))
                    for word in set(words):
                        self._votes[word][intent] += 1
                        self._langs[word][lang] += 1
        # Typos keep the first letter: a word is compared with the words that share it.
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self._votes):
            self._by_initial[word[0]].append(word)
        self._closest = lru_cache(maxsize=8192)(self._closest_uncached)

    def detect(self, text: str, content: Container[str] = ()) -> SmallTalk | None:
        """The small talk `text` is, or None. A word in `content` (the FAQ's own words) makes
        a message a question unless the whole message is an example: Czech "pas" (passport)
        is not French "pas"."""
        words = tokens(text)
        if not words:
            symbols = [self._emoji[ch] for ch in clean(text) if ch in self._emoji]
            return SmallTalk(Counter(symbols).most_common(1)[0][0], None) if symbols else None
        if len(words) > MAX_WORDS:
            return None
        whole = self._whole.get(" ".join(words))
        if whole:
            return SmallTalk(*whole)
        intents: dict[str, float] = defaultdict(float)
        langs: Counter[str] = Counter()
        for word in words:
            if word in content:
                return None
            known = self._closest(word)
            if known is None:
                return None
            votes = self._votes[known]
            total = sum(votes.values())
            for intent, n in votes.items():
                intents[intent] += n / total
            langs.update(self._langs[known])
        intent = max(intents, key=lambda i: (intents[i], -_order(i)))
        return SmallTalk(intent, langs.most_common(1)[0][0] if langs else None)

    def _closest_uncached(self, word: str) -> str | None:
        if word in self._votes:
            return word
        if len(word) < TYPO_LENGTH:
            return None
        found = process.extractOne(
            word, self._by_initial.get(word[0], ()), scorer=fuzz.ratio, score_cutoff=TYPO_RATIO
        )
        return found[0] if found else None


def _order(intent: str) -> int:
    from faq.examples import INTENTS

    return INTENTS.index(intent) if intent in INTENTS else len(INTENTS)
