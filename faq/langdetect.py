"""Language detection for short chat messages, using the FAQ's own vocabulary as evidence.

Generic detectors guess poorly on three-word messages typed without diacritics or in the wrong
alphabet. Here the script decides first (Arabic, Armenian, Cyrillic, Latin), letters that only one
of our languages uses decide next (ř, ơ, ñ, ї, ө ...), and then every word votes for the languages
whose FAQ text and stopwords contain it: a word known in one language only counts fully, a word
shared by three counts a third.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from faq.normalize import clean, skeleton, words

# Languages that users write in each script (Latin includes transliterated Russian, Ukrainian,
# Mongolian and Armenian).
SCRIPT_LANGUAGES: Final = {
    "arabic": ("ar",),
    "armenian": ("hy",),
    "cyrillic": ("ru", "uk", "mn"),
    "latin": ("en", "cs", "vi", "fr", "es", "ru", "uk", "mn", "hy", "ar"),
}
# Arabic in Latin letters ("Arabizi") writes the sounds Latin lacks with digits: 3 (ع), 5 (خ),
# 7 (ح), 9 (ق) inside words ("ma3a", "s5ana", "a7jez") or in front ("3ndi"). Not "3rd", "5th".
_ARABIZI = re.compile(r"\b(?:[a-z]+[3579][a-z]+|[3579](?!rd\b|th\b|st\b|nd\b)[a-z]{2,})\b")
# A word as typed (letters, digits, apostrophes inside), before any folding.
_RAW_WORD = re.compile(r"\w+(?:['’ʼ]\w+)*")
_SCRIPT_DEFAULT: Final = {"arabic": "ar", "armenian": "hy", "cyrillic": "ru", "latin": "en"}

# Letters that only these of our languages write (è, à, ê: French and Vietnamese).
_SIGNATURE: Final = (
    (("vi",), set("ăơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĩũõã")),
    (("uk",), set("іїєґ")),
    (("mn",), set("өү")),
    (("cs",), set("ěřůťďňčšž")),
    (("es",), set("ñ¿¡")),
    (("fr",), set("çœëîïû")),
    (("fr", "vi"), set("èêùâà")),
)
_MARKS: Final = frozenset().union(*(letters for _, letters in _SIGNATURE))
# A word with such letters votes this much for their languages (a word known in one language
# votes 1): a Czech term quoted in an English message ("what goes in 'účel pobytu'?") is one
# word among the message's own.
SIGNATURE_VOTE: Final = 3.0
# A common phrase of a language found whole in a message ("dobryi den": Ukrainian, where each
# word alone is also Russian or Czech) votes this much besides its words.
PHRASE_VOTE: Final = 1.0
# The language whose terms the others' FAQ text quotes (office names, forms, "účel pobytu").
QUOTED_LANGUAGE: Final = "cs"
# When another language has this much evidence too, the Czech evidence counts at QUOTED_WEIGHT.
MIXED_WITH: Final = 2.0
QUOTED_WEIGHT: Final = 0.5


@dataclass(frozen=True)
class Detection:
    """A detected language; `confident` is false when the evidence is thin or split."""

    lang: str
    confident: bool


@lru_cache(maxsize=1024)
def script_of(text: str) -> str | None:
    """The dominant script of the letters in `text` (a turn asks it of its message several
    times: remembered for the last ones)."""
    counts: Counter[str] = Counter(s for s in map(_script_of_char, text) if s is not None)
    return counts.most_common(1)[0][0] if counts else None


@lru_cache(maxsize=8192)
def _script_of_char(ch: str) -> str | None:
    """The script of one letter ("latin"...), None for other characters and other scripts."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    for script in ("ARABIC", "ARMENIAN", "CYRILLIC", "LATIN"):
        if name.startswith(script):
            return script.lower()
    return None


