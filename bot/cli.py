"""The `poradna` command (also `python -m bot`). The commands are a contract: see the README."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.app import build_app, build_knowledge
from bot.config import Settings
from faq.loader import FaqError, check_faq
from locales import LANGUAGES
from storage.db import SchemaOutdatedError, create_engine, upgrade

logger = logging.getLogger("poradna")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poradna", description="Poradna: a multilingual FAQ and callback chatbot."
    )
    sub = parser.add_subparsers(dest="command")

    sub.add_parser(
        "run", help="run the bot (Telegram when TELEGRAM_BOT_TOKEN is set, else console)"
    )

    ask = sub.add_parser("ask", help="show how a question is answered")
    ask.add_argument("text", nargs="?", help="the question (omit with --batch)")
    ask.add_argument("--lang", choices=LANGUAGES, help="treat the question as this language")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--batch", action="store_true", help="read questions from stdin, one a line")

    faq = sub.add_parser("faq", help="FAQ content tools")
    faq_sub = faq.add_subparsers(dest="faq_command", required=True)
    check = faq_sub.add_parser("check", help="validate the FAQ content")
    check.add_argument("--dir", type=Path, help="content folder (default: FAQ_DIR)")

    queue = sub.add_parser("queue", help="the caseworker queue")
    queue_sub = queue.add_subparsers(dest="queue_command", required=True)
    qlist = queue_sub.add_parser("list", help="list callback requests")
    qlist.add_argument("--status", help="only requests with this status (e.g. new)")
    qlist.add_argument("--json", action="store_true", help="a JSON array")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"poradna: configuration error:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command = args.command or "run"
    try:
        if command == "run":
            return asyncio.run(_run(settings))
        if command == "ask":
            return _ask(settings, args)
        if command == "faq":
            return _faq_check(args.dir or settings.faq_dir)
        if command == "queue":
            return asyncio.run(_queue_list(settings, args))
        if command == "db":
            return asyncio.run(_db_upgrade(settings))
    except FaqError as exc:
        print(f"poradna: the FAQ content is not valid:\n{exc}", file=sys.stderr)
        return 1
    except SchemaOutdatedError as exc:
        print(f"poradna: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


async def _run(settings: Settings) -> int:
    if settings.telegram_bot_token is not None:
        print(
            "poradna: the Telegram adapter is not part of this version yet; unset "
            "TELEGRAM_BOT_TOKEN to chat in the console",
            file=sys.stderr,
        )
        return 2
    from bot.console import client_language, run_console

    app = await build_app(settings)
    try:
        return await run_console(
            app.engine, user=settings.console_user, client_lang=client_language()
        )
    finally:
        await app.close()


def _ask(settings: Settings, args: argparse.Namespace) -> int:
    if args.batch == bool(args.text):
        print("poradna ask: give a question, or --batch to read them from stdin", file=sys.stderr)
        return 2
    knowledge = build_knowledge(settings)
    questions = (line.rstrip("\n") for line in sys.stdin) if args.batch else iter([args.text])
    for question in questions:
        match = knowledge.matcher.match(question, lang=args.lang)
        if args.json:
            print(json.dumps(match.as_dict(), ensure_ascii=False), flush=True)
            continue
        print(f"{match.decision} (lang {match.lang}, score {match.score})")
        if match.topic:
            topic = knowledge.faq.topics[match.topic]
            tr = topic.translation(match.lang)
            print(f"{topic.id}: {tr.question}\n\n{tr.answer}")
        for c in match.candidates:
            print(f"  {c.score:3d}  {c.topic}")
    return 0


def _faq_check(directory: Path) -> int:
    topics, problems = check_faq(directory)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found in {directory}", file=sys.stderr)
        return 1
    print(f"OK: {len(topics)} topics in {directory}")
    return 0


async def _queue_list(settings: Settings, args: argparse.Namespace) -> int:
    from storage.db import create_sessionmaker, ensure_schema
    from storage.repositories import CallbackRepository

    db = create_engine(settings.database_url)
    try:
        await ensure_schema(db, apply=settings.is_sqlite)
        async with create_sessionmaker(db)() as session:
            requests = await CallbackRepository(session).list_requests(status=args.status)
    finally:
        await db.dispose()
    if args.json:
        print(json.dumps([r.as_dict() for r in requests], ensure_ascii=False, indent=2))
        return 0
    if not requests:
        print("The queue is empty.")
        return 0
    print(f"{'reference':<10} {'status':<10} {'lang':<5} {'topic':<30} created")
    for r in requests:
        print(
            f"{r.reference:<10} {r.status:<10} {r.lang:<5} {(r.topic_id or '-'):<30} "
            f"{r.created_at:%Y-%m-%d %H:%M}"
        )
    return 0


async def _db_upgrade(settings: Settings) -> int:
    db = create_engine(settings.database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    print("The database schema is up to date.")
    return 0
