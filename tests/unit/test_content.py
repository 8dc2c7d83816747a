"""The shipped FAQ content: complete, consistent across languages, and honest about review."""

from __future__ import annotations

import re

import pytest

from bot.app import Knowledge
from locales import LANGUAGES

NUMBER = re.compile(r"\d+")
DOMAIN = re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:cz|eu|org|com)\b", re.IGNORECASE)


def _topics(knowledge: Knowledge) -> list:
    return list(knowledge.faq.topics.values())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_topic_in_every_language(knowledge: Knowledge, lang: str) -> None:
    for topic in _topics(knowledge):
        tr = topic.translations[lang]
        assert tr.question and tr.answer and tr.title, (topic.id, lang)
        assert len(tr.variants) >= 6, (topic.id, lang)
        assert tr.keywords, (topic.id, lang)
        assert len(tr.answer) <= 720, (topic.id, lang, len(tr.answer))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_numbers_and_links_of_english(
    knowledge: Knowledge, lang: str
) -> None:
    for topic in _topics(knowledge):
        en, tr = topic.translations["en"].answer, topic.translations[lang].answer
        assert set(NUMBER.findall(tr)) == set(NUMBER.findall(en)), (topic.id, lang)
        assert {d.lower() for d in DOMAIN.findall(tr)} == {
            d.lower() for d in DOMAIN.findall(en)
        }, (
            topic.id,
            lang,
        )


def test_answers_end_by_inviting_a_caseworker_and_invent_no_phone_numbers(
    knowledge: Knowledge,
) -> None:
    for topic in _topics(knowledge):
        for lang, tr in topic.translations.items():
            assert not re.search(r"\+?\d{3}[ -]?\d{3}[ -]?\d{3}", tr.answer), (topic.id, lang)
            assert "caseworker" in topic.translations["en"].answer.casefold()


def test_nothing_is_marked_reviewed_without_a_reviewer(knowledge: Knowledge) -> None:
    assert all(
        not tr.reviewed for topic in _topics(knowledge) for tr in topic.translations.values()
    )


def test_links_are_official_sources(knowledge: Knowledge) -> None:
    for topic in _topics(knowledge):
        assert topic.links, topic.id
        assert all(link.startswith("https://") for link in topic.links)
