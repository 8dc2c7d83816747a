"""The web console's strings exist in Czech and English with the same placeholders."""

from __future__ import annotations

import yaml

from bot.web.strings import CONSOLE_DIR, load_console_strings
from locales import placeholders


def test_czech_and_english_console_strings_match() -> None:
    cs = yaml.safe_load((CONSOLE_DIR / "cs.yaml").read_text(encoding="utf-8"))
    en = yaml.safe_load((CONSOLE_DIR / "en.yaml").read_text(encoding="utf-8"))
    assert set(cs) == set(en), set(cs) ^ set(en)
    for key, value in en.items():
        if key != "_meta":
            assert placeholders(cs[key]) == placeholders(value), key


def test_other_staff_languages_get_the_english_console() -> None:
    assert load_console_strings("ru").lang == "en"
    assert load_console_strings("cs")("nav-queue") == "Fronta"


def test_the_default_canned_replies_are_in_every_language_with_the_faqs_facts() -> None:
    """Each default reply has a version in all ten languages; the documents checklist lists,
    in each language, exactly what the FAQ's answer on extending a permit lists."""
    from bot.web.canned import OFFICES, load_defaults
    from faq.loader import load_faq
    from locales import LANGUAGES

    defaults = load_defaults()
    names = {c.name for c in defaults}
    assert names == {
        "documents-checklist",
        "call-tomorrow",
        "photo-of-letter",
        "bring-passport",
        "office-hours",
    }
    for name in names:
        versions = {c.lang: c for c in defaults if c.name == name}
        assert set(versions) == set(LANGUAGES), name
        for lang, c in versions.items():
            assert c.title and len(c.title) <= 80 and c.text and len(c.text) <= 3500
            assert placeholders(c.text) <= {OFFICES.strip("{}")}, (name, lang)
    texts = {c.lang: c.text for c in defaults if c.name == "documents-checklist"}
    topic = load_faq().topics["residence-extension-documents"]
    for lang in LANGUAGES:
        answer = topic.translations[lang].answer
        listed = [line for line in answer.splitlines() if line.startswith("- ")]
        assert listed and [line for line in texts[lang].splitlines() if line.startswith("- ")] == (
            listed
        ), lang
    assert all("{offices}" in c.text for c in defaults if c.name == "office-hours")
