"""Coordinators' tools: deep checks, stale translations, hot reload, gaps, try."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.app import build_app
from bot.faqcli import group_gaps
from bot.reload import ContentWatcher
from faq.calibrate import cross_validate
from faq.loader import CONTENT_DIR, Faq, load_faq
from faq.matcher import Matcher
from faq.quality import deep_findings, outdated, source_hash, stamp
from faq.schema import Topic, Translation
from tests.conftest import make_settings
from tests.helpers.chat import Chat
from tests.helpers.processes import poradna

TOPIC = """\
id: {id}
category: health
links: [https://www.vzp.cz/]
translations:
  en:
    title: {title}
    question: {question}
    variants: [{variants}]
    keywords: [{keywords}]
    answer: |
      {answer}
    reviewed: false
"""


def write_topic(
    folder: Path,
    topic_id: str,
    question: str,
    variants: str,
    keywords: str,
    answer: str = "Ask your insurer.",
) -> Path:
    path = folder / f"{topic_id}.yaml"
    path.write_text(
        TOPIC.format(
            id=topic_id,
            title=topic_id,
            question=question,
            variants=variants,
            keywords=keywords,
            answer=answer,
        ),
        "utf-8",
    )
    return path


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, folder)
    return folder


def test_variant_filed_under_the_wrong_topic_and_twin_topics_are_reported(tmp_path: Path) -> None:
    write_topic(
        tmp_path,
        "dentist",
        "Where do I find a dentist?",
        "tooth ache doctor, dentist emergency, night pharmacy open",
        "dentist, tooth",
    )
    write_topic(
        tmp_path,
        "pharmacy",
        "Where is a pharmacy open at night?",
        "night drugstore, pharmacy open late",
        "pharmacy, drugstore",
    )
    write_topic(
        tmp_path,
        "dentist-again",
        "Where can I find a dentist?",
        "dentist near me",
        "dentist, tooth",
    )
    faq = load_faq(tmp_path, ("en",))
    matcher = Matcher(faq, stopwords={})
    learned = cross_validate(faq, matcher.examples, matcher.stopwords)
    findings = [str(f) for f in deep_findings(faq, matcher, learned)]
    assert any(
        "'night pharmacy open' (en) is answered with topic pharmacy, not its own topic dentist"
        in f
        for f in findings
    )
    assert any(f.startswith(f"{tmp_path / 'dentist.yaml'}:8:") for f in findings)
    assert any(
        "ask almost the same question in en" in f and "dentist-again" in f for f in findings
    )


def test_check_json_table_and_exit_codes(tmp_path: Path, content: Path) -> None:
    result = poradna("faq", "check", "--format", "json")
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["ok"] and data["topics"] == 14
    assert data["errors"] == [] and data["missing_translations"] == {}

    (content / "health-insurance.yaml").write_text(
        (content / "health-insurance.yaml").read_text("utf-8").replace("  hy:\n", "  xx:\n"),
        "utf-8",
    )
    broken = poradna("faq", "check", "--dir", str(content))
    assert broken.returncode == 1
    assert "unknown language code 'xx'" in broken.stdout
    assert "Missing translations" in broken.stdout
    row = next(line for line in broken.stdout.splitlines() if line.startswith("health-insurance"))
    assert row.split()[-1] == "x"  # hy is the last column
    data = json.loads(poradna("faq", "check", "--dir", str(content), "--format", "json").stdout)
    assert not data["ok"] and data["missing_translations"] == {"health-insurance": ["hy"]}
    assert data["errors"][0]["line"] > 0 and data["errors"][0]["column"] > 0


def test_stale_translation_is_flagged_until_stamped(content: Path) -> None:
    assert stamp(content, None, None) == 126
    assert outdated(load_faq(content)) == {}
    path = content / "health-insurance.yaml"
    text = path.read_text("utf-8")
    en_start = text.index("  en:")
    answer_at = text.index("    answer: |\n", en_start) + len("    answer: |\n")
    path.write_text(text[:answer_at] + "      NEW FIRST LINE.\n" + text[answer_at:], "utf-8")
    stale = outdated(load_faq(content))
    assert sorted(stale["health-insurance"]) == sorted(
        ["cs", "ru", "uk", "vi", "ar", "mn", "fr", "es", "hy"]
    )
    result = poradna("faq", "check", "--dir", str(content))
    assert result.returncode == 0
    assert "the vi translation of health-insurance was made from an older en answer" in (
        result.stdout
    )
    assert poradna("faq", "check", "--dir", str(content), "--strict").returncode == 1
    assert stamp(content, "health-insurance", "vi") == 1
    assert "vi" not in outdated(load_faq(content))["health-insurance"]


async def test_outdated_translation_is_served_with_the_newest_english(
    content: Path, flow_database_url: str
) -> None:
    stamp(content, None, None)
    path = content / "health-insurance.yaml"
    text = path.read_text("utf-8")
    answer_at = text.index("    answer: |\n", text.index("  en:")) + len("    answer: |\n")
    path.write_text(
        text[:answer_at] + "      NEW RULES FROM JANUARY.\n" + text[answer_at:], "utf-8"
    )
    app = await build_app(make_settings(flow_database_url, faq_dir=content), migrate=True)
    try:
        chat = Chat(app.engine, client_lang="ru")
        await chat.send("/start ru__health-insurance")
        answer = chat.replies[-1]
        assert answer.lang == "ru" and "NEW RULES" not in answer.text
        newest = chat.button("English")
        assert newest.payload == "src:health-insurance"
        await chat.press_payload(newest.payload)
        assert chat.replies[-1].lang == "en" and "NEW RULES FROM JANUARY" in chat.replies[-1].text
        await chat.send("/start cs__school-kindergarten")  # untouched topics have no button
        assert all(
            b.payload.startswith(("fb:", "cat:", "menu")) for b in chat.replies[-1].flat_buttons
        )
    finally:
        await app.close()


async def test_hot_reload_serves_edits_and_refuses_broken_content(
    content: Path, flow_database_url: str
) -> None:
    app = await build_app(make_settings(flow_database_url, faq_dir=content), migrate=True)
    try:
        watcher = ContentWatcher(app)
        assert not watcher.changed()
        path = content / "school-kindergarten.yaml"
        good = path.read_text("utf-8")
        path.write_text(
            good.replace("title: School and kindergarten", "title: Schools and nurseries"), "utf-8"
        )
        assert watcher.changed()
        result = await watcher.reload()
        assert result.ok
        assert app.engine.faq.topics["school-kindergarten"].title("en") == "Schools and nurseries"

        path.write_text(good.replace("category: family", "category: [broken"), "utf-8")
        result = await watcher.reload()
        assert not result.ok and "school-kindergarten.yaml:" in result.text
        # The last good version keeps being served, and the whole bot keeps answering.
        assert app.engine.faq.topics["school-kindergarten"].title("en") == "Schools and nurseries"
        chat = Chat(app.engine, client_lang="en")
        await chat.send("how do I enrol my child in kindergarten")
        assert "faq-answer" in chat.keys
        async with app.storage.begin() as unit:
            told = [m.body["text"] for m in await unit.outbox.all() if m.channel == "staff"]
        assert any("school-kindergarten.yaml:" in t for t in told)
        assert any(t.startswith("✅") for t in told)
    finally:
        await app.close()


def test_gaps_are_grouped_by_wording_and_language() -> None:
    rows = [
        {"text": "kde koupit levne auto", "lang": "cs", "reason": "no-match", "best_topic": None},
        {"text": "Kde koupím levné auto?", "lang": "cs", "reason": "no-match", "best_topic": None},
        {
            "text": "levne auto kde koupit prosim",
            "lang": "cs",
            "reason": "none-fits",
            "best_topic": None,
        },
        {
            "text": "how to get a driving licence",
            "lang": "en",
            "reason": "no-match",
            "best_topic": None,
        },
        {
            "text": "driving licence exchange",
            "lang": "en",
            "reason": "not-helpful",
            "best_topic": "lost-documents",
        },
    ]
    groups = group_gaps(rows)
    assert groups[0]["lang"] == "cs" and groups[0]["count"] == 3
    assert groups[0]["reasons"] == {"no-match": 2, "none-fits": 1}
    assert sum(g["count"] for g in groups) == 5


def test_gaps_and_try_commands(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"}
    script = "English\nwho won the football match\nfootball match results yesterday\nhello\n"
    assert poradna("run", stdin=script, env=env).returncode == 0
    gaps = json.loads(poradna("faq", "gaps", "--format", "json", env=env).stdout)
    assert gaps[0]["count"] == 2 and gaps[0]["lang"] == "en"
    assert "football" in poradna("faq", "gaps", env=env).stdout
    assert (
        json.loads(
            poradna("faq", "gaps", "--since", "2100-01-01", "--format", "json", env=env).stdout
        )
        == []
    )
    tried = poradna("faq", "try", "zdravotni pojisteni pro cizince")
    assert "health-insurance" in tried.stdout and "decision:   answer" in tried.stdout
    assert "pojisteni" in tried.stdout
    urgent = poradna("faq", "try", "my husband beats me")
    assert "urgent" in urgent.stdout


def test_source_hash_ignores_surrounding_whitespace() -> None:
    assert source_hash("Answer.\n") == source_hash("Answer.")
    tr = Translation(question="Q?", answer="A.", source_hash=source_hash("old"))
    topic = Topic(
        id="t",
        category="health",
        translations={"en": Translation(question="Q?", answer="new"), "cs": tr},
    )
    assert outdated(Faq(topics={"t": topic}, languages=("en", "cs"))) == {"t": ["cs"]}
