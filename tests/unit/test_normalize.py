"""How people type is folded into one comparable form."""

from __future__ import annotations

import pytest

from faq.normalize import clean, fold, tokens


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("prodlouzeni viza", "Prodloužení víza"),
        ("gia han the cu tru", "Gia hạn thẻ cư trú"),
        ("DANG KY BAO HIEM", "đăng ký bảo hiểm"),
        ("renovation du titre de sejour", "Rénovation du titre de séjour"),
        ("como renovar la residencia", "¿Cómo renovar la residencia?"),
        (
            "kakie dokumenty nuzhny dlya prodleniya vnzh",
            "Какие документы нужны для продления ВНЖ?",
        ),
        ("strakhovka", "страховка"),
        ("straxovka", "страховка"),
        ("yaki dokumenty potribni", "Які документи потрібні"),
        ("oruulah", "оруулах"),
        ("inch pastatxter en petq", "Ինչ փաստաթղթեր են պետք"),
        ("ещё", "еще"),
        ("ما هي الوثائق المطلوبة", "ما هِيَ الوثائقُ المطلوبه"),
        ("الإقامة", "الاقامة"),
        ("أريد تجديد إقامتي", "اريد تجديد اقامتي"),
        ("مستشفى", "مستشفي"),
        ("اقـــامة", "اقامة"),
        ("visa ٢٠٢٦", "visa 2026"),
    ],
)
def test_spellings_fold_to_the_same_tokens(typed: str, written: str) -> None:
    assert tokens(typed) == tokens(written)


def test_punctuation_emoji_and_case_are_ignored() -> None:
    assert tokens("VISA?!! 😊🙏 ... extension") == tokens("visa extension")


def test_invisible_and_bidi_controls_are_removed() -> None:
    assert clean("vi\u200bsa\u202e ext\u00adension\ufeff") == "visa extension"
    assert tokens("\u2066R-0042\u2069") == tokens("R-0042")


def test_compatibility_forms_are_unified() -> None:
    assert fold("ＶＩＳＡ") == "visa"
    assert fold("ﬁle") == "file"


def test_clean_keeps_text_readable() -> None:
    assert clean("  Dobrý   den,\n\tprosím ") == "Dobrý den, prosím"
