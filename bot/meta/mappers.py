"""Messenger webhook events as the engine's inbound events (and nothing else).

Meta posts ``{"object": "page", "entry": [{"messaging": [event, …]}, …]}``, several entries and
events in one request. An event is a message (text, a quick reply, attachments), a postback (a
button of the persistent menu or "Get started", with a referral when the person came by an
``m.me/<page>?ref=…`` link) or a referral alone (a person already in the chat opened such a
link); echoes of the page's own messages, deliveries and reads are not the person's doing and
are skipped. Each event carries the id it is processed once by: the message's ``mid``, the
postback's ``mid``, or for a referral the person and the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from bot.meta import CHANNEL
from flows import payloads
from flows.events import Inbound, InputKind

# The "Get started" button's payload, and the persistent menu's: typed commands.
GET_STARTED: Final = "/start"
_PHONE: Final = re.compile(r"^\+?[\d\s().-]{6,}$")
_ATTACHMENT_KINDS: Final[dict[str, InputKind]] = {
    "image": "photo",
    "audio": "voice",
    "video": "video",
    "file": "document",
    "location": "location",
}


@dataclass(frozen=True)
class MessengerEvent:
    sender: str
    inbound: Inbound


def events_of(body: Any) -> list[MessengerEvent]:
    """The person's events in a webhook request, in the order Meta sent them."""
    if not isinstance(body, dict) or body.get("object") != "page":
        return []
    found: list[MessengerEvent] = []
    for entry in body.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for item in entry.get("messaging") or []:
            event = to_event(item) if isinstance(item, dict) else None
            if event is not None:
                found.append(event)
    return found


def to_event(item: dict[str, Any]) -> MessengerEvent | None:
    """One messaging event; None for what is not the person's doing (or not understood)."""
    sender = (item.get("sender") or {}).get("id")
    if not isinstance(sender, str | int) or not str(sender):
        return None
    psid = str(sender)
    inbound: Inbound | None = None
    if isinstance(item.get("message"), dict):
        inbound = _message(psid, item["message"])
    elif isinstance(item.get("postback"), dict):
        inbound = _postback(psid, item["postback"], item.get("timestamp"))
    elif isinstance(item.get("referral"), dict):
        ref = _ref(item["referral"])
        inbound = _start(psid, ref, f"ref:{psid}:{item.get('timestamp')}")
    return MessengerEvent(psid, inbound) if inbound is not None else None


def _message(psid: str, message: dict[str, Any]) -> Inbound | None:
    if message.get("is_echo"):
        return None
    mid = str(message.get("mid") or "") or None
    quick = message.get("quick_reply")
    text = message.get("text")
    if isinstance(quick, dict) and isinstance(quick.get("payload"), str):
        return _quick_reply(psid, quick["payload"], mid)
    if isinstance(text, str):
        return Inbound(channel=CHANNEL, user=psid, kind="text", text=text, update_id=mid)
    return Inbound(channel=CHANNEL, user=psid, kind=_attachment_kind(message), update_id=mid)


def _quick_reply(psid: str, payload: str, mid: str | None) -> Inbound:
    """A quick reply: one of the bot's buttons, or the person's phone number offered by the
    phone quick reply (its payload is the number itself). Anything else is a button press
    that the flows refuse as forged, as on Telegram."""
    try:
        payloads.parse(payload)
    except payloads.ForgedPayloadError:
        if _PHONE.match(payload):
            return Inbound(
                channel=CHANNEL, user=psid, kind="contact", phone=payload, update_id=mid
            )
    return Inbound(channel=CHANNEL, user=psid, kind="button", payload=payload, update_id=mid)


def _postback(psid: str, postback: dict[str, Any], timestamp: Any) -> Inbound:
    mid = str(postback.get("mid") or f"postback:{psid}:{timestamp}")
    payload = str(postback.get("payload") or "")
    referral = postback.get("referral")
    if payload == GET_STARTED or isinstance(referral, dict):
        return _start(psid, _ref(referral) if isinstance(referral, dict) else "", mid)
    if payload.startswith("/"):  # the persistent menu's commands
        return Inbound(channel=CHANNEL, user=psid, kind="text", text=payload, update_id=mid)
    return Inbound(channel=CHANNEL, user=psid, kind="button", payload=payload, update_id=mid)


def _ref(referral: dict[str, Any]) -> str:
    ref = referral.get("ref")
    return ref if isinstance(ref, str) else ""


def _start(psid: str, ref: str, event_id: str) -> Inbound:
    """``m.me/<page>?ref=vi__health-insurance`` works as ``t.me/<bot>?start=…``: /start with
    the ref, which picks the language and the topic (an unknown one is ignored)."""
    text = f"{GET_STARTED} {ref.split()[0]}" if ref.strip() else GET_STARTED
    return Inbound(channel=CHANNEL, user=psid, kind="text", text=text, update_id=event_id)


def _attachment_kind(message: dict[str, Any]) -> InputKind:
    if message.get("sticker_id"):
        return "sticker"
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            return _ATTACHMENT_KINDS.get(str(attachment.get("type")), "other")
    return "other"
