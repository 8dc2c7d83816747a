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

from faq.ngrams import GramSpace, PhraseIndex

if TYPE_CHECKING:
    from collections.abc import Sequence

    from faq.examples import Examples

# Chosen on the dev half of the blind evaluation, recall first.
URGENT_SIMILAR: Final = 0.25
# How much closer to an urgent example than to anything ordinary, as a share (0.2: a fifth
# closer); 0 on the dev half, recall first (0.05 missed two more urgent messages of 160 and
# spared one false alarm of 651).
URGENT_MARGIN: Final = 0.0
# An urgent phrase found in a message this alike to the ordinary examples, and this much closer
# to them than to any urgent example (as a share), is not taken for urgent.
OVERRULE_SIMILAR: Final = 0.3
OVERRULE_MARGIN: Final = 0.4
_ORDINARY: Final = "ordinary"
# Alike means alike to the NEAREST examples on average, not to one by chance.
NEAREST: Final = 2


class UrgentModel:
    """Nearest-example urgency (see the module documentation)."""

    def __init__(
        self, examples: Examples, space: GramSpace | None = None, background: Sequence[str] = ()
    ) -> None:
        """`background`: other ordinary texts (the FAQ's phrases) for the IDF of both sides."""
        self._categories = tuple(examples.urgent)
        ordinary = [*examples.lookalikes.items(), *examples.negatives.items()]
        urgent_texts = [
            t for by_lang in examples.urgent.values() for ts in by_lang.values() for t in ts
        ]
        ordinary_texts = [t for _, texts in ordinary for t in texts]
        self._urgent = PhraseIndex(
            (
                (category, lang, text)
                for category, by_lang in examples.urgent.items()
                for lang, texts in by_lang.items()
                for text in texts
            ),
            whole=True,
            space=space,
            background=[*ordinary_texts, *background],
        )
        self._lookalikes = PhraseIndex(
            (
                (_ORDINARY, lang, text)
                for lang, texts in examples.lookalikes.items()
                for text in texts
            ),
            whole=True,
            space=space,
            background=[*urgent_texts, *background],
        )
        self._ordinary = PhraseIndex(
            ((_ORDINARY, lang, text) for lang, texts in ordinary for text in texts),
            whole=True,
            space=space,
            background=[*urgent_texts, *background],
        )

    def ordinary(self, text: str, languages: tuple[str, ...]) -> bool:
        """Whether `text` is clearly nearer the look-alike examples than any urgent one:
        OVERRULE_SIMILAR alike at least, and OVERRULE_MARGIN closer. A phrase hit on such a
        message ("years ago I was detained at the border: does it matter for permanent
        residence?") is a word in another situation. (Not the negatives: a personal situation
        such as unpaid wages is ordinary alone, urgent beside a confiscated passport.)"""
        ordinary = self._lookalikes.similarity_of_all(text, languages, NEAREST).get(_ORDINARY, 0.0)
        if ordinary < OVERRULE_SIMILAR:
            return False
        close = self._urgent.similarity_of_all(text, languages, NEAREST)
        return ordinary >= max(close.values(), default=0.0) * (1 + OVERRULE_MARGIN)

    def category(self, text: str, languages: tuple[str, ...], faq_similarity: float) -> str | None:
        """The urgent category `text` is closest to, if it is urgent by the rule above;
        `faq_similarity` is its n-gram similarity to the nearest FAQ phrase."""
        close = self._urgent.similarity_of_all(text, languages, NEAREST)
        category = max(close, key=close.__getitem__, default=None)
        if category is None or close[category] < URGENT_SIMILAR:
            return None
        ordinary = self._ordinary.similarity_of_all(text, languages, NEAREST).get(_ORDINARY, 0.0)
        if close[category] < max(ordinary, faq_similarity) * (1 + URGENT_MARGIN):
            return None
        return category
