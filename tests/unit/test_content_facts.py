"""The facts a caseworker checked (issue 15): each corrected claim is in the English answer,
its official page is in the topic's links, and every translation carries the same figures.

Wrong facts cost migrants money and permits: each row below is one correction, with the page
it was checked against. When a rule changes, change the row, the answer in every language and
the topic's `checked:` date together.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from locales import LANGUAGES

if TYPE_CHECKING:
    from bot.app import Knowledge

# topic, phrases the English answer must contain, figures every translation must contain,
# a part of the official page's address that must be among the topic's links.
ROWS = [
    (
        "residence-extension-deadline",
        ["from 120 days before", "long-term visa: from 90 days before", "last day of validity"],
        ["120", "90"],
        "gov.cz/en/sluzby-vs/application-for-an-extension-of-a-longterm-visa-S7825",
    ),
    (
        "residence-extension-deadline",
        ["2,500 CZK for a permit, 1,000 CZK for a visa"],
        ["2", "500", "1", "000"],
        "gov.cz/en/sluzby-vs/application-for-an-extension-of-a-longterm-visa-S7825",
    ),
    (
        "health-insurance",
        [
            "since 1 Jan 2024 children under 18 with a long-term residence permit (not a visa)",
            "pay the monthly premium",
        ],
        ["2024", "18"],
        "vzp.cz/platci/informace/deti-narozene-v-cr-cizinkam-s-povolenim-k-dlouhodobemu-pobytu",
    ),
    (
        "health-insurance",
        ["adults 18–64: the state pays only the first 150 days", "tell your insurer who pays"],
        ["18", "64", "150"],
        "cz.pomocukrajine.vzp.cz",
    ),
    (
        "employee-card",
        ["must reach the Ministry within 90 days", "only after its written notice"],
        ["90"],
        "employee-card/employee-card-change-of-employment",
    ),
    (
        "appointment-oamp",
        ["With temporary protection you can book online only to extend it"],
        [],
        "ipc.gov.cz/en/rules-for-making-appointments-via-the-information-portal-for-foreigners",
    ),
    (
        "residence-extension-documents",
        [
            "a photo only if your appearance has changed",
            "apostille or superlegalisation",
            "official Czech translation",
            "2,500 CZK for a permit, 1,000 CZK for a visa",
        ],
        ["2", "500", "1", "000", "180"],
        "gov.cz/en/sluzby-vs/application-for-an-extension-of-a-longterm-visa-S7825",
    ),
    (
        "lost-documents",
        ["within 3 working days of the change", "within 3 working days after that ends"],
        ["3"],
        "zmena-cestovniho-dokladu-u-obcanu-tretich-zemi",
    ),
    (
        "permanent-residence",
        ["criminal-record extracts", "lived over 6 months in the last 3 years", "level A2"],
        ["6", "3", "2"],
        "permanent-residence-permit-after-5-years-of-temporary-residence",
    ),
    (
        "integration-course",
        [
            "compulsory",
            "within 1 year of taking over your residence card",
            "4 hours",
            "1,500 CZK",
            "a fine of up to 10,000 CZK",
            "under 15 or 61 or older",
        ],
        ["1", "4", "500", "10", "000", "15", "61", "2021"],
        "mvcr.cz/clanek/adaptacne-integracni-kurzy.aspx",
    ),
    (
        "temporary-protection",
        [
            "extended every year",
            "register online on ipc.gov.cz",
            "the state pays only the first 150 days",
            "online booking only for the extension",
            "Special long-term residence",
            "2 years of protection",
        ],
        ["150", "18", "64", "2"],
        "ipc.gov.cz/zvlastni-dlouhodoby-pobyt",
    ),
    (
        "change-of-address",
        ["Temporary protection: within 3 working days"],
        ["3", "30", "180"],
        "frs.gov.cz/zmena-adresy-docasna-ochrana",
    ),
    (
        "change-of-address",
        ["Seasonal work visa: within 15 days, to the foreign police", "Post, data box"],
        ["15", "30"],
        "frs.gov.cz/en/obligations-for-foreigners/changes-with-third-country-nationals/change-of-address",
    ),
    (
        "czech-language-course",
        ["(level A2)", "The exam is paid", "Ask the centre near you when the next course starts"],
        ["2"],
        "cestina-pro-cizince.cz/trvaly-pobyt",
    ),
]

# What the answers said before the fact-check: none of it may come back.
WRONG = [
    ("residence-extension-deadline", "no earlier than 120 days before your visa"),
    ("residence-extension-documents", "passport photos"),
    ("employee-card", "time to report a new one is limited"),
    ("lost-documents", "of getting it"),
    ("health-insurance", "non-working family members"),
    # not on the integration centres' pages: each centre has its own way of signing people up
    ("czech-language-course", "Registration opens only at set times"),
]


def _row_id(row: tuple) -> str:
    return f"{row[0]}: {row[1][0][:40]}"


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_corrected_fact_is_in_english_with_its_source(knowledge: Knowledge, row: tuple) -> None:
    topic_id, phrases, _, source = row
    topic = knowledge.faq.topics[topic_id]
    answer = " ".join(topic.translations["en"].answer.split())
    for phrase in phrases:
        assert phrase in answer, (topic_id, phrase)
    assert any(source in link for link in topic.links), (topic_id, source, topic.links)
    assert topic.checked is not None, topic_id


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_translation_carries_the_corrected_figures(
    knowledge: Knowledge, row: tuple, lang: str
) -> None:
    topic_id, _, figures, _ = row
    tr = knowledge.faq.topics[topic_id].translations[lang]
    found = set(re.findall(r"\d+", tr.answer))
    assert set(figures) <= found, (topic_id, lang, sorted(set(figures) - found))
    assert not tr.reviewed, "changed text stays unreviewed until a speaker checks it"


@pytest.mark.parametrize(("topic_id", "claim"), WRONG)
def test_the_old_wrong_claims_are_gone(knowledge: Knowledge, topic_id: str, claim: str) -> None:
    answer = " ".join(knowledge.faq.topics[topic_id].translations["en"].answer.split())
    assert claim.casefold() not in answer.casefold()


def test_public_insurance_is_for_an_employer_based_here_in_every_language(
    knowledge: Knowledge,
) -> None:
    """Not "a Czech employer": a foreign company's branch registered here counts too."""
    topic = knowledge.faq.topics["health-insurance"]
    assert "employer based in Czechia" in topic.translations["en"].answer
    based_here = {
        "cs": "se sídlem v Česku",
        "ru": "зарегистрированного в Чехии",
        "uk": "зареєстрованого в Чехії",
        "vi": "có trụ sở tại Séc",
        "ar": "مقرّه في التشيك",
        "mn": "Чехэд бүртгэлтэй",
        "fr": "établi en Tchéquie",
        "es": "con sede en Chequia",
        "hy": "Չեխիայում գրանցված",
    }
    for lang, words in based_here.items():
        assert words in topic.translations[lang].answer, lang


