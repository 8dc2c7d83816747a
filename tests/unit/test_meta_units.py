"""The Meta module's pieces without a server: the signature, Meta's error codes, the rendering
within Messenger's limits, the webhook events' shapes, the messaging window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.meta.graph import (
    GraphOutsideWindow,
    GraphRefused,
    GraphThrottled,
    GraphUnavailable,
    classify,
)
from bot.meta.mappers import events_of
from bot.meta.render import MAX_QUICK_REPLIES, MAX_TEXT, MAX_TITLE, render
from bot.meta.signature import is_valid, sign
from flows import payloads as pl
from flows.events import Button, Reply
from flows.payloads import Action
from flows.window import WindowState, window

SECRET = "s3cret"


def test_the_signature_covers_the_exact_raw_bytes() -> None:
    raw = '{"text": "Xin chào – مرحبا – Привіт"}'.encode()
    assert is_valid(raw, sign(raw, SECRET), SECRET)
    escaped = b'{"text": "Xin ch\\u00e0o"}'
    assert not is_valid(escaped, sign('{"text": "Xin chào"}'.encode(), SECRET), SECRET)
    assert not is_valid(raw, None, SECRET)
    assert not is_valid(raw, sign(raw, "other"), SECRET)
    assert not is_valid(raw, sign(raw, SECRET).removeprefix("sha256="), SECRET)


def _error(code: int, subcode: int | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": "x", "type": "OAuthException"}
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}


def test_meta_error_codes_decide_what_the_outbox_does() -> None:
    assert isinstance(classify(400, _error(613)), GraphThrottled)
    assert isinstance(classify(400, _error(4)), GraphThrottled)
    assert isinstance(classify(429, None), GraphThrottled)
    assert isinstance(classify(400, _error(551)), GraphRefused)
    assert isinstance(classify(401, _error(190)), GraphRefused)
    assert isinstance(classify(400, _error(100)), GraphRefused)
    assert isinstance(classify(500, _error(1)), GraphUnavailable)
    assert isinstance(classify(502, None), GraphUnavailable)
    assert isinstance(classify(400, _error(1200)), GraphUnavailable)
    assert isinstance(classify(400, _error(10, 2018278)), GraphOutsideWindow)


def test_a_long_answer_is_split_between_paragraphs_under_2000_characters() -> None:
    paragraphs = [f"Đoạn văn số {n}. " * 30 for n in range(12)]
    reply = Reply(key="faq-answer", text="\n\n".join(paragraphs), lang="vi", title="Bảo hiểm")
    messages = render(reply)
    assert len(messages) > 1
    assert all(len(m["text"]) <= MAX_TEXT for m in messages)
    assert messages[0]["text"].startswith("Bảo hiểm\n\n")
    # Cut between paragraphs: every part ends where a paragraph ends.
    assert all(m["text"].rstrip().endswith(".") for m in messages)
    assert "".join(m["text"] for m in messages).count("Đoạn văn") == 12 * 30


def test_long_titles_become_a_numbered_list_with_short_quick_replies() -> None:
    buttons = (
        (Button("Documents for extending a residence permit", pl.make(Action.TOPIC, "a")),),
        (Button("☰ Menu", pl.make(Action.MENU)),),
    )
    message = render(Reply(key="x", text="Pick one:", lang="en", buttons=buttons))[-1]
    assert "1. Documents for extending a residence permit" in message["text"]
    assert "2. ☰ Menu" in message["text"]
    titles = [q["title"] for q in message["quick_replies"]]
    assert all(len(t) <= MAX_TITLE for t in titles)
    assert titles[0].startswith("1. Documents")
    assert [q["payload"] for q in message["quick_replies"]] == [
        pl.make(Action.TOPIC, "a"),
        pl.make(Action.MENU),
    ]


def test_short_labels_stay_quick_replies_and_never_more_than_13() -> None:
    buttons = tuple((Button(f"L{n}", pl.make(Action.LANG, f"x{n}")),) for n in range(20))
    message = render(Reply(key="x", text="…", lang="en", buttons=buttons))[-1]
    assert len(message["quick_replies"]) == MAX_QUICK_REPLIES
    assert "1. L0" not in message["text"]


def test_a_phone_request_offers_the_phone_quick_reply_first() -> None:
    cancel = ((Button("✖ Cancel", pl.make(Action.CANCEL)),),)
    reply = Reply(
        key="callback-phone", text="Your phone?", lang="en", buttons=cancel, request_phone=True
    )
    quick = render(reply)[-1]["quick_replies"]
    assert quick[0] == {"content_type": "user_phone_number"}
    assert quick[1]["payload"] == pl.make(Action.CANCEL)


def _body(*events: dict[str, object]) -> dict[str, object]:
    return {"object": "page", "entry": [{"id": "1", "messaging": list(events)}]}


def test_webhook_events_in_metas_shapes() -> None:
    base = {"sender": {"id": "42"}, "recipient": {"id": "1"}, "timestamp": 1}
    found = events_of(
        _body(
            {**base, "message": {"mid": "m_1", "text": "Привіт"}},
            {**base, "message": {"mid": "m_2", "text": "x", "quick_reply": {"payload": "menu"}}},
            {
                **base,
                "message": {
                    "mid": "m_3",
                    "text": "+420 777 123 456",
                    "quick_reply": {"payload": "+420 777 123 456"},
                },
            },
            {
                **base,
                "postback": {
                    "mid": "m_4",
                    "payload": "/start",
                    "referral": {"ref": "vi__health-insurance"},
                },
            },
            {**base, "referral": {"ref": "ar", "source": "SHORTLINK"}},
            {**base, "message": {"mid": "m_5", "attachments": [{"type": "audio"}]}},
            {**base, "message": {"mid": "m_6", "is_echo": True, "text": "ours"}},
            {**base, "delivery": {"watermark": 1}},
            {**base, "read": {"watermark": 1}},
            {**base, "postback": {"mid": "m_7", "payload": "/menu"}},
        )
    )
    kinds = [
        (e.inbound.kind, e.inbound.text or e.inbound.payload or e.inbound.phone) for e in found
    ]
    assert kinds == [
        ("text", "Привіт"),
        ("button", "menu"),
        ("contact", "+420 777 123 456"),
        ("text", "/start vi__health-insurance"),
        ("text", "/start ar"),
        ("voice", None),
        ("text", "/menu"),
    ]
    assert [e.inbound.update_id for e in found][:4] == ["m_1", "m_2", "m_3", "m_4"]
    assert all(e.sender == "42" and e.inbound.channel == "messenger" for e in found)
    assert events_of({"object": "instagram", "entry": []}) == []
    assert events_of(["not", "a", "dict"]) == []


def test_the_window_normal_then_tagged_then_closed() -> None:
    seen = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert window(seen, seen + timedelta(hours=23), 7).state is WindowState.OPEN
    tagged = window(seen, seen + timedelta(hours=25), 7)
    assert tagged.state is WindowState.HUMAN_AGENT and tagged.until == seen + timedelta(days=7)
    assert window(seen, seen + timedelta(days=7, minutes=1), 7).state is WindowState.CLOSED
    assert window(seen, seen + timedelta(hours=25), 0).state is WindowState.CLOSED
    assert window(None, seen, 7).state is WindowState.CLOSED
