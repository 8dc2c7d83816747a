"""Every UI string exists in all ten languages, with the same placeholders; RTL reads right."""

from __future__ import annotations

import unicodedata

import pytest
import yaml

from bot.app import Knowledge
from faq.schema import CATEGORIES
from locales import FSI, LANGUAGES, LOCALES_DIR, LRI, PDI, RLM, Locales, placeholders

REFERENCE = yaml.safe_load((LOCALES_DIR / "en.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_same_keys_and_placeholders_as_english(lang: str) -> None:
    strings = yaml.safe_load((LOCALES_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    assert set(strings) == set(REFERENCE), set(strings) ^ set(REFERENCE)
    for key, value in REFERENCE.items():
        if key == "_meta":
            continue
        assert isinstance(strings[key], str) and strings[key].strip(), (lang, key)
        assert placeholders(strings[key]) == placeholders(value), (lang, key)
    assert strings["_meta"]["language"] == lang


def test_language_names_in_their_own_script() -> None:
    names = Locales.load().names()
    assert names["ru"] == "Русский"
    assert names["vi"] == "Tiếng Việt"
    assert names["ar"] == "العربية"
    assert names["hy"] == "Հայերեն"
    assert names["mn"] == "Монгол"
    for lang, script in {
        "ru": "CYRILLIC",
        "uk": "CYRILLIC",
        "mn": "CYRILLIC",
        "ar": "ARABIC",
        "hy": "ARMENIAN",
    }.items():
        assert all(unicodedata.name(ch).startswith(script) for ch in names[lang] if ch.isalpha())


def test_every_category_has_a_name() -> None:
    locales = Locales.load()
    for lang in LANGUAGES:
        for category in CATEGORIES:
            assert locales.get(lang)(f"category-{category}")


def test_only_arabic_is_right_to_left() -> None:
    locales = Locales.load()
    assert [lang for lang in LANGUAGES if locales.get(lang).rtl] == ["ar"]


def test_rtl_isolates_codes_numbers_and_links() -> None:
    ar = Locales.load().get("ar")
    text = ar("callback-done", reference="R-0042", time="8–12")
    assert f"{FSI}{LRI}R-0042{PDI}{PDI}" in text or f"{LRI}R-0042{PDI}" in text
    assert all(line.startswith(RLM) for line in text.splitlines() if line.strip())
    laid_out = ar.text("اتصل على 777 123 456 أو زر ipc.gov.cz")
    assert f"{LRI}777 123 456{PDI}" in laid_out
    assert f"{LRI}ipc.gov.cz{PDI}" in laid_out


def test_ltr_languages_are_left_alone() -> None:
    en = Locales.load().get("en")
    assert en("callback-done", reference="R-0042", time="morning").count(LRI) == 0


def _shown(text: str) -> str:
    """`text` as a screen shows it, left to right (the Unicode bidi algorithm, python-bidi),
    without the invisible marks."""
    from bidi import get_display

    return "".join(
        ch for ch in get_display(text) if ch not in "\u200e\u200f\u2066\u2067\u2068\u2069"
    )


def test_arabic_keeps_references_phones_times_and_czech_terms_in_order() -> None:
    ar = Locales.load().get("ar")
    done = ar("callback-done", reference="R-0042", time=ar("callback-time-morning"))
    shown = _shown(done)
    assert "R-0042" in shown and "(8–12)" in shown
    called = _shown(ar("caseworker-message", reference="R-0042", text="777 123 456, 14:30"))
    assert "777 123 456, 14:30" in called
    # A Czech term with diacritics in an Arabic answer is one left-to-right run.
    answer = ar.text("اطلب (překlenovací štítek) من مكتب OAMP في 14:30.")
    assert "(překlenovací štítek)" in _shown(answer)
    assert "OAMP" in _shown(answer) and "14:30" in _shown(answer)


def test_the_shipped_arabic_answers_show_their_czech_terms_whole(knowledge: Knowledge) -> None:
    ar = knowledge.locales.get("ar")
    topic = knowledge.faq.topics["residence-extension-deadline"]
    shown = _shown(ar.text(topic.translations["ar"].answer))
    assert "(překlenovací štítek)" in shown
