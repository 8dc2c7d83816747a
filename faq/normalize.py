"""Text normalisation for matching: how people type, folded into one comparable form.

Two levels:
- `clean` keeps the text readable (Unicode NFC, no invisible or bidi control characters,
  single spaces): what is stored and shown back.
- `tokens` folds it for matching: casefold, no diacritics (Vietnamese, Czech, French and Spanish
  typed without them match), Arabic orthographic variants unified, Cyrillic and Armenian
  transliterated to Latin (Russian typed in Latin letters matches Russian), and a phonetic
  skeleton that merges the usual spellings of one sound (kh/h/x, zh/z, sh/sch, y/j/i, ...).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

# Zero-width, joiner, bidi embedding/override/isolate marks, BOM, soft hyphen, variation selectors.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff]"
)
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")

_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS: Final = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ٲ": "ا",
        "ٳ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ی": "ي",
        "ئ": "ي",
        "ؤ": "و",
        "ک": "ك",
        "گ": "ك",
        "پ": "ب",
        "چ": "ج",
        "ڤ": "ف",
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)
# Leading particles glued to Arabic words: "wa-", "bi-", "li-", "fa-", "ka-" and the article "al-".
_ARABIC_PREFIX = re.compile(r"^(?:وال|بال|فال|كال|لل|ال|و(?=ال)|و|ب(?=ال))")

_LATIN_EXTRA: Final = str.maketrans(
    {"đ": "d", "ð": "d", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ı": "i"}
)

_CYRILLIC: Final = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "e", "ё": "e",
    "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ү": "u",
    "ф": "f", "х": "h", "ц": "c", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "",
    "э": "e", "ю": "iu", "я": "ia",
}  # fmt: skip
_ARMENIAN: Final = {
    "ա": "a", "բ": "b", "գ": "g", "դ": "d", "ե": "e", "զ": "z", "է": "e", "ը": "e", "թ": "t",
    "ժ": "zh", "ի": "i", "լ": "l", "խ": "kh", "ծ": "ts", "կ": "k", "հ": "h", "ձ": "dz",
    "ղ": "gh", "ճ": "ch", "մ": "m", "յ": "y", "ն": "n", "շ": "sh", "ո": "o", "չ": "ch",
    "պ": "p", "ջ": "j", "ռ": "r", "ս": "s", "վ": "v", "տ": "t", "ր": "r", "ց": "ts",
    "փ": "p", "ք": "k", "օ": "o", "ֆ": "f", "և": "ev",
}  # fmt: skip
_TRANSLIT: Final = str.maketrans({**_CYRILLIC, **_ARMENIAN})

# Applied in order to Latin text: many spellings of one sound become one letter.
_SKELETON: Final = (
    ("ու", "u"),
    ("shch", "s"),
    ("sch", "s"),
    ("sh", "s"),
    ("ch", "c"),
    ("zh", "z"),
    ("kh", "h"),
    ("gh", "h"),
    ("x", "h"),
    ("ts", "c"),
    ("tz", "c"),
    ("ph", "f"),
    ("ck", "k"),
    ("q", "k"),
    ("w", "v"),
    ("y", "i"),
    ("j", "i"),
)
_DOUBLE = re.compile(r"([a-z])\1+")


def clean(text: str) -> str:
    """Readable text: NFC, no invisible or bidi control characters, single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=16_384)
def fold(text: str) -> str:
    """Casefolded, compatibility-normalised text without diacritics or Arabic variants."""
    text = unicodedata.normalize("NFKC", clean(text)).casefold()
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)
    decomposed = unicodedata.normalize("NFD", text.translate(_LATIN_EXTRA))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Again after decomposing: "ǽ" is only "æ" once its accent is gone. A spacing accent
    # ("¨" is a space and a combining mark) leaves a space: fold spaces once more.
    folded = unicodedata.normalize("NFC", stripped).translate(_LATIN_EXTRA)
    return _SPACES.sub(" ", folded).strip()


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """The matching form of one folded word."""
    if _is_arabic(word):
        stem = _ARABIC_PREFIX.sub("", word)
        return stem if len(stem) >= 2 else word
    for armenian, latin in _SKELETON[:1]:
        word = word.replace(armenian, latin)
    word = word.translate(_TRANSLIT)
    for spelling, letter in _SKELETON[1:]:
        word = word.replace(spelling, letter)
    return _DOUBLE.sub(r"\1", word)


def words(text: str) -> list[str]:
    """Folded words of `text` (emoji and punctuation dropped)."""
    return list(_words(text))


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    # A turn's steps ask for the words of its message several times: remembered.
    return tuple([w for w in _WORD.findall(fold(text)) if len(w) > 1 or not w.isdigit()])


def tokens(text: str) -> list[str]:
    """Matching forms of the words of `text`, in order (a word of only ъ/ь has none)."""
    return [form for word in _words(text) if (form := skeleton(word))]


def _is_arabic(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff"
