"""Phone numbers as people type them, validated with phonenumbers (Czech numbers need no +420)."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_ALLOWED = re.compile(r"^[0-9+()\-./\s]{6,32}$")


def _ascii_digits(text: str) -> str:
    """Digits of any script as 0-9 (Arabic-Indic ٧٧٧, Persian ۷۷۷, Devanagari...), and
    full-width forms (＋４２０) as their ASCII ones: people type numbers on their own keyboard."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text
    )


def parse_phone(text: str, region: str = "CZ") -> str | None:
    """The number in E.164 form, or None when `text` is not a valid phone number."""
    text = _ascii_digits(text).strip()
    if not _ALLOWED.match(text):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def without_phones(text: str, region: str = "CZ", mask: str = "[phone]") -> str:
    """`text` with every phone number in it (found by phonenumbers, as people type them)
    replaced by `mask`: what is kept for the coordinators holds no one's number."""
    digits = _ascii_digits(text)
    parts, last = [], 0
    for found in phonenumbers.PhoneNumberMatcher(digits, region):
        parts += [digits[last : found.start], mask]
        last = found.end
    return "".join([*parts, digits[last:]]) if parts else text
