"""Messenger end to end: the real webhook server and outbox, the fake Graph API (signed events
in Meta's shapes in, Send API calls out), real SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.meta.signature import sign
from flows import payloads as pl
from flows.payloads import Action
from storage.models import OutboxMessage, ProcessedUpdate, User
from tests.helpers.messenger import (
    APP_SECRET,
    ARABIC,
    CASEWORKER,
    UKRAINIAN,
    VERIFY_TOKEN,
    VIETNAMESE,
    Harness,
    running_messenger,
)
from tests.helpers.processes import poradna


def answer_start(h: Harness, topic: str, lang: str) -> str:
    return h.app.knowledge.faq.topics[topic].translation(lang).answer.strip()[:40]


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> None:
    """Until `check` (a look at the database) is true; no fixed sleep decides a result."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError


async def _has_sent(statuses: Callable[[], Awaitable[list[str]]]) -> bool:
    return "sent" in await statuses()


async def count(h: Harness, model: type) -> int:
    async with h.app.storage.begin() as unit:
        return int(await unit.connection.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_vietnamese_person_comes_by_a_referral_link_and_gets_the_answer(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        # m.me/<page>?ref=vi__health-insurance, the first time: "Get started" with the ref.
        status = await people.post(
            people.postback(VIETNAMESE, "/start", ref="vi__health-insurance")
        )
        assert status == 200
        await h.wait_text(VIETNAMESE, answer_start(h, "health-insurance", "vi"))
        # In Vietnamese from the first word: the greeting too.
        assert h.texts(VIETNAMESE)[0].startswith(h.t("vi")("start-greeting")[:20])
        # The answer's buttons are quick replies the person can press.
        payloads = h.fake.payloads(VIETNAMESE)
        assert payloads and all(pl.parse(p) for p in payloads)
        # A question in their own words, raw UTF-8, then escaped: the same answer twice.
        before = len(h.texts(VIETNAMESE))
        question = "bảo hiểm y tế cho người nước ngoài như thế nào?"
        await people.post(people.text(VIETNAMESE, question))
        await people.post(people.text(VIETNAMESE, question), escaped=True)
        await h.fake.wait_for(
            lambda: (
                sum(
                    answer_start(h, "health-insurance", "vi") in t
                    for t in h.texts(VIETNAMESE)[before:]
                )
                >= 2
            )
        )
        # The Send API was only ever asked for what Messenger allows (the fake checks it).
        assert all(status == 200 for path, _, status in h.fake.calls if path.endswith("/messages"))
        # The page's profile: Get started and a persistent menu in every language.
        profile = h.fake.profiles[-1]
        assert profile["get_started"] == {"payload": "/start"}
        assert {m["locale"] for m in profile["persistent_menu"]} >= {"default", "vi_VN", "ar_AR"}


async def test_a_referral_in_an_open_chat_and_the_menu_postback_work(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        await people.post(people.postback(ARABIC, "/start"))
        await h.fake.wait_for(lambda: len(h.fake.payloads(ARABIC)) >= 10)  # ten languages
        await people.post(people.referral(ARABIC, "ar__appointment-oamp"))
        await h.wait_text(ARABIC, answer_start(h, "appointment-oamp", "ar")[:15])
        await people.post(people.postback(ARABIC, "/menu"))
        await h.fake.wait_for(lambda: pl.make(Action.PERSON) in h.fake.payloads(ARABIC))


async def test_a_forged_or_missing_signature_is_refused_with_nothing_stored(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        event = people.text(UKRAINIAN, "Привіт")
        assert await people.post(event, signature="") == 401
        assert await people.post(event, signature=sign(b"other body", APP_SECRET)) == 403
        assert await people.post(event, signature=sign(b"x", "not-the-secret")) == 403
        assert await people.post(event, signature="sha256=") == 403
        assert await count(h, User) == 0
        assert await count(h, ProcessedUpdate) == 0
        assert await count(h, OutboxMessage) == 0
        assert h.fake.sent == []
        # Signed but not JSON: 400, nothing stored either.
        assert await people.post_raw(b"{not json") == 400
        assert await count(h, User) == 0


async def test_the_verification_echoes_the_challenge_only_for_our_token(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h, aiohttp.ClientSession() as session:
        url = h.instances[0].url
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
        async with session.get(url, params=query) as response:
            assert (response.status, await response.text()) == (200, "42")
        async with session.get(url, params={**query, "hub.verify_token": "guess"}) as response:
            assert response.status == 403


async def test_a_redelivered_mid_is_answered_once_and_echoes_reads_deliveries_are_ignored(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        mid = people.mid()
        hello = people.text(UKRAINIAN, "/start", mid=mid)
        await people.post(hello)
        await h.fake.wait_for(lambda: len(h.fake.payloads(UKRAINIAN)) >= 10)
        sent = len(h.fake.sent)
        # Meta delivers again (it did not hear 200 in time), with an echo, a delivery, a read.
        assert (
            await people.post(
                hello,
                people.echo(UKRAINIAN, "Poradna"),
                people.delivery(UKRAINIAN),
                people.read(UKRAINIAN),
            )
            == 200
        )
        marker = people.text(UKRAINIAN, "/help")
        await people.post(marker)
        await h.wait_text(UKRAINIAN, h.t("en")("help-text")[:20])
        # Only /help was answered after the first greeting: the redelivered /start was not.
        greeting = h.t("en")("start-greeting")[:20]
        assert sum(greeting in t for t in h.texts(UKRAINIAN)) == 1
        assert len(h.fake.sent) > sent
        async with h.app.storage.begin() as unit:
            ids = set(await unit.connection.scalars(select(ProcessedUpdate.update_id)))
        assert mid in ids and len(mid) > 120


async def test_several_entries_and_people_in_one_post_are_each_answered(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        status = await people.post(
            entries=[
                [people.postback(VIETNAMESE, "/start", ref="vi")],
                [people.postback(ARABIC, "/start", ref="ar"), people.attachment(ARABIC, "image")],
                [people.postback(UKRAINIAN, "/start", ref="uk")],
            ]
        )
        assert status == 200
        for psid, lang in ((VIETNAMESE, "vi"), (ARABIC, "ar"), (UKRAINIAN, "uk")):
            await h.wait_text(psid, h.t(lang)("start-greeting")[:15])
        # The photo is answered after the greeting, in order, in Arabic: a caseworker can read it.
        await h.wait_text(ARABIC, h.t("ar")("case-media-offer")[:15])
        texts = h.texts(ARABIC)
        greeting = next(i for i, t in enumerate(texts) if h.t("ar")("start-greeting")[:15] in t)
        not_text = next(i for i, t in enumerate(texts) if h.t("ar")("case-media-offer")[:15] in t)
        assert greeting < not_text


async def test_a_613_is_answered_later_in_order(flow_database_url: str) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        h.fake.fail_next(613, times=2)
        await people.post(people.postback(UKRAINIAN, "/start", ref="uk__health-insurance"))
        await h.wait_text(UKRAINIAN, answer_start(h, "health-insurance", "uk"))
        refused = [c for c in h.fake.calls if c[2] != 200 and c[0].endswith("/messages")]
        assert len(refused) == 2
        texts = h.texts(UKRAINIAN)
        # The greeting first, then the answer: the order the person would have had.
        assert h.t("uk")("start-greeting")[:15] in texts[0]
        assert answer_start(h, "health-insurance", "uk") in texts[-1] or any(
            answer_start(h, "health-insurance", "uk") in t for t in texts[1:]
        )
        assert len(texts) == len(set(texts))  # nothing twice


async def test_5xx_and_timeouts_back_off_and_are_delivered(flow_database_url: str) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        h.fake.fail_next(1, times=1, status=500)
        h.fake.fail_next(2, times=1, status=503)
        h.fake.fail_next(1200, times=1, status=200, delay=1.0)  # longer than the 0.5 s timeout
        await people.post(people.postback(VIETNAMESE, "/start", ref="vi"))
        await h.wait_text(VIETNAMESE, h.t("vi")("start-greeting")[:15])
        assert sum(h.t("vi")("start-greeting")[:15] in t for t in h.texts(VIETNAMESE)) == 1


async def test_551_and_190_mark_the_message_failed_and_later_ones_still_go(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        h.fake.fail_next(551)
        await people.post(people.postback(VIETNAMESE, "/start", ref="vi"))
        await h.fake.wait_for(lambda: any(c[2] == 400 for c in h.fake.calls))
        h.fake.fail_next(190, status=401)
        await people.post(people.text(VIETNAMESE, "/help"))
        await h.fake.wait_for(lambda: sum(c[2] != 200 for c in h.fake.calls) >= 2)
        await people.post(people.text(VIETNAMESE, "/help"))
        await h.wait_text(VIETNAMESE, h.t("vi")("help-text")[:15])

        async def statuses() -> list[str]:
            async with h.app.storage.begin() as unit:
                return [m.status for m in await unit.outbox.all() if m.channel == "messenger"]

        # The two refused ones failed for good (not retried); the later ones were sent (the
        # "sent" mark is stored just after Meta answered).
        await eventually(lambda: _has_sent(statuses))
        assert (await statuses()).count("failed") == 2


async def _callback_request(h: Harness, psid: str, lang: str) -> str:
    """From a referral to a stored callback request, by quick replies and the phone quick
    reply; returns the reference."""
    people, fake = h.people, h.fake
    await people.post(people.postback(psid, "/start", ref=lang))
    await fake.wait_for(lambda: pl.make(Action.PERSON) in fake.payloads(psid))
    await people.post(people.quick_reply(psid, pl.make(Action.PERSON)))
    await fake.wait_for(
        lambda: any(
            q.get("content_type") == "user_phone_number" for q in fake.to(psid)[-1].quick_replies
        )
    )
    # The phone quick reply: Meta sends the number as the payload and the text.
    await people.post(people.quick_reply(psid, "+420777123456", "+420777123456"))
    await fake.wait_for(lambda: pl.make(Action.TIME, "morning") in fake.payloads(psid))
    await people.post(people.quick_reply(psid, pl.make(Action.TIME, "morning")))
    await fake.wait_for(
        lambda: (
            pl.make(Action.KEEP_QUESTION) in fake.payloads(psid)
            or h.t(lang)("callback-question")[:15] in fake.texts(psid)[-1]
        )
    )
    if pl.make(Action.KEEP_QUESTION) in fake.payloads(psid):
        await people.post(people.quick_reply(psid, pl.make(Action.KEEP_QUESTION)))
    else:
        await people.post(people.text(psid, "Tôi cần giúp đỡ với một lá thư"))
    consent = pl.yes_no(Action.CONSENT, yes=True)
    await fake.wait_for(lambda: consent in fake.payloads(psid))
    await people.post(people.quick_reply(psid, consent))
    done = await h.wait_text(psid, "R-")
    return "R-" + done.split("R-", 1)[1][:4]


async def test_a_caseworker_answers_inside_the_window_then_with_the_tag_then_not_at_all(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        reference = await _callback_request(h, VIETNAMESE, "vi")
        desk = h.app.desk
        # The desk's announcement says until when the person can be answered on Messenger.
        async with h.app.storage.begin() as unit:
            announced = [
                m.body["text"] for m in await unit.outbox.all() if m.channel != "messenger"
            ]
        assert any("Messenger" in text and reference in text for text in announced)

        assert (await desk.claim("telegram", CASEWORKER, reference)).ok
        outcome = await desk.reply("telegram", CASEWORKER, reference, "Zavolám vám zítra v 10.")
        assert outcome.ok
        h.instances[0].channel.sender.wake()
        await h.wait_text(VIETNAMESE, "Zavolám vám zítra v 10.")
        inside = [s for s in h.fake.to(VIETNAMESE) if "Zavolám" in s.text][-1]
        assert inside.body["messaging_type"] == "RESPONSE" and inside.tag is None

        # Three days later: only with the HUMAN_AGENT tag.
        h.clock.offset = timedelta(days=3)
        await desk.reply("telegram", CASEWORKER, reference, "Ještě jednou: zítra v 10.")
        h.instances[0].channel.sender.wake()
        await h.wait_text(VIETNAMESE, "Ještě jednou")
        tagged = [s for s in h.fake.to(VIETNAMESE) if "Ještě jednou" in s.text][-1]
        assert (tagged.body["messaging_type"], tagged.tag) == ("MESSAGE_TAG", "HUMAN_AGENT")

        # Eight days later: not sent; the desk hears it, with the callback phone.
        h.clock.offset = timedelta(days=8)
        sent = len(h.fake.sent)
        await desk.reply("telegram", CASEWORKER, reference, "Jste tam?")
        h.instances[0].channel.sender.wake()

        async def desk_told() -> list[str]:
            async with h.app.storage.begin() as unit:
                return [
                    m.body["text"]
                    for m in await unit.outbox.all()
                    if m.body.get("key") == "staff-messenger-unreachable"
                ]

        await eventually(desk_told)
        told = (await desk_told())[0]
        assert reference in told and "+420777123456" in told.replace(" ", "")
        assert len(h.fake.sent) == sent
        assert not any("Jste tam?" in t for t in h.texts(VIETNAMESE))


async def test_rendering_respects_the_limits_for_long_answers_and_titles(
    flow_database_url: str,
) -> None:
    async with running_messenger(flow_database_url) as h:
        people = h.people
        await people.post(people.postback(ARABIC, "/start", ref="ar"))
        await h.fake.wait_for(lambda: pl.make(Action.PERSON) in h.fake.payloads(ARABIC))
        # A category's topics: long titles become a numbered list with short quick replies.
        category = next(p for p in h.fake.payloads(ARABIC) if p.startswith("cat:"))
        await people.post(people.quick_reply(ARABIC, category))
        await h.fake.wait_for(lambda: any(p.startswith("topic:") for p in h.fake.payloads(ARABIC)))
        last = h.fake.to(ARABIC)[-1]
        assert all(len(q["title"]) <= 20 for q in last.quick_replies)
        assert len(last.quick_replies) <= 13
        # A forged quick-reply payload is refused politely, in Arabic.
        await people.post(people.quick_reply(ARABIC, "topic:../../etc/passwd"))
        await h.wait_text(ARABIC, h.t("ar")("button-invalid")[:10])


async def test_two_instances_on_one_postgresql_send_each_reply_once() -> None:
    from tests.conftest import _fresh_postgres

    async with running_messenger(await _fresh_postgres(), instances=2) as h:
        people = h.people
        first, second = (i.url for i in h.instances)
        psids = [f"71000000000000{n:02d}" for n in range(8)]
        events = [people.postback(psid, "/start", ref="uk") for psid in psids]
        # Each event to one instance, and delivered again to the other (Meta's at-least-once).
        await asyncio.gather(
            *(people.post(e, url=first if n % 2 else second) for n, e in enumerate(events))
        )
        await asyncio.gather(
            *(people.post(e, url=second if n % 2 else first) for n, e in enumerate(events))
        )
        greeting = h.t("uk")("start-greeting")[:15]
        for psid in psids:
            await h.wait_text(psid, greeting)

        async def all_sent() -> bool:
            async with h.app.storage.begin() as unit:
                outbox = [m for m in await unit.outbox.all() if m.channel == "messenger"]
            return bool(outbox) and all(m.status == "sent" for m in outbox)

        await eventually(all_sent)
        async with h.app.storage.begin() as unit:
            outbox = [m for m in await unit.outbox.all() if m.channel == "messenger"]
        # One turn per person (the redelivery was skipped), and each reply sent once: no
        # text twice to anyone, every stored reply's message id one the fake gave.
        assert len({m.recipient for m in outbox}) == len(psids)
        for psid in psids:
            texts = h.texts(psid)
            assert sum(greeting in t for t in texts) == 1
            assert len(texts) == len(set(texts))
        assert {m.external_id for m in outbox} <= {s.message_id for s in h.fake.sent}


async def test_queue_show_report_and_leaflet_link_know_messenger(
    flow_database_url: str, tmp_path: Path
) -> None:
    async with running_messenger(flow_database_url) as h:
        reference = await _callback_request(h, VIETNAMESE, "vi")
    env = {"DATABASE_URL": flow_database_url}
    shown = poradna("queue", "show", reference, "--json", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    details = json.loads(shown.stdout)
    assert details["channel"] == "messenger"
    assert details["window"]["state"] == "open"
    until = datetime.fromisoformat(details["window"]["until"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
    report = poradna(
        "report", "--from", "2020-01-01", "--to", "2099-12-31", "--format", "json", env=env
    )
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["by_channel"]["messenger"]["callbacks"] == 1
    link = poradna(
        "leaflet-link",
        "--channel",
        "messenger",
        "--page",
        "PoradnaCZ",
        "--lang",
        "vi",
        "--topic",
        "health-insurance",
        "--out",
        str(tmp_path / "qr.png"),
        cwd=tmp_path,
    )
    assert link.returncode == 0, link.stderr
    assert link.stdout.splitlines()[0] == "https://m.me/PoradnaCZ?ref=vi__health-insurance"
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")
    unnamed = poradna("leaflet-link", "--channel", "messenger", cwd=tmp_path)
    assert unnamed.returncode == 2 and "MESSENGER_PAGE_NAME" in unnamed.stderr
