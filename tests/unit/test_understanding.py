"""Understanding people as they write: the blind evaluation, the calibrated decision, small
talk, two questions, follow-ups, urgent messages in other words, short-message languages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from faq.calibrate import content_hash, cross_validate
from faq.decide import Calibration, threshold
from faq.examples import load_examples
from faq.normalize import tokens
from tests.conftest import REPORTS
from tests.helpers.understanding import evaluate, load_cases, table

if TYPE_CHECKING:
    from pathlib import Path

    from bot.app import Knowledge


def test_blind_evaluation(knowledge: Knowledge) -> None:
    cases = load_cases()
    halves = {half: [c for c in cases if c.half == half] for half in ("dev", "test")}
    results = {
        half: evaluate(knowledge.understanding, chosen)[0] for half, chosen in halves.items()
    }
    for half, tallies in results.items():
        REPORTS.append(table(tallies, f"Blind evaluation, {half} half ({len(halves[half])} msgs)"))
    test = results["test"]["all"]
    # Measured now (README, "Understanding": right 90.6%, wrong 4.9%, negatives answered
    # surely 1.2%, urgent 100%, false alarms 0.9%, language 98.6%, small talk 85%), with a
    # little room: these floors catch a regression; the targets are in the README.
    assert test.rate("right") >= 0.88
    assert test.rate("wrong") <= 0.06
    assert test.rate("neg_sure") <= 0.05
    assert test.rate("urgent") >= 0.97
    assert test.rate("false_alarm") <= 0.02
    assert test.rate("lang") >= 0.975
    assert test.rate("chatter") >= 0.8


def test_no_test_message_is_in_the_examples(knowledge: Knowledge) -> None:
    """The matcher learns from its examples: a test message among them would be tuning on
    the test half. (Writers of either never saw the other; a few short messages came out the
    same and were taken out of the examples.)"""
    learned = {
        " ".join(tokens(t))
        for texts in knowledge.matcher.examples.texts_by_language().values()
        for t in texts
    }
    test = [c.text for c in load_cases() if c.half == "test" and len(tokens(c.text)) > 2]
    assert [t for t in test if " ".join(tokens(t)) in learned] == []


def test_shipped_calibration_is_learned_from_the_shipped_content(knowledge: Knowledge) -> None:
    learned = cross_validate(knowledge.faq, knowledge.matcher.examples).calibration
    shipped = knowledge.matcher.calibration
    assert shipped.content_hash == learned.content_hash  # else: `poradna faq calibrate`
    assert shipped.weights == pytest.approx(learned.weights, abs=1e-6)
    assert shipped.sure == pytest.approx(learned.sure, abs=1e-6)
    assert knowledge.calibrated


def test_thresholds_follow_from_the_stated_precision() -> None:
    scored = [(0.9, True)] * 19 + [(0.9, False)] + [(0.5, True), (0.5, False), (0.4, False)]
    assert threshold(scored, 0.95) == 0.9  # 19 of 20 right at 0.9 and above
    assert threshold(scored, 0.90) == 0.5  # 20 of 22
    assert threshold([(0.8, False)], 0.95) == 1.0  # never sure


def test_calibration_round_trips(tmp_path: Path) -> None:
    calibration = Calibration(weights=(0.5,) * 10, bias=-1.0, sure=0.9, likely=0.4)
    calibration.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json") == calibration


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        # A plain question with a clause of context: answered, not asked back.
        (
            "dobry den, prijela jsem pred rokem, mam dve deti a prace mi konci, "
            "jake doklady potrebuju k prodlouzeni pobytu?",
            "residence-extension-documents",
        ),
        ("hello, tried the website 3 times already, how do i book at oamp?", "appointment-oamp"),
    ],
)
def test_a_question_with_context_is_answered(knowledge: Knowledge, text: str, topic: str) -> None:
    match = knowledge.understanding.read(text)
    assert (match.decision, match.topic) == ("answer", topic)


def test_two_questions_in_one_message(knowledge: Knowledge) -> None:
    match = knowledge.understanding.read(
        "jake doklady potrebuju k prodlouzeni pobytu a kdy nejpozdeji musim podat zadost?"
    )
    assert match.decision == "answer"
    assert {match.topic, *match.also} == {
        "residence-extension-documents",
        "residence-extension-deadline",
    }
    assert match.as_dict()["also"] == list(match.also)


def test_a_follow_up_is_matched_in_the_context_of_the_last_answer(knowledge: Knowledge) -> None:
    text = "a kolik to stoji?"
    alone = knowledge.understanding.read(text)
    assert alone.topic != "residence-extension-documents"
    followed = knowledge.understanding.read(text, context="residence-extension-documents")
    assert (followed.decision, followed.topic, followed.intent) == (
        "answer",
        "residence-extension-documents",
        "followup",
    )
    assert followed.followup == "fee"  # answered with the topic's fee
    # A short message plainly about another topic is that topic, context or not.
    switched = knowledge.understanding.read("a zapis do skolky?", context="health-insurance")
    assert switched.topic == "school-kindergarten"


@pytest.mark.parametrize(
    "text", ["who won the football yesterday", "my cat is sick", "quel temps fait-il demain"]
)
def test_an_unrelated_message_after_an_answer_is_no_follow_up(
    knowledge: Knowledge, text: str
) -> None:
    read = knowledge.understanding.read(text, context="general-practitioner")
    assert (read.decision, read.intent) != ("answer", "followup")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("everyone would be better off without me, i have the pills ready", "self-harm"),
        ("я больше не вижу смысла, хочу чтобы всё закончилось", "self-harm"),
        ("zavreli me v zajistovacim zarizeni a zitra me posilaji letadlem domu", "detention"),
    ],
)
def test_urgent_in_other_words_than_the_phrases(
    knowledge: Knowledge, text: str, category: str
) -> None:
    assert knowledge.understanding.urgent is not None
    assert knowledge.understanding.urgent.detect(text) is None  # no phrase names it
    match = knowledge.understanding.read(text)
    assert (match.decision, match.urgent_category) == ("urgent", category)


@pytest.mark.parametrize(
    "text",
    [
        "who won the football match yesterday",
        "i need a police clearance certificate for my work visa, where do i get it?",
        "my visa expires tomorrow, can i still apply?",
        "tohle není číslo",
    ],
)
def test_ordinary_messages_are_not_urgent(knowledge: Knowledge, text: str) -> None:
    assert knowledge.understanding.read(text).decision != "urgent"


def test_an_urgent_phrase_counts_in_its_own_language(knowledge: Knowledge) -> None:
    # A Czech phrase's words with other endings resemble French ones; French is sure here.
    text = "ma femme et mon bebe m'ont rejoint, quelle assurance pour eux ?"
    assert knowledge.understanding.read(text).decision != "urgent"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("добрий день", "uk"),
        ("добрый день", "ru"),
        ("привіт", "uk"),
        ("сайн байна уу", "mn"),
        ("dobry den", "cs"),
        ("kifash n9der nsajjel weldi f skolka? 3ndo 3 snin", "ar"),
        ("A2 exam for trvaly pobyt", "en"),
    ],
)
def test_language_of_short_messages(knowledge: Knowledge, text: str, lang: str) -> None:
    assert knowledge.matcher.detect(text).lang == lang


def test_chatter_json(knowledge: Knowledge) -> None:
    data = knowledge.understanding.read("дякую").as_dict()
    assert (data["decision"], data["intent"], data["topic"]) == ("chatter", "thanks", None)


def test_broken_examples_are_reported_with_their_line(tmp_path: Path) -> None:
    negatives = tmp_path / "negatives.yaml"
    negatives.write_text("en:\n  caseworker:\n    - 'ok'\n  other:\n    - 'x'\nzz:\n", "utf-8")
    smalltalk = tmp_path / "smalltalk.yaml"
    smalltalk.write_text("greeting:\n  en: [hi]\nhello:\n  en: [x]\n", "utf-8")
    urgent = tmp_path / "urgent_examples.yaml"
    urgent.write_text("categories:\n  violence:\n    en: hit\n", "utf-8")
    words = tmp_path / "language_words.yaml"
    words.write_text('en: ["hello"]\nukr: ["dyakuyu"]\n', "utf-8")
    examples, problems = load_examples(negatives, smalltalk, urgent, words)
    lines = [str(p) for p in problems]
    assert any(line.startswith(f"{words}:2: unknown name 'ukr'; use one of: ") for line in lines)
    assert examples.language_words == {"en": ["hello"]}
    assert f"{negatives}:4: unknown name 'other'; use one of: caseworker, uncovered" in lines
    assert any(line.startswith(f"{negatives}:6: unknown name 'zz'") for line in lines)
    assert any(line.startswith(f"{smalltalk}:3: unknown name 'hello'") for line in lines)
    assert f"{urgent}:3: expected a list of messages in quotes" in lines
    assert examples.negatives == {"en": ["ok"]}


def test_content_hash_follows_the_content(knowledge: Knowledge) -> None:
    negatives = knowledge.matcher.examples.negatives
    before = content_hash(knowledge.faq, negatives)
    changed = {**negatives, "en": [*negatives["en"], "a new negative"]}
    assert content_hash(knowledge.faq, changed) != before
    assert content_hash(knowledge.faq, negatives) == before
