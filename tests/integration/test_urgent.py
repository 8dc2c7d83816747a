"""Urgent and protection situations go to a person at once, never to an FAQ answer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.app import App, Knowledge, build_app
from bot.cli import main
from faq.loader import load_faq
from faq.matcher import Matcher
from faq.understanding import Understanding
from faq.urgent import check_urgent
from flows import payloads as pl
from flows.payloads import Action
from locales import LANGUAGES
from tests.conftest import REPORTS, make_settings
from tests.helpers.chat import Chat
from tests.helpers.processes import poradna

DATA = Path(__file__).resolve().parents[1] / "data" / "urgent.yaml"


def test_urgent_detection_on_labelled_messages(knowledge: Knowledge) -> None:
    cases = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    urgent, caught, answered_urgent = Counter(), Counter(), []
    ordinary, false_alarm = Counter(), Counter()
    for case in cases:
        match = knowledge.understanding.read(case["text"])
        if case["urgent"]:
            urgent[case["lang"]] += 1
            caught[case["lang"]] += match.decision == "urgent"
            if match.decision == "answer":
                answered_urgent.append(case["text"])
        else:
            ordinary[case["lang"]] += 1
            false_alarm[case["lang"]] += match.decision == "urgent"
    lines = [
        "",
        "Urgent detection (tests/data/urgent.yaml)",
        f"{'lang':<5}{'urgent':>7}{'caught':>8}{'ordinary':>9}{'false alarms':>13}",
    ]
    lines.extend(
        f"{lang:<5}{urgent[lang]:>7}{caught[lang] / urgent[lang]:>8.0%}{ordinary[lang]:>9}"
        f"{false_alarm[lang] / ordinary[lang]:>13.0%}"
        for lang in sorted(urgent)
    )
    recall = sum(caught.values()) / sum(urgent.values())
    false_rate = sum(false_alarm.values()) / sum(ordinary.values())
    lines.append(
        f"{'all':<5}{sum(urgent.values()):>7}{recall:>8.0%}{sum(ordinary.values()):>9}"
        f"{false_rate:>13.0%}"
    )
    REPORTS.append("\n".join(lines))

    assert len(urgent) >= 6
    assert answered_urgent == []  # no urgent message is answered with an FAQ
    assert recall >= 0.9
    assert false_rate <= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "my husband beats me",
        "муж меня бьёт",
        "zamestnavatel mi vzal pas a neplati mi",
        "I don't want to live anymore",
        "they will deport me tomorrow",
        "زوجي يضربني",
    ],
)
def test_clear_emergencies_are_urgent(knowledge: Knowledge, text: str) -> None:
    assert knowledge.understanding.read(text).decision == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "how do I register at the foreign police",
        "potrebuji vypis z rejstriku trestu",
        "ztratil jsem pas, mam to nahlasit na policii?",
        "где получить справку о несудимости",
    ],
)
def test_paperwork_mentioning_the_police_is_not_urgent(knowledge: Knowledge, text: str) -> None:
    assert knowledge.understanding.read(text).decision != "urgent"


@pytest.mark.parametrize(
    ("ordinary", "urgent"),
    [
        # A phrase word in a past or general situation, close to the look-alike examples...
        (
            "years ago I was detained at the border for one night, is it a problem for "
            "permanent residence?",
            "my husband was detained by the police an hour ago and they say he will be "
            "deported tomorrow",
        ),
        # ...unpaid wages alone are a caseworker's matter, with a confiscated passport urgent...
        (
            "my employer did not pay my last salary, where can I complain?",
            "my employer took my passport and does not pay us, we cannot leave",
        ),
        # ...Vietnamese says who does what by word order ("the son fights" / "hits the child")...
        (
            "con trai em đánh nhau ở trường nên nhà trường mời họp phụ huynh, có người phiên "
            "dịch tiếng Việt không?",
            "chồng em say rượu về đánh con, em sợ lắm",
        ),
        # ...and a short word is not a phrase word two letters longer (Ukrainian "іншу").
        (
            "я переїхала в іншу квартиру, треба повідомити OAMP?",
            "у тата інсульт, він не може говорити",
        ),
    ],
)
def test_alarming_words_in_ordinary_situations(
    knowledge: Knowledge, ordinary: str, urgent: str
) -> None:
    assert knowledge.understanding.read(ordinary).decision != "urgent"
    assert knowledge.understanding.read(urgent).decision == "urgent"


def test_faq_check_names_the_lookalikes_an_urgent_phrase_matches(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    for name in (
        "negatives.yaml",
        "smalltalk.yaml",
        "urgent_examples.yaml",
        "language_words.yaml",
    ):
        (examples / name).write_text(
            (Path("faq") / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    urgent_examples = examples / "urgent_examples.yaml"
    text = urgent_examples.read_text(encoding="utf-8")
    at = text.index("lookalikes:\n  en:\n") + len("lookalikes:\n  en:\n")
    line = text[:at].count("\n") + 1
    ordinary = '    - "my husband beats me at chess every evening, where is a chess club?"\n'
    urgent_examples.write_text(text[:at] + ordinary + text[at:], encoding="utf-8")
    result = poradna("faq", "check", "--examples", str(examples))
    warned = [w for w in result.stdout.splitlines() if "beats me at chess" in w]
    assert warned == [
        f"{urgent_examples}:{line}:0: warning: this ordinary message is taken for urgent "
        "(violence) by the phrase 'husband beats' of urgent.yaml: 'my husband beats me at "
        "chess every evening, where is a chess' (fix: make the phrase in urgent.yaml more "
        "specific, or list the words that make the message ordinary under not_urgent)"
    ]


async def test_urgent_message_gets_emergency_numbers_and_a_fast_callback(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.send("my husband beats me and I am afraid")
    assert chat.keys == ["urgent-help-now", "urgent-offer"]
    for number in ("112", "158", "155", "150"):
        assert number in chat.replies[0].text
    assert chat.replies[-1].request_phone
    await chat.send("777 123 456")
    assert chat.keys == ["callback-consent"]  # time and question can wait
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert chat.keys == ["urgent-done"]
    async with app.storage.begin() as unit:
        [request] = await unit.requests.list_requests()
    assert request.urgent
    assert request.question == "my husband beats me and I am afraid"
    assert request.preferred_time == "asap"
    assert request.reference in chat.replies[0].text


async def test_urgent_request_goes_to_the_top_of_the_queue(app: App) -> None:
    ordinary = Chat(app.engine, user="a", client_lang="en")
    await ordinary.send("/start")
    await ordinary.press("English")
    await ordinary.press("person")
    await ordinary.send("777123456")
    await ordinary.press_payload(pl.make(Action.TIME, "morning"))
    await ordinary.send("question")
    await ordinary.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    urgent = Chat(app.engine, user="b", client_lang="ru")
    await urgent.send("муж бьёт меня, помогите")
    assert urgent.replies[0].lang == "ru"
    await urgent.send("+420 601 111 222")
    await urgent.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    async with app.storage.begin() as unit:
        requests = await unit.requests.list_requests()
    assert [(r.reference, r.urgent) for r in requests] == [("R-0002", True), ("R-0001", False)]


async def test_urgent_in_the_middle_of_a_callback_request(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("person")
    await chat.send("777123456")
    await chat.send("he is hitting me right now")
    assert chat.keys == ["urgent-help-now", "callback-consent"]  # the phone is already known


async def test_crisis_contacts_from_configuration(flow_database_url: str) -> None:
    settings = make_settings(flow_database_url, crisis_contacts="La Strada 800 077 777")
    application = await build_app(settings, migrate=True)
    try:
        chat = Chat(application.engine, client_lang="en")
        await chat.send("/start")
        await chat.press("English")
        await chat.send("I don't want to live anymore")
        assert chat.keys == ["urgent-help-now", "urgent-contacts", "urgent-offer"]
        assert "La Strada 800 077 777" in chat.replies[1].text
    finally:
        await application.close()


def test_faq_check_validates_the_urgent_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_urgent()[1] == []
    bad = tmp_path / "urgent.yaml"
    bad.write_text('categories:\n  violence:\n    xx: ["hits me"]\n  boredom: {}\n', "utf-8")
    problems = [str(p) for p in check_urgent(bad)[1]]
    assert f"{bad}:3: unknown language code 'xx'; supported: {', '.join(LANGUAGES)}" in problems
    assert any(p.startswith(f"{bad}:4: unknown category 'boredom'") for p in problems)
    assert main(["faq", "check", "--urgent", str(bad)]) == 1
    assert f"{bad}:3:" in capsys.readouterr().out


def test_a_typo_in_the_longest_phrase_word_is_still_caught(knowledge: Knowledge) -> None:
    """A typo that makes a word one letter longer than any phrase word (the detector compares
    a word only with phrase words of nearby lengths: the edge of that range)."""
    from faq.normalize import tokens
    from faq.urgent import EXACT_LANGUAGES, URGENT_FILE, UrgentDetector

    data, _ = check_urgent(URGENT_FILE)
    phrases = [
        phrase
        for by_lang in data["categories"].values()
        for lang, items in by_lang.items()
        if lang not in EXACT_LANGUAGES
        for phrase in items
    ]
    phrase = max(phrases, key=lambda p: max(len(w) for w in tokens(p)))
    longest = max(tokens(phrase), key=len)
    typo = longest[:-3] + "x" + longest[-3:]  # one letter more, near the end
    message = " ".join(typo if w == longest else w for w in tokens(phrase))
    detector = UrgentDetector.load()
    assert detector.detect(" ".join(tokens(phrase))) is not None
    assert detector.detect(message) is not None, message


def test_typo_search_finds_what_comparing_with_every_phrase_word_finds() -> None:
    """The detector looks typos up in an index of words (`faq.fuzzy`); alone or in the index it
    shares with the FAQ matcher, it must find exactly what comparing the word with every phrase
    word finds, for a letter inserted, deleted, replaced or swapped in any phrase word."""
    import random

    from rapidfuzz import fuzz, process

    from faq.urgent import TYPO_RATIO, UrgentDetector

    detector = UrgentDetector.load()
    rng = random.Random(11)
    letters = "aeiounrstkmhpdvyáčěířšžđăơưаеиоснтрвлкмдпяыь"
    typos = []
    for word in detector._vocabulary:
        for i in rng.sample(range(len(word)), min(len(word), 3)):
            typos.append(word[:i] + word[i + 1 :])
            typos.append(word[:i] + rng.choice(letters) + word[i:])
            typos.append(word[:i] + rng.choice(letters) + word[i + 1 :])
            typos.append(word[:i] + word[i + 1 : i + 2] + word[i] + word[i + 2 :])
    long_words = [w for w in detector.vocabulary if len(w) >= 5]
    shared = UrgentDetector.load()
    # Lent the index of the FAQ's words and its own.
    Understanding(Matcher(load_faq(), shared_words=shared.vocabulary), shared)
    found = 0
    for typo in (t for t in typos if len(t) >= 5):
        everything = process.extract(
            typo, long_words, scorer=fuzz.ratio, score_cutoff=TYPO_RATIO, limit=None
        )
        expected = sorted(((w, ratio) for w, ratio, _ in everything), key=lambda p: (-p[1], p[0]))
        assert detector._typos(typo) == expected, typo
        assert shared._typos(typo) == expected, typo
        found += bool(everything)
    assert found > len(detector._vocabulary)  # most typos are near some phrase word
