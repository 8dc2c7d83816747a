"""The console's own strings: `locales/console/<lang>.yaml`, Czech and English (STAFF_LANGUAGE;
any other staff language gets the English console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import yaml

from locales import LOCALES_DIR

CONSOLE_DIR: Final = LOCALES_DIR / "console"
CONSOLE_LANGUAGES: Final = ("cs", "en")


@dataclass(frozen=True)
class ConsoleStrings:
    lang: str
    strings: dict[str, str]

    def __call__(self, key: str, **args: object) -> str:
        template = self.strings[key]
        return template.format(**args) if args else template


def load_console_strings(lang: str) -> ConsoleStrings:
    lang = lang if lang in CONSOLE_LANGUAGES else "en"
    raw = yaml.safe_load((CONSOLE_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    raw.pop("_meta", None)
    return ConsoleStrings(lang, {str(k): str(v) for k, v in raw.items()})
