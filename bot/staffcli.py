"""`poradna queue`, `poradna report`, `poradna privacy` and `poradna staff`: the desk for staff
without Telegram, and the caseworkers' accounts."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.app import build_app, storage_for
from bot.telegram import CHANNEL as TELEGRAM
from flows.window import WINDOWED, window
from locales import LANGUAGES
from storage.models import utcnow
from storage.references import normalized
from storage.reports import Period, to_markdown, to_rows
from storage.states import OPEN, OPEN_APPOINTMENTS, AppointmentStatus, RequestStatus

LOGIN = re.compile(r"^[A-Za-z0-9._-]{2,64}$")

if TYPE_CHECKING:
    import argparse

    from bot.config import Settings
    from storage.dto import AppointmentDto, CallbackDto, StaffDto, ThreadEntryDto
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
    if args.queue_command == "show":
        return await _show_one(settings, normalized(args.reference), as_json=args.json)
    async with storage_for(settings) as storage, storage.begin() as unit:
        callbacks = await unit.requests.list_requests()
        appointments = await unit.appointments.list_appointments()
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
    if not args.older_than:
        return True
    # Waiting too long: only what is still open is waiting at all.
    still_open = r.status in (RequestStatus.NEW, *OPEN, *OPEN_APPOINTMENTS)
    return still_open and r.created_at <= utcnow() - timedelta(minutes=args.older_than)


async def _show_one(settings: Settings, reference: str, *, as_json: bool) -> int:
    """One request, callback or appointment, with its thread."""
    async with storage_for(settings) as storage, storage.begin() as unit:
        callback = await unit.requests.get(reference)
        appointment = None if callback else await unit.appointments.get(reference)
        thread = await unit.threads.of(reference)
        staff = {s.id: s for s in await unit.staff.list_staff()}
        reach = await _reach(unit, callback, settings) if callback else {}
    if callback is not None:
        details = _details(callback, reach)
    elif appointment is not None:
        details = {**appointment.as_dict(), "phone": appointment.phone}
    else:
        print(f"poradna queue: there is no request {reference}", file=sys.stderr)
        return 1
    if as_json:
        entries = [
            {**e.as_dict(), "staff": staff[e.staff_id].name if e.staff_id in staff else None}
            for e in thread
        ]
        print(json.dumps({**details, "thread": entries}, ensure_ascii=False, indent=2))
        return 0
    _print(details, as_json=False)
    print()
    if not thread:
        print("thread:          (no messages yet)")
    else:
        print("thread:")
        for entry in thread:
            print(_thread_line(entry, staff))
    return 0


def _thread_line(entry: ThreadEntryDto, staff: dict[int, StaffDto]) -> str:
    """`2026-12-05 10:02  person (telegram): text [photo: file id]`, in UTC like the list."""
    if entry.author == "staff":
        member = staff.get(entry.staff_id) if entry.staff_id is not None else None
        who = f"caseworker {member.name if member else '?'}"
    else:
        who = "person"
    parts = [entry.text] if entry.text else []
    if entry.media_kind:
        ref = f": {entry.media_ref}" if entry.media_ref else ", no file"
        parts.append(f"[{entry.media_kind}{ref}]")
    body = " ".join(parts).replace("\n", "\n" + " " * 19)
    return f"  {entry.created_at:%Y-%m-%d %H:%M}  {who} ({entry.channel}): {body}"


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


def _details(r: CallbackDto, reach: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
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
            outcome = await app.desk.reply(
                TELEGRAM, args.staff, args.reference, args.text, via="cli"
            )
    finally:
        await app.close()
    print(app.desk.for_cli(outcome), file=sys.stdout if outcome.ok else sys.stderr)
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


async def staff(settings: Settings, args: argparse.Namespace) -> int:
    if args.staff_command == "add":
        return await _staff_add(settings, args)
    if args.staff_command == "password":
        return await _staff_password(settings, args.login)
    async with storage_for(settings) as storage, storage.begin() as unit:
        if args.staff_command == "remove":
            if not await unit.staff.remove(TELEGRAM, args.telegram_id):
                member = await unit.accounts.staff_by_login(args.telegram_id)
                if member is None or not member.active:
                    print(f"poradna staff: no caseworker {args.telegram_id}", file=sys.stderr)
                    return 1
                await unit.accounts.set_active(member.id, False)
            print(f"Caseworker {args.telegram_id} removed.")
            return 0
        for member in await unit.staff.list_staff():
            login = f"web:{member.login}/{member.role}" if member.login else ""
            print(
                f"{member.external_id:<14} {member.name:<24} {','.join(member.languages):<12} "
                f"{login}".rstrip()
            )
    return 0


async def _staff_add(settings: Settings, args: argparse.Namespace) -> int:
    languages = tuple(x.strip() for x in args.lang.split(",") if x.strip())
    unknown = [x for x in languages if x not in LANGUAGES]
    if unknown:
        print(f"poradna staff: unknown language {', '.join(unknown)}", file=sys.stderr)
        return 2
    if not args.telegram_id and not args.login:
        print("poradna staff add: give a Telegram id, a --login, or both", file=sys.stderr)
        return 2
    if args.login and not LOGIN.match(args.login):
        print(
            "poradna staff add: a login is 2-64 letters, digits, '.', '_' or '-'", file=sys.stderr
        )
        return 2
    async with storage_for(settings) as storage, storage.begin() as unit:
        if args.login:
            member = await unit.accounts.set_login(
                args.name, args.login, args.role, languages, args.telegram_id
            )
            print(
                f"Caseworker {member.name} can log in to the web console as {args.login} "
                f"({args.role}) once a password is set: poradna staff password {args.login}"
            )
            return 0
        member = await unit.staff.add(TELEGRAM, args.telegram_id, args.name, languages)
        print(f"Caseworker {member.external_id} ({member.name}) can use the desk.")
    return 0


async def _staff_password(settings: Settings, login: str) -> int:
    """The password is read from stdin (one line; hidden when typed at a terminal)."""
    from bot.web.auth import MIN_PASSWORD, hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"Password for {login}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        print(f"poradna staff password: use at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    async with storage_for(settings) as storage, storage.begin() as unit:
        if not await unit.accounts.set_password(login, hash_password(password)):
            print(f"poradna staff password: no login {login}", file=sys.stderr)
            return 1
    print(f"Password set for {login}; their other sessions are logged out.")
    return 0
