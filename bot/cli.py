"""The `poradna` command (also `python -m bot`). The commands are a contract: see the README."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from bot.config import Settings
from bot.knowledge import build_knowledge
from bot.logs import set_up_logging
from faq.loader import FaqError
from locales import LANGUAGES
from storage.errors import SchemaOutdatedError
from storage.states import AppointmentStatus, RequestStatus

# The conversation flows, storage and Telegram are imported by the commands that use them:
# `poradna ask` starts without them.

logger = logging.getLogger("poradna")
REFERENCE_HELP = "the request's reference, like R-0001"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poradna", description="Poradna: a multilingual FAQ and callback chatbot."
    )
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser(
        "run", help="run the bot (Telegram when TELEGRAM_BOT_TOKEN is set, else console)"
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve webhooks on PORT: /telegram, and /messenger when MESSENGER_* are set",
    )

    web = sub.add_parser("web", help="serve the caseworkers' web console (at /desk)")
    web.add_argument("--port", type=int, help="port (default: PORT)")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")

    ask = sub.add_parser("ask", help="show how a question is answered")
    ask.add_argument("text", nargs="?", help="the question (omit with --batch)")
    ask.add_argument("--lang", choices=LANGUAGES, help="treat the question as this language")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--batch", action="store_true", help="read questions from stdin, one a line")
    ask.add_argument(
        "--context", metavar="TOPIC", help="the topic answered just before (a follow-up of it)"
    )

    faq = sub.add_parser("faq", help="FAQ content tools")
    faq_sub = faq.add_subparsers(dest="faq_command", required=True)
    check = faq_sub.add_parser("check", help="validate the FAQ content")
    check.add_argument("--dir", type=Path, help="content folder (default: FAQ_DIR)")
    check.add_argument(
        "--urgent", type=Path, help="urgent-situation phrases file (default: URGENT_FILE)"
    )
    check.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or json"
    )
    check.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    check.add_argument(
        "--examples", type=Path, help="folder of the matcher's examples (default: EXAMPLES_DIR)"
    )
    calibrate = faq_sub.add_parser(
        "calibrate", help="learn when to answer from the content, write CALIBRATION_FILE"
    )
    calibrate.add_argument("--dir", type=Path, help="content folder (default: FAQ_DIR)")
    try_ = faq_sub.add_parser("try", help="how a question would be matched, and why")
    try_.add_argument("text", help="the question, in quotes")
    try_.add_argument("--lang", choices=LANGUAGES, help="treat the question as this language")
    gaps = faq_sub.add_parser("gaps", help="what people asked that the FAQ did not answer")
    gaps.add_argument("--since", type=_date, help="YYYY-MM-DD (default: everything kept)")
    gaps.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or json"
    )
    stamp = faq_sub.add_parser(
        "stamp", help="record that translations match the current English answer"
    )
    stamp.add_argument("--topic", help="only this topic")
    stamp.add_argument("--lang", choices=LANGUAGES, help="only this language")
    stamp.add_argument("--dir", type=Path, help="content folder (default: FAQ_DIR)")

    queue = sub.add_parser("queue", help="the caseworker queue")
    queue_sub = queue.add_subparsers(dest="queue_command", required=True)
    qlist = queue_sub.add_parser("list", help="list callback requests, urgent first")
    qlist.add_argument(
        "--status", choices=[*RequestStatus, *AppointmentStatus], help="only this status"
    )
    qlist.add_argument("--lang", choices=LANGUAGES, help="only requests in this language")
    qlist.add_argument(
        "--kind", choices=("callback", "appointment"), help="only this kind of request"
    )
    qlist.add_argument("--urgent", action="store_true", help="only urgent requests")
    qlist.add_argument("--older-than", type=int, metavar="MINUTES", help="only older requests")
    qlist.add_argument("--json", action="store_true", help="a JSON array")
    qshow = queue_sub.add_parser("show", help="one request with its details")
    qshow.add_argument("reference", help=REFERENCE_HELP)
    qshow.add_argument("--json", action="store_true", help="a JSON object")
    for name, what in (("claim", "take a request"), ("close", "close a request")):
        action = queue_sub.add_parser(name, help=what)
        action.add_argument("reference", help=REFERENCE_HELP)
        action.add_argument("--staff", required=True, help="your caseworker (Telegram) id")
    qconfirm = queue_sub.add_parser("confirm", help="confirm an appointment at a date and time")
    qconfirm.add_argument("reference", help=REFERENCE_HELP)
    qconfirm.add_argument("--at", required=True, help="'YYYY-MM-DD HH:MM', Prague time")
    qconfirm.add_argument("--staff", required=True, help="your caseworker (Telegram) id")
    for name in ("done", "no-show", "cancel"):
        settle = queue_sub.add_parser(name, help=f"mark an appointment {name}")
        settle.add_argument("reference", help=REFERENCE_HELP)
        settle.add_argument("--staff", required=True, help="your caseworker (Telegram) id")
    queue_sub.add_parser("remind", help="send tomorrow's appointment reminders now")
    qreply = queue_sub.add_parser("reply", help="write to the person (through their channel)")
    qreply.add_argument("reference", help=REFERENCE_HELP)
    qreply.add_argument("text", help="the message, in quotes")
    qreply.add_argument("--staff", required=True, help="your caseworker (Telegram) id")

    report = sub.add_parser("report", help="figures for funders")
    report.add_argument("--from", dest="start", required=True, type=_date, help="YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, type=_date, help="YYYY-MM-DD")
    report.add_argument(
        "--format", choices=("md", "json", "csv"), default="md", help="md (default), json or csv"
    )

    privacy = sub.add_parser("privacy", help="personal data")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    export = privacy_sub.add_parser("export", help="a person's data as JSON")
    export.add_argument("--user", required=True, help="their id on the channel")
    export.add_argument(
        "--channel", default="telegram", help="telegram (default), messenger or console"
    )
    privacy_sub.add_parser("purge", help="erase personal data older than RETENTION_DAYS")

    staff = sub.add_parser("staff", help="caseworker accounts (Telegram, web console)")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    sadd = staff_sub.add_parser("add", help="add or update a caseworker")
    sadd.add_argument("telegram_id", nargs="?", help="the caseworker's Telegram user id")
    sadd.add_argument("--name", required=True, help="name shown to colleagues")
    sadd.add_argument("--lang", default="", help="languages spoken, comma-separated (cs,ru)")
    sadd.add_argument("--login", help="a login for the web console")
    sadd.add_argument(
        "--role",
        choices=("caseworker", "coordinator", "admin"),
        default="caseworker",
        help="web console role (caseworker)",
    )
    staff_sub.add_parser("list", help="list caseworkers")
    sremove = staff_sub.add_parser("remove", help="remove a caseworker")
    sremove.add_argument("telegram_id", help="the caseworker's Telegram user id or login")
    spassword = staff_sub.add_parser(
        "password", help="set a web console password, read from stdin"
    )
    spassword.add_argument("login", help="the caseworker's login")

    leaflet = sub.add_parser("leaflet-link", help="a deep link and QR code for posters")
    leaflet.add_argument(
        "--channel",
        choices=("telegram", "messenger"),
        default="telegram",
        help="t.me/<bot>?start=… (default) or m.me/<page>?ref=…",
    )
    leaflet.add_argument("--page", help="Facebook page name (default: MESSENGER_PAGE_NAME)")
    leaflet.add_argument("--lang", choices=LANGUAGES, help="language to pre-select")
    leaflet.add_argument("--topic", help="topic id to open")
    leaflet.add_argument("--bot", help="bot username (default: TELEGRAM_BOT_USERNAME)")
    leaflet.add_argument("--out", type=Path, help="QR code PNG file (default: leaflet-<...>.png)")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations")
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-30") from exc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"poradna: configuration error:\n{exc}", file=sys.stderr)
        return 2
    set_up_logging(settings.log_level, settings.log_format)
    command = args.command or "run"
    try:
        if command == "run":
            return asyncio.run(_run(settings, webhook=bool(getattr(args, "webhook", False))))
        if command == "staff":
            from bot import staffcli

            return asyncio.run(staffcli.staff(settings, args))
        if command == "web":
            return asyncio.run(_web(settings, args.port or settings.port, args.host))
        if command == "leaflet-link":
            return _leaflet(settings, args)
        if command == "ask":
            return _ask(settings, args)
        if command == "faq":
            from bot import faqcli

            return asyncio.run(faqcli.faq(settings, args))
        from bot import staffcli

        if command == "queue":
            return asyncio.run(staffcli.queue(settings, args))
        if command == "report":
            return asyncio.run(staffcli.report(settings, args))
        if command == "privacy":
            return asyncio.run(staffcli.privacy(settings, args))
        if command == "db":
            return asyncio.run(_db_upgrade(settings))
    except FaqError as exc:
        files = ", ".join(sorted({p.path for p in exc.problems}))
        print(
            f"poradna: cannot start, a content file is not valid ({files}):\n{exc}\n"
            "Fix it, then check with `poradna faq check`.",
            file=sys.stderr,
        )
        return 1
    except SchemaOutdatedError as exc:
        print(f"poradna: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


async def _run(settings: Settings, *, webhook: bool) -> int:
    from bot.app import build_app

    app = await build_app(settings)
    try:
        if settings.telegram_bot_token is not None:
            from bot.telegram.factory import run_polling, run_webhook

            if settings.messenger_enabled and not webhook:
                print(
                    "poradna: Messenger is served only by `poradna run --webhook`; "
                    "Telegram polls meanwhile",
                    file=sys.stderr,
                )
            await (run_webhook(app) if webhook else run_polling(app))
            return 0
        if settings.messenger_enabled:
            from bot.meta.factory import run_messenger_only

            await run_messenger_only(app)
            return 0
        if webhook:
            print(
                "poradna: --webhook needs TELEGRAM_BOT_TOKEN or the MESSENGER_* variables",
                file=sys.stderr,
            )
            return 2
        from bot.console import client_language, run_console

        return await run_console(
            app.engine, user=settings.console_user, client_lang=client_language()
        )
    finally:
        await app.close()


async def _web(settings: Settings, port: int, host: str) -> int:
    from bot.app import build_app
    from bot.web import run_web

    app = await build_app(settings)
    try:
        await run_web(app, host, port)
    finally:
        await app.close()
    return 0


def _leaflet(settings: Settings, args: argparse.Namespace) -> int:
    from bot.leaflet import LeafletError, leaflet_link, messenger_link, write_qr

    try:
        knowledge = build_knowledge(settings)
        if args.channel == "messenger":
            page = args.page or settings.messenger_page_name
            link = messenger_link(page, args.lang, args.topic, knowledge.faq)
        else:
            link = leaflet_link(
                args.bot or settings.telegram_bot_username, args.lang, args.topic, knowledge.faq
            )
    except LeafletError as exc:
        print(f"poradna leaflet-link: {exc}", file=sys.stderr)
        return 2
    prefix = "leaflet-messenger" if args.channel == "messenger" else "leaflet"
    out = args.out or Path(f"{prefix}-{args.lang or 'any'}-{args.topic or 'menu'}.png")
    write_qr(link, out)
    print(link)
    print(f"QR code: {out}")
    return 0


def _ask(settings: Settings, args: argparse.Namespace) -> int:
    if args.batch == bool(args.text):
        print("poradna ask: give a question, or --batch to read them from stdin", file=sys.stderr)
        return 2
    knowledge = build_knowledge(settings)
    questions = (line.rstrip("\n") for line in sys.stdin) if args.batch else iter([args.text])
    for question in questions:
        match = knowledge.understanding.read(question, lang=args.lang, context=args.context)
        if args.json:
            print(json.dumps(match.as_dict(), ensure_ascii=False), flush=True)
            continue
        print(f"{match.decision} (lang {match.lang}, score {match.score})")
        if match.topic:
            topic = knowledge.faq.topics[match.topic]
            tr = topic.translation(match.lang)
            short = tr.followups.get(match.followup) if match.followup else None
            answer = short.answer if short else tr.answer
            print(
                f"{topic.id}{f' ({match.followup})' if short else ''}: {tr.question}\n\n{answer}"
            )
            t = knowledge.locales.get(match.lang)
            if topic.links:
                print(f"\n{t('answer-links', links=' '.join(topic.links))}")
            if topic.checked:
                print(t("answer-checked", date=topic.checked.isoformat()))
        for c in match.candidates:
            print(f"  {c.score:3d}  {c.topic}")
    return 0


async def _db_upgrade(settings: Settings) -> int:
    from bot.app import open_storage

    storage = await open_storage(settings, migrate=True)
    await storage.dispose()
    print("The database schema is up to date.")
    return 0
