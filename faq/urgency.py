"""The learned part of urgent detection: messages close to urgent examples, not to ordinary ones.

Phrases (`faq/urgent.yaml`, `faq.urgent`) are sure hits, but people describe an emergency in
words no list enumerates ("everyone would be better off without me"). Example messages per
category and language (`faq/urgent_examples.yaml`) are TEXT compared by character n-grams
(`faq.ngrams`): a message is urgent when its nearest urgent example is at least
URGENT_SIMILAR alike and closer than anything ordinary: the look-alikes (paperwork that
mentions the police, a theft, a deadline), the negatives, and the FAQ's own phrases.
The rule favours recall: a false alarm costs a person a look at the emergency numbers and a
caseworker's call; a miss can cost a life.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from faq.ngrams import PhraseIndex

if TYPE_CHECKING:
    from faq.examples import Examples

# Chosen on the dev half of the blind evaluation, recall first.
URGENT_SIMILAR: Final = 0.22
# How much closer to an urgent example than to anything ordinary.
URGENT_MARGIN: Final = 0.0
_ORDINARY: Final = "ordinary"
# Alike means alike to the NEAREST examples on average, not to one by chance.
NEAREST: Final = 2


class UrgentModel:
    """Nearest-example urgency (see the module documentation)."""

    def __init__(self, examples: Examples) -> None:
        self._categories = tuple(examples.urgent)
        self._urgent = PhraseIndex(
            (category, lang, text)
            for category, by_lang in examples.urgent.items()
            for lang, texts in by_lang.items()
            for text in texts
        )
        ordinary = [*examples.lookalikes.items(), *examples.negatives.items()]
        self._ordinary = PhraseIndex(
            (_ORDINARY, lang, text) for lang, texts in ordinary for text in texts
        )

    def category(self, text: str, languages: tuple[str, ...], faq_similarity: float) -> str | None:
        """The urgent category `text` is closest to, if it is urgent by the rule above;
        `faq_similarity` is its n-gram similarity to the nearest FAQ phrase."""
        close = self._urgent.similarity(text, self._categories, languages, NEAREST)
        category = max(close, key=close.__getitem__, default=None)
        if category is None or close[category] < URGENT_SIMILAR:
            return None
        ordinary = self._ordinary.similarity(text, (_ORDINARY,), languages, NEAREST).get(
            _ORDINARY, 0.0
        )
        if close[category] < max(ordinary, faq_similarity) + URGENT_MARGIN:
            return None
        return category
