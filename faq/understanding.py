"""What a message is, read once per turn: an emergency, small talk, or a question of the FAQ.

`Understanding.read` is the one entry point the conversation uses; its steps, in order:
1. the language (`faq.langdetect`);
2. urgent phrases, sure hits (`faq.urgent`; its typos looked up in the word index it shares
   with the FAQ matcher, `faq.fuzzy`), unless the message is plainly one of the ordinary
   look-alikes (`faq.urgency`);
3. small talk by its words (`faq.smalltalk`);
4. the FAQ matcher ranks and decides (`faq.matcher`);
5. for a message not surely answered: urgent situations told in other words (`faq.urgency`,
   learned from examples) and small talk in other words (n-grams of the small-talk examples);
6. a follow-up of the last answer (`context`) or a second question in the message (`also`).

Urgency is decided here, beside the matcher and not inside it: the matcher only knows the FAQ.
A turn asks about its message more than once (urgent before any step, then the question): it
is read once (a cache of the last messages).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from faq.langdetect import Detection
from faq.matcher import Match, languages_for
from faq.ngrams import PhraseIndex
from faq.smalltalk import SmallTalkDetector
from faq.urgency import UrgentModel

if TYPE_CHECKING:
    from faq.decide import Calibration
    from faq.matcher import Matcher
    from faq.urgent import UrgentDetector, UrgentHit

# A message not answered from the FAQ and this close by n-grams to small-talk examples is
# small talk ("i want to speak with a human please, not a machine"): chosen on the dev half.
CHATTER_SIMILAR: Final = 0.4
# An answer the matcher is not sure of gives way to small talk only when the small talk is
# this much closer than the answer's topic by n-grams, and the question's own words score
# below CHATTER_YIELDS (0..100): "... how do i book at oamp?" stays a question.
CHATTER_MARGIN: Final = 0.1
CHATTER_YIELDS: Final = 60
# How many messages' readings are kept (a turn reads its message up to three times).
READINGS_KEPT: Final = 256


class Understanding:
    """Reads messages with one FAQ matcher, the urgent phrases and the examples."""

    def __init__(self, matcher: Matcher, urgent: UrgentDetector | None = None) -> None:
        """`urgent`: the phrases of `faq/urgent.yaml`; without them nothing is urgent (the
        cross-validation and a few tests match the FAQ alone). The matcher must hold the
        phrases' words in its word index (`Matcher(shared_words=urgent.vocabulary)`)."""
        self.matcher = matcher
        self.urgent = urgent
        self.detector = matcher.detector
        examples = matcher.examples
        self.smalltalk = SmallTalkDetector(examples)
        self._chatter = PhraseIndex(
            (
                (intent, lang, text)
                for intent, by_lang in examples.smalltalk.items()
                for lang, texts in by_lang.items()
                for text in texts
            ),
            whole=True,
            space=matcher.space,
        )
        self._urgent_model: UrgentModel | None = None
        if urgent is not None:
            urgent.share(matcher.word_index)
            self._urgent_model = UrgentModel(
                examples,
                matcher.space,
                [
                    text
                    for topic in matcher.faq.topics.values()
                    for tr in topic.translations.values()
                    for text in (tr.question, *tr.variants)
                ],
            )
        self._read = lru_cache(maxsize=READINGS_KEPT)(self._read_uncached)

    def detect(self, text: str, hint: str | None = None) -> Detection:
        return self.detector.detect(text, hint)

    def read(
        self,
        text: str,
        lang: str | None = None,
        hint: str | None = None,
        context: str | None = None,
    ) -> Match:
        """Read `text`; `lang` forces the language, `hint` is the user's language for ties,
        `context` the topic the conversation answered last (a follow-up is matched in it)."""
        return self._read(text, lang, hint, context)

    def urgent_category(self, text: str, hint: str | None = None) -> str | None:
        """The urgent category of `text` (a phrase, or close to the urgent examples), or None."""
        match = self.read(text, hint=hint)
        return match.urgent_category if match.decision == "urgent" else None

    def recalibrate(self, calibration: Calibration) -> None:
        """Decide with `calibration` from now on (learned in the background, `bot.reload`)."""
        self.matcher.recalibrate(calibration)
        self._read.cache_clear()

    def _read_uncached(
        self, text: str, lang: str | None, hint: str | None, context: str | None
    ) -> Match:
        detection = Detection(lang, True) if lang else self.detector.detect(text, hint)
        languages = languages_for(text)
        hit = self._urgent_phrase(text, detection)
        if hit and not (self._urgent_model and self._urgent_model.ordinary(text, languages)):
            return _urgent(text, detection, hit.category)
        chatter = self.smalltalk.detect(text, self.matcher.idf)
        if chatter:
            return Match(
                text,
                detection.lang,
                detection.confident,
                "chatter",
                None,
                0,
                (),
                intent=chatter.intent,
                confidence=1.0,
            )
        matcher = self.matcher
        query, ranked, negative = matcher.rank(text, detection)
        decided = matcher.decide(text, detection, query, ranked, negative)
        if decided.sure:
            # Surely a question of the FAQ: neither small talk nor an emergency told in other
            # words (the phrases above still catch one that names it).
            return matcher.beside(decided, detection, query, ranked, context)
        chatty = self._chatter.similarity_of_all(text, languages)
        intent = max(chatty, key=chatty.__getitem__, default=None)
        chat = chatty[intent] if intent else 0.0
        if self._urgent_model:
            nearest = max((r.ngrams for r in ranked), default=0.0)
            # Small talk counts as ordinary only when it is clearly small talk.
            ordinary = max(nearest, chat if chat >= CHATTER_SIMILAR else 0.0)
            learned = self._urgent_model.category(text, languages, ordinary)
            if learned:
                return _urgent(text, detection, learned)
        decided = matcher.beside(decided, detection, query, ranked, context)
        if decided.decision != "answer" or not decided.sure:
            # Not a sure answer: small talk in other words than the examples'? An unsure
            # answer gives way only to clearly closer small talk; one word is too little to
            # tell by n-grams (Czech "pas", French "pas du tout").
            answered = decided.decision == "answer"
            if answered and ranked[0].words * 100 >= CHATTER_YIELDS:
                return decided  # its words plainly ask the topic ("... how do i book at oamp?")
            leading = ranked[0].ngrams + CHATTER_MARGIN if answered else 0.0
            if intent and len(text.split()) > 1 and chat >= max(CHATTER_SIMILAR, leading):
                return replace(decided, decision="chatter", topic=None, intent=intent)
        return decided

    def _urgent_phrase(self, text: str, detection: Detection) -> UrgentHit | None:
        """The urgent phrase `text` matches: of its language when that is sure, else of any."""
        if not self.urgent:
            return None
        return self.urgent.detect(text, detection.lang if detection.confident else None)


def _urgent(text: str, detection: Detection, category: str) -> Match:
    return Match(
        text,
        detection.lang,
        detection.confident,
        "urgent",
        None,
        100,
        (),
        urgent_category=category,
        confidence=1.0,
    )
