"""The Telegram adapter's pure parts: rendering, splitting, mapping, leaflet links."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import Knowledge
from bot.leaflet import LeafletError, leaflet_link, start_payload
from bot.telegram.mappers import client_language
from bot.telegram.render import MAX_MESSAGE, render, split_text, utf16_length
from flows import payloads as pl
from flows.events import Button, Reply
from flows.payloads import Action

ROOT = Path(__file__).resolve().parents[2]


def test_html_is_escaped_and_the_title_is_bold() -> None:
    reply = Reply(
        key="faq-answer",
        text="Bring <b>all</b> papers & 2 photos",
        lang="en",
        title="Docs <script>",
    )
    [message] = render(reply)
    assert message.text == (
        "<b>Docs &lt;script&gt;</b>\n\nBring &lt;b&gt;all&lt;/b&gt; papers &amp; 2 photos"
    )


def test_long_answers_are_split_cleanly_under_the_limit() -> None:
    paragraph = "Slovo " * 120
    text = "\n\n".join(f"{n}. {paragraph}" for n in range(20))
    parts = split_text(text)
    assert len(parts) > 1
    assert all(utf16_length(p) <= MAX_MESSAGE for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )
    assert all(p.split(" ", 1)[0].rstrip(".").isdigit() for p in parts)  # cut between paragraphs
    reply = Reply(
        key="faq-answer", text=text, lang="cs", buttons=((Button("Menu", pl.make(Action.MENU)),),)
    )
    messages = render(reply)
    assert all(len(m.text) <= 4096 for m in messages)
    assert [m.markup is not None for m in messages] == [False] * (len(messages) - 1) + [True]


def test_one_huge_word_is_still_split() -> None:
    assert [len(p) for p in split_text("x" * 9000)] == [4096, 4096, 808]


def test_parts_are_measured_as_telegram_counts_and_never_cut_an_emoji() -> None:
    parts = split_text("😀" * 3000)  # 6,000 UTF-16 units
    assert [utf16_length(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == "😀" * 3000


def test_phone_request_adds_a_share_contact_keyboard() -> None:
    reply = Reply(
        key="callback-phone",
        text="Phone?",
        lang="en",
        request_phone=True,
        phone_label="📱 Share my phone number",
        buttons=((Button("✖", pl.make(Action.CANCEL)),),),
    )
    messages = render(reply)
    assert len(messages) == 2
    keyboard = messages[-1].markup.keyboard  # type: ignore[union-attr]
    assert keyboard[0][0].request_contact is True


def test_every_button_payload_fits_telegram(knowledge: Knowledge) -> None:
    for topic in knowledge.faq.topics:
        assert len(f"topic:{topic}".encode()) <= 64
    assert len(b"rate:R-99999999:5") <= 64


def test_client_language_from_telegram_code() -> None:
    assert client_language("pt-br") == "pt"
    assert client_language("UK") == "uk"
    assert client_language(None) is None


def test_leaflet_links(knowledge: Knowledge) -> None:
    faq = knowledge.faq
    assert leaflet_link("@poradna_bot", "vi", None, faq) == "https://t.me/poradna_bot?start=vi"
    assert (
        leaflet_link("poradna_bot", "ru", "residence-extension-documents", faq)
        == "https://t.me/poradna_bot?start=ru__residence-extension-documents"
    )
    assert start_payload(None, "health-insurance") == "__health-insurance"
    with pytest.raises(LeafletError):
        leaflet_link("poradna_bot", "vi", "no-such-topic", faq)
    with pytest.raises(LeafletError):
        leaflet_link(None, "vi", None, faq)


def test_leaflet_cli_writes_a_qr_png(tmp_path: Path) -> None:
    out = tmp_path / "poster.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "leaflet-link",
            "--lang",
            "vi",
            "--topic",
            "school-kindergarten",
            "--bot",
            "poradna_bot",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    assert "https://t.me/poradna_bot?start=vi__school-kindergarten" in result.stdout
    assert out.read_bytes().startswith(b"\x89PNG")


def test_reply_survives_the_outbox_round_trip() -> None:
    reply = Reply(
        key="k",
        text="t",
        lang="ar",
        rtl=True,
        title="x",
        buttons=((Button("a", pl.make(Action.MENU)), Button("b", pl.make(Action.PERSON))),),
        request_phone=True,
        phone_label="p",
        reply_to_reference="R-0001",
    )
    assert Reply.from_body(json.loads(json.dumps(reply.to_body()))) == reply