class LanguageDetector:
    """Detects which of the supported languages a message is written in."""

    def __init__(
        self,
        vocabulary: dict[str, set[str]],
        spelled: dict[str, set[str]] | None = None,
        *,
        chat: dict[str, set[str]] | None = None,
        phrases: dict[str, list[str]] | None = None,
    ) -> None:
        """`vocabulary`: matching forms (`skeleton`) per language; `spelled`: the same words
        as written (folded), which keep what transliteration merges (добрий / добрый, dobryi /
        dobryy); `chat`: the words of these (folded, as written and as matching forms) that
        people write around questions (the examples and the language words), not taken from
        the FAQ's own text; `phrases`: common multi-word expressions per language ("dobryi
        den"), each voting for its languages as a whole."""
        chat = chat or {}
        self._vocabulary = vocabulary
        self._languages_of = _languages_of_words(vocabulary, chat)
        self._spelled_in = _languages_of_words(spelled or {}, chat)
        self._phrases: dict[tuple[str, ...], set[str]] = {}
        # A one-word message that is a common word of a language ("si", "за") votes for it as a
        # phrase: Spanish "si" is a whole answer, Czech "si" never stands alone.
        self._alone: dict[str, set[str]] = {}
        for lang, texts in (phrases or {}).items():
            for text in texts:
                folded = tuple(words(text))
                if len(folded) > 1:
                    self._phrases.setdefault(folded, set()).add(lang)
                elif folded:
                    self._alone.setdefault(folded[0], set()).add(lang)
        self._phrase_lengths = sorted({len(p) for p in self._phrases}, reverse=True)

    def detect(self, text: str, hint: str | None = None) -> Detection:
        """Detect the language of `text`; `hint` (the user's language) breaks ties."""
        text = clean(text)
        script = script_of(text)
        if script is None:
            return Detection(hint or "en", confident=False)
        allowed = [lang for lang in SCRIPT_LANGUAGES[script] if lang in self._vocabulary]
        if len(allowed) == 1:
            return Detection(allowed[0], confident=True)
        lowered = text.casefold()
        if "ar" in allowed and _ARABIZI.search(lowered):
            return Detection("ar", confident=True)
        scores: dict[str, float] = defaultdict(float)
        if not _MARKS.isdisjoint(lowered):
            # Words with marked letters vote for their languages, before folding takes the
            # diacritics away; the others vote by their words below.
            def vote(found: re.Match[str]) -> str:
                marked = _marked(found.group(), allowed)
                for lang in marked:
                    scores[lang] += SIGNATURE_VOTE / len(marked)
                return " " if marked else found.group()

            text = _RAW_WORD.sub(vote, lowered)
        folded = words(text)
        for word in folded:
            # A word known as written decides among the languages that write it so; else its
            # matching form does.
            langs = self._spelled_in.get(word, set()).intersection(allowed)
            if not langs:
                langs = self._languages_of.get(skeleton(word), set()).intersection(allowed)
            for lang in langs:
                scores[lang] += 1 / len(langs)
        for phrase_langs in self._phrases_in(folded):
            langs = phrase_langs.intersection(allowed)
            for lang in langs:
                scores[lang] += PHRASE_VOTE / len(langs)
        if scores.get(QUOTED_LANGUAGE) and any(
            lang != QUOTED_LANGUAGE and score >= MIXED_WITH for lang, score in scores.items()
        ):
            # Czech words among words of another language are terms it quotes: a migrant
            # writes "kurz Vitejte v CR" into Russian; Czech writers rarely mix the reverse.
            scores[QUOTED_LANGUAGE] *= QUOTED_WEIGHT
        # Ties go to the language listed first for the script, never to set order (which
        # changes from one process to the next).
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], allowed.index(kv[0])))
        if not ranked:
            fallback = hint if hint in allowed else _SCRIPT_DEFAULT[script]
            return Detection(fallback, confident=False)
        best, best_score = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if hint is not None and hint in scores and scores[hint] >= best_score:
            best = hint
        confident = best_score >= 1 and best_score >= 1.5 * second
        return Detection(best, confident=confident)

    def _phrases_in(self, folded: list[str]) -> list[set[str]]:
        """The languages of each common phrase among the words `folded`, longest first (a
        one-word message is a phrase of one word)."""
        if len(folded) == 1:
            alone = self._alone.get(folded[0])
            return [alone] if alone else []
        found = []
        for length in self._phrase_lengths:
            for start in range(len(folded) - length + 1):
                langs = self._phrases.get(tuple(folded[start : start + length]))
                if langs:
                    found.append(langs)
        return found


def _languages_of_words(
    vocabulary: dict[str, set[str]], chat: dict[str, set[str]]
) -> dict[str, set[str]]:
    """word: the languages that have it. A Czech word of the FAQ that another language's FAQ
    text quotes ("pobytu", "vitejte") is Czech only, unless people write it in that language
    too (it is among that language's `chat` words: "den" is Czech and Russian "день")."""
    languages_of: dict[str, set[str]] = {}
    for lang, vocab in vocabulary.items():
        for token in vocab:
            languages_of.setdefault(token, set()).add(lang)
    for token in vocabulary.get(QUOTED_LANGUAGE, ()):
        langs = languages_of[token]
        if len(langs) > 1:
            languages_of[token] = {
                lang for lang in langs if lang == QUOTED_LANGUAGE or token in chat.get(lang, ())
            }
    return languages_of


def _marked(word: str, allowed: list[str]) -> tuple[str, ...]:
    """The allowed languages that `word`'s letters belong to only (`_SIGNATURE`), if any."""
    for langs, letters in _SIGNATURE:
        if not letters.isdisjoint(word):
            found = tuple(lang for lang in langs if lang in allowed)
            if found:
                return found
    return ()
