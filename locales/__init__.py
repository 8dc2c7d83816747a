"""UI strings: one YAML file per language in this folder, loaded once and looked up by key.

`en.yaml` is the reference: every other locale must have the same keys and the same
``{placeholders}`` (a test checks it). Right-to-left languages get their lines marked RTL and
every inserted value isolated, so numbers, links and reference codes keep their order.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

# libyaml's C parser when PyYAML has it: much faster at start-up than the pure-Python one.
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

LANGUAGES: Final = ("cs", "en", "ru", "uk", "vi", "ar", "mn", "fr", "es", "hy")
REFERENCE_LANGUAGE: Final = "en"
LOCALES_DIR: Final = Path(__file__).parent

RLM: Final = "\u200f"
LRI: Final = "\u2066"
FSI: Final = "\u2068"
PDI: Final = "\u2069"

# A left-to-right run inside right-to-left text: Latin words (with their diacritics: Czech
# terms like "překlenovací štítek", Vietnamese names), digits, links, phone numbers, reference
# codes, times, and the brackets and dashes between them ("(8–12)"). Spaces are kept inside
# the run, so "777 123 456" is not shown reversed.
_LATIN: Final = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff0-9"
_LTR_RUN = re.compile(
    f"[{_LATIN}+(][{_LATIN}\u0300-\u036f.,\\-\u2013\u2014/:@+_%?=&#()'’ ]*"
    f"[{_LATIN}\u0300-\u036f)/]|[{_LATIN}]"
)


def isolate_ltr(text: str) -> str:
    """Mark every line of right-to-left text as RTL and isolate the left-to-right runs in it."""
    lines = []
    for line in text.split("\n"):
        if not line.strip():
            lines.append(line)
            continue
        body = _LTR_RUN.sub(lambda m: f"{LRI}{m.group(0)}{PDI}", line)
        lines.append(f"{RLM}{body}")
    return "\n".join(lines)


def placeholders(template: str) -> set[str]:
    """The named ``{placeholders}`` of a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class LocaleError(ValueError):
    """A locale file is missing, malformed, or disagrees with the reference language."""


@dataclass(frozen=True)
class Translator:
    """The strings of one language."""

    lang: str
    strings: dict[str, str]
    rtl: bool
    # The reference language's strings: a key missing in a translation is shown in English
    # rather than failing (a test keeps every locale complete).
    fallback: dict[str, str] | None = None

    def __call__(self, key: str, **args: object) -> str:
        template = self.strings.get(key)
        if template is None:
            template = (self.fallback or {})[key]
        if self.rtl:
            values = {name: f"{FSI}{value}{PDI}" for name, value in args.items()}
            return isolate_ltr(template.format(**values)) if values else isolate_ltr(template)
        return template.format(**args) if args else template

    def text(self, text: str) -> str:
        """Lay out content text (an FAQ answer) for this language's direction."""
        return isolate_ltr(text) if self.rtl else text

    @property
    def name(self) -> str:
        return self.strings["language-name"]


class Locales:
    """All UI languages, loaded from ``<lang>.yaml`` files."""

    def __init__(self, translators: dict[str, Translator]) -> None:
        self._translators = translators

    @classmethod
    def load(
        cls, directory: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES
    ) -> Locales:
        translators: dict[str, Translator] = {}
        for lang in (REFERENCE_LANGUAGE, *[x for x in languages if x != REFERENCE_LANGUAGE]):
            path = directory / f"{lang}.yaml"
            try:
                raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
            except (OSError, yaml.YAMLError) as exc:
                raise LocaleError(f"{path}: cannot read locale: {exc}") from exc
            if not isinstance(raw, dict):
                raise LocaleError(f"{path}: a locale file must be a mapping of key: text")
            meta = raw.pop("_meta", {}) or {}
            strings = {str(k): str(v) for k, v in raw.items()}
            reference = translators.get(REFERENCE_LANGUAGE)
            translators[lang] = Translator(
                lang=lang,
                strings=strings,
                rtl=meta.get("direction") == "rtl",
                fallback=reference.strings if reference else None,
            )
        return cls({lang: translators[lang] for lang in languages})

    def get(self, lang: str | None) -> Translator:
        """The translator for `lang`, or the reference language when it is not supported."""
        return self._translators.get(lang or "", self._translators[REFERENCE_LANGUAGE])

    def __contains__(self, lang: object) -> bool:
        return lang in self._translators

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._translators)

    def names(self) -> dict[str, str]:
        """Each language's name in its own script."""
        return {lang: t.name for lang, t in self._translators.items()}