def test_russian_answers_use_one_name_for_the_employee_card(knowledge: Knowledge) -> None:
    for topic in knowledge.faq.topics.values():
        answer = topic.translations["ru"].answer.casefold()
        assert "карт" not in answer or "сотрудник" not in answer, topic.id


def test_every_topic_says_when_its_facts_were_checked_against_which_pages(
    knowledge: Knowledge,
) -> None:
    checked = {t.id: t.checked for t in knowledge.faq.topics.values()}
    corrected = {row[0] for row in ROWS}
    assert all(checked[t] is not None for t in corrected), checked
    # issue 15b checked the last five topics: none is left unchecked
    assert [t for t, day in checked.items() if day is None] == []
    for topic in knowledge.faq.topics.values():
        assert topic.links, topic.id


def test_the_new_topics_are_in_their_categories_in_every_language(knowledge: Knowledge) -> None:
    faq = knowledge.faq
    assert faq.topics["integration-course"].category == "integration"
    assert faq.topics["temporary-protection"].category == "residence"
    for topic_id in ("integration-course", "temporary-protection"):
        for lang in LANGUAGES:
            tr = faq.topics[topic_id].translations[lang]
            assert tr.title and len(tr.variants) >= 7 and tr.keywords, (topic_id, lang)


@pytest.mark.parametrize(
    ("text", "lang", "topic"),
    [
        ("do I have to do the integration course and until when", "en", "integration-course"),
        ("musím jít na adaptačně integrační kurz?", "cs", "integration-course"),
        ("как продлить временную защиту в этом году", "ru", "temporary-protection"),
        ("тимчасовий захист як продовжити", "uk", "temporary-protection"),
        (
            "i have temporary protection and moved to a new flat, how do i report the address",
            "en",
            "change-of-address",
        ),
        (
            "přestěhovala jsem se, mám dočasnou ochranu, kde nahlásit adresu",
            "cs",
            "change-of-address",
        ),
        (
            "how early can I apply to extend my long-term visa",
            "en",
            "residence-extension-deadline",
        ),
    ],
)
def test_people_asking_in_their_words_get_the_new_and_corrected_topics(
    knowledge: Knowledge, text: str, lang: str, topic: str
) -> None:
    match = knowledge.understanding.read(text, lang=lang)
    assert match.decision == "answer", (text, match.decision, match.topic)
    assert match.topic == topic
