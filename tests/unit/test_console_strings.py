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
