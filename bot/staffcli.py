"""`poradna queue`, `poradna report` and `poradna privacy`: the desk for staff without Telegram."""

from __future__ import annotations

import csv
import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.app import build_app, storage_for
from bot.telegram import CHANNEL as TELEGRAM
from flows.window import WINDOWED, window
from storage.models import utcnow
from storage.reports import Period, to_markdown, to_rows
from storage.states import AppointmentStatus

if TYPE_CHECKING:
    import argparse

    from bot.config import Settings
    from storage.dto import AppointmentDto, CallbackDto
    from storage.unit import Unit


async def queue(settings: Settings, args: argparse.Namespace) -> int:
    if args.queue_command in (
        "claim",
        "reply",
        "close",
        "confirm",
        "done",
        "no-show",
        "cancel",
        "remind",
    ):
        return await _desk_action(settings, args)
    async with storage_for(settings) as storage, storage.begin() as unit:
        callbacks = await unit.requests.list_requests()
        appointments = await unit.appointments.list_appointments()
        if args.queue_command == "show":
            shown = next((r for r in callbacks if r.reference == args.reference), None)
            reach = await _reach(unit, shown, settings) if shown else {}
    if args.queue_command == "show":
        for r in callbacks:
            if r.reference == args.reference:
                return _show(r, as_json=args.json, reach=reach)
        for a in appointments:
            if a.reference == args.reference:
                return _print({**a.as_dict(), "phone": a.phone}, as_json=args.json)
        print(f"poradna queue: there is no request {args.reference}", file=sys.stderr)
        return 1
    rows: list[CallbackDto | AppointmentDto] = [
        r for r in callbacks if args.kind in (None, "callback") and _selected(r, args)
    ]
    rows += [a for a in appointments if args.kind in (None, "appointment") and _selected(a, args)]
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("The queue is empty.")
        return 0
    print(f"{'reference':<10} {'status':<20} {'urgent':<7} {'lang':<5} {'about':<30} created")
    for row in rows:
        urgent = "URGENT" if getattr(row, "urgent", False) else ""
        about = getattr(row, "topic_id", None) or getattr(row, "kind", None) or "-"
        print(
            f"{row.reference:<10} {row.status:<20} {urgent:<7} {row.lang:<5} "
            f"{about:<30} {row.created_at:%Y-%m-%d %H:%M}"
        )
    return 0


def _selected(r: CallbackDto | AppointmentDto, args: argparse.Namespace) -> bool:
    if args.status and r.status != args.status:
        return False
    if args.lang and r.lang != args.lang:
        return False
    if args.urgent and not getattr(r, "urgent", False):
        return False
    return not (args.older_than and r.created_at > utcnow() - timedelta(minutes=args.older_than))


async def _reach(unit: Unit, r: CallbackDto, settings: Settings) -> dict[str, Any]:
    """The person's channel and, on a channel with a messaging window (Messenger), where the
    window stands: "open" (a normal answer) or "human-agent" until a time, or "closed"."""
    user = await unit.users.get(r.user_id) if r.user_id is not None else None
    if user is None:
        return {"channel": None}
    if user.channel not in WINDOWED:
        return {"channel": user.channel}
    last_seen = await unit.users.last_seen(user.channel, user.external_id)
    now_window = window(last_seen, utcnow(), settings.messenger_human_agent_days)
    return {"channel": user.channel, "window": now_window.as_dict()}


def _show(r: CallbackDto, *, as_json: bool, reach: dict[str, Any] | None = None) -> int:
    details = {
        **r.as_dict(),
        **(reach or {}),
        "phone": r.phone,
        "question": r.question,
        "claimed": r.claimed_at.isoformat(timespec="seconds") if r.claimed_at else None,
        "first_response": (
            r.first_response_at.isoformat(timespec="seconds") if r.first_response_at else None
        ),
        "closed": r.closed_at.isoformat(timespec="seconds") if r.closed_at else None,
        "rating": r.rating,
    }
    return _print(details, as_json=as_json)


def _print(details: dict[str, Any], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(details, ensure_ascii=False, indent=2))
    else:
        for key, value in details.items():
            print(f"{key + ':':<16} {'-' if value is None else value}")
    return 0


async def _desk_action(settings: Settings, args: argparse.Namespace) -> int:
    app = await build_app(settings)
    try:
        if args.queue_command == "remind":
            print(f"Reminders sent: {await app.desk.send_reminders()}")
            return 0
        if args.queue_command == "claim":
            outcome = await app.desk.claim(TELEGRAM, args.staff, args.reference)
        elif args.queue_command == "confirm":
            outcome = await app.desk.confirm(TELEGRAM, args.staff, args.reference, args.at)
        elif args.queue_command in ("done", "no-show", "cancel"):
            status = {
                "done": AppointmentStatus.DONE,
                "no-show": AppointmentStatus.NO_SHOW,
                "cancel": AppointmentStatus.CANCELLED,
            }[args.queue_command]
            outcome = await app.desk.settle(TELEGRAM, args.staff, args.reference, status)
        elif args.queue_command == "close":
            outcome = await app.desk.close(TELEGRAM, args.staff, args.reference)
        else:
            outcome = await app.desk.reply(TELEGRAM, args.staff, args.reference, args.text)
    finally:
        await app.close()
    print(outcome.text, file=sys.stdout if outcome.ok else sys.stderr)
    return 0 if outcome.ok else 1


async def report(settings: Settings, args: argparse.Namespace) -> int:
    if args.end < args.start:
        print("poradna report: --to is before --from", file=sys.stderr)
        return 2
    async with storage_for(settings) as storage, storage.begin() as unit:
        figures = await unit.reports.build(Period(args.start, args.end))
    if args.format == "json":
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(("section", "key", "measure", "value"))
        writer.writerows(to_rows(figures))
    else:
        sys.stdout.write(to_markdown(figures))
    return 0


async def privacy(settings: Settings, args: argparse.Namespace) -> int:
    async with storage_for(settings) as storage:
        async with storage.begin() as unit:
            if args.privacy_command == "export":
                data = await unit.privacy.export(args.channel, args.user)
                if data is None:
                    print(f"poradna privacy: nothing is stored about {args.user}", file=sys.stderr)
                    return 1
                print(json.dumps(data, ensure_ascii=False, indent=2))
                return 0
            purged = await unit.privacy.purge(timedelta(days=settings.retention_days))
        await storage.erase_from_files()
    print(
        f"Erased after {settings.retention_days} days: personal data of {purged.requests} "
        f"closed requests, {purged.questions} unanswered questions, {purged.messages} delivered "
        f"messages, {purged.conversations} idle conversations."
    )
    return 0
