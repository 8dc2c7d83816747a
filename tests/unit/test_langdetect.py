"""Short messages are recognised in the ten languages, with or without diacritics."""

from __future__ import annotations

import pytest

from bot.app import Knowledge

CASES = [
    ("Dobrý den, jak si prodloužím vízum?", "cs"),
    ("potrebuji poradit s pojistenim", "cs"),
    ("where can i find a family doctor", "en"),
    ("Какие документы нужны для продления?", "ru"),
    ("gde zapisatsya na termin v ministerstvo", "ru"),
    ("Які документи потрібні для продовження посвідки?", "uk"),
    ("як записати дитину до школи", "uk"),
    ("Tôi cần giấy tờ gì để gia hạn thẻ cư trú?", "vi"),
    ("lam the nao de dang ky bac si gia dinh", "vi"),
    ("ما هي الوثائق المطلوبة لتجديد الإقامة؟", "ar"),
    ("Оршин суух зөвшөөрлөө яаж сунгах вэ?", "mn"),
    ("Quels documents pour renouveler mon titre de séjour ?", "fr"),
    ("comment inscrire mon enfant a l ecole", "fr"),
    ("¿Qué documentos necesito para renovar la residencia?", "es"),
    ("como inscribir a mi hijo en la escuela", "es"),
    ("Ինչ փաստաթղթեր են պետք կացության թույլտվության երկարացման համար", "hy"),
    # A Czech term quoted in another language is one word among the message's own...
    ("what should i write in the box 'účel pobytu' on the form?", "en"),
    ("que hay que poner en 'účel pobytu' en el formulario?", "es"),
    # Latin-letter Ukrainian and Russian keep what tells them apart, a common phrase counts
    # whole, and Czech terms inside another language's message are quoted...
    ("dobryi den", "uk"),
    ("dobryy den", "ru"),
    ("prodlouzeni pobytu", "cs"),
    ("gde zapisatsya na kurz Vitejte v CR, ne znayu", "ru"),
    # A one-word message is a whole answer in the language that says it alone (Spanish "si",
    # not the Czech reflexive "si"; Mongolian "за", OK).
    ("si", "es"),
    ("за", "mn"),
    ("chhaskaca", "hy"),
    # ...and the letters French and Vietnamese share tell neither alone.
    ("xin chào", "vi"),
    ("chào chị", "vi"),
]


@pytest.mark.parametrize(("text", "lang"), CASES)
def test_detects_language_of_short_messages(knowledge: Knowledge, text: str, lang: str) -> None:
    assert knowledge.matcher.detect(text).lang == lang


def test_script_alone_is_confident_for_arabic_and_armenian(knowledge: Knowledge) -> None:
    assert knowledge.matcher.detect("مرحبا").confident
    assert knowledge.matcher.detect("բարեւ").confident


def test_no_letters_falls_back_to_the_hint(knowledge: Knowledge) -> None:
    detection = knowledge.matcher.detect("777 123 456 !!!", hint="vi")
    assert detection.lang == "vi"
    assert not detection.confident
