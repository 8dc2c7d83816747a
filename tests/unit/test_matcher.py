"""The matcher answers when it is sure, asks when it is not, and hands over when nothing fits."""

from __future__ import annotations

import random

import pytest
from rapidfuzz import fuzz, process

from bot.app import Knowledge
from faq.loader import Faq
from faq.matcher import (
    FUZZY_CUTOFF,
    FUZZY_LIMIT,
    FuzzyVocabulary,
    Matcher,
    stem_similarity,
    token_similarity,
)
from faq.schema import Topic, Translation
from faq.understanding import Understanding
from locales import LANGUAGES

REQUIRED_TOPICS = [
    "residence-extension-documents",
    "residence-extension-deadline",
    "appointment-oamp",
    "permanent-residence",
    "employee-card",
    "health-insurance",
    "general-practitioner",
    "school-kindergarten",
    "official-letter",
    "change-of-address",
    "lost-documents",
    "czech-language-course",
    "integration-course",
    "temporary-protection",
]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_question_as_written_is_answered_with_its_topic(
    knowledge: Knowledge, lang: str
) -> None:
    wrong = []
    for topic in knowledge.faq.topics.values():
        question = topic.translations[lang].question
        match = knowledge.understanding.read(question)
        if (match.decision, match.topic) != ("answer", topic.id):
            wrong.append((topic.id, match.decision, match.topic))
    assert not wrong


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("jak si vybrat zdravotni pojistovnu", "health-insurance"),
        ("zdravotni pojisteni pro cizince", "health-insurance"),
        ("strakhovka dlya inostrantsev", "health-insurance"),
        ("how to get termin at OAMP", "appointment-oamp"),
        ("ztratil jsem pas co mam delat", "lost-documents"),
        ("ukrali pasport", "lost-documents"),
        ("prestehoval jsem se, musim hlasit novou adresu?", "change-of-address"),
        ("zapis do skolky", "school-kindergarten"),
        ("kurz cestiny zdarma", "czech-language-course"),
        ("prisel mi dopis z uradu a nerozumim mu", "official-letter"),
        ("trvaly pobyt podminky", "permanent-residence"),
        ("zmena zamestnavatele na zamestnaneckou kartu", "employee-card"),
    ],
)
def test_everyday_phrasings_are_answered(knowledge: Knowledge, text: str, topic: str) -> None:
    match = knowledge.understanding.read(text)
    assert (match.decision, match.topic) == ("answer", topic), match


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hi", "greeting"),
        ("Dobrý den", "greeting"),
        ("спасибо большое", "thanks"),
        ("xin chào", "greeting"),
        ("مرحبا", "greeting"),
        ("👍", "yes"),
        ("ok", "ok"),
        ("thx a lot, bye", "goodbye"),
        ("are you a bot?", "bot"),
        ("i want to talk to a real person please", "human"),
        ("you are useless", "frustration"),
    ],
)
def test_small_talk_is_recognised_not_answered(
    knowledge: Knowledge, text: str, intent: str
) -> None:
    match = knowledge.understanding.read(text)
    assert (match.decision, match.intent, match.topic) == ("chatter", intent, None)


@pytest.mark.parametrize("text", ["???", "...", "pas", "who won the football match"])
def test_noise_is_not_answered(knowledge: Knowledge, text: str) -> None:
    match = knowledge.understanding.read(text)
    assert match.decision in ("escalate", "clarify")
    assert match.topic is None


def test_a_greeting_before_a_question_is_a_question(knowledge: Knowledge) -> None:
    match = knowledge.understanding.read("dobry den, jake doklady k prodlouzeni pobytu?")
    assert (match.decision, match.topic) == ("answer", "residence-extension-documents")


def test_one_vague_word_is_answered_with_alternatives(knowledge: Knowledge) -> None:
    # "visa" is several topics' word: likely one of them, not sure which.
    match = knowledge.understanding.read("visa")
    assert match.decision == "answer"
    assert not match.sure
    assert 1 <= len(match.alternatives) <= 2
    assert match.topic not in [c.topic for c in match.alternatives]
    assert match.confidence < knowledge.matcher.calibration.sure


def test_typos_still_match(knowledge: Knowledge) -> None:
    match = knowledge.understanding.read("zdravotni pojistenni")
    assert match.topic == "health-insurance"


def test_forced_language_is_reported(knowledge: Knowledge) -> None:
    match = knowledge.understanding.read("pojisteni", lang="cs")
    assert match.as_dict()["lang"] == "cs"


def test_json_shape(knowledge: Knowledge) -> None:
    data = knowledge.understanding.read("zapis do skolky").as_dict()
    assert set(data) == {
        "text", "lang", "decision", "topic", "score", "candidates",
        "confidence", "intent", "also", "alternatives", "sure", "followup",
    }  # fmt: skip
    assert 0 <= data["score"] <= 100
    assert 0 <= data["confidence"] <= 1
    assert data["candidates"][0] == {"topic": data["topic"], "score": data["score"]}


def test_shipped_faq_has_every_required_topic(knowledge: Knowledge) -> None:
    assert sorted(knowledge.faq.topics) == sorted(REQUIRED_TOPICS)


def test_matcher_works_on_any_faq() -> None:
    def topic(topic_id: str, question: str, variants: list[str]) -> Topic:
        tr = Translation(question=question, variants=variants, answer="An answer.")
        return Topic(id=topic_id, category="health", translations={"en": tr})

    faq = Faq(
        topics={
            "dentist": topic("dentist", "Where do I find a dentist?", ["tooth ache doctor"]),
            "pharmacy": topic(
                "pharmacy", "Where is a pharmacy open at night?", ["night drugstore"]
            ),
        },
        languages=("en",),
    )
    understanding = Understanding(Matcher(faq))
    assert understanding.read("my tooth hurts, need a dentist").topic == "dentist"
    assert understanding.read("pharmacy open at night").topic == "pharmacy"


def test_fuzzy_vocabulary_finds_what_comparing_with_every_word_finds() -> None:
    # Pseudo-words built from few syllables, so that many share stems and the FUZZY_LIMIT
    # closest words of a query word often leave similar ones out: the index must find the very
    # same similar words among the closest, and every word of the same stem beyond them.
    rng = random.Random(7)
    syllables = ["ba", "be", "bis", "ko", "kra", "li", "lo", "ment", "na", "ni", "ov", "ra", "st"]
    vocabulary = sorted(
        {"".join(rng.choices(syllables, k=rng.randint(1, 5))) for _ in range(4000)}
    )
    fuzzy = FuzzyVocabulary(vocabulary)
    queries = rng.sample(vocabulary, 150)
    queries += [_typo(rng, word) for word in rng.sample(vocabulary, 150)]
    queries += ["0" * 29, "bis", "x" * 12, "babababababababababa"]
    for token in queries:
        everything = process.extract(
            token, vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=None
        )
        expected = [
            (w, r)
            for place, (w, r, _) in enumerate(everything)
            if token_similarity(token, w, r) > 0
            and (place < FUZZY_LIMIT or stem_similarity(token, w))
        ]
        assert fuzzy.closest(token) == expected, token


def _typo(rng: random.Random, word: str) -> str:
    at = rng.randrange(len(word))
    return rng.choice([word[:at] + word[at + 1 :], word[:at] + "e" + word[at:], word + "a"])
