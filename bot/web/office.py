"""Coordinators' and admins' pages: canned replies, reports with charts, the FAQ's status,
and the staff accounts."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from bot.web import ROOT, auth, poradna
from bot.web.charts import bar_chart
from bot.web.pages import redirect, render, strings
from faq.loader import check_faq
from faq.quality import outdated
from flows.calendar import today_in_prague
from locales import LANGUAGES
from storage.models import utcnow
from storage.reports import Period, to_rows
from storage.states import StaffRole

if TYPE_CHECKING:
    from bot.app import App

NAME: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
coordinator = auth.requires(StaffRole.COORDINATOR)
admin = auth.requires(StaffRole.ADMIN)


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/canned", canned_page)
    r.add_post("/canned", canned_save)
    r.add_post("/canned/delete", canned_delete)
    r.add_get("/reports", reports_page)
    r.add_get("/reports.csv", reports_csv)
    r.add_get("/faq", faq_page)
    r.add_get("/admin/staff", staff_page)
    r.add_post("/admin/staff/{staff_id:\\d+}", staff_change)


# ------------------------------------------------------------------------------- canned


@coordinator
async def canned_page(request: web.Request) -> web.StreamResponse:
    async with poradna(request).storage.begin() as unit:
        canned = await unit.canned.all()
    return render(request, "canned.html", {"canned": canned, "languages": LANGUAGES})


@coordinator
async def canned_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, lang = str(form.get("name", "")).strip(), str(form.get("lang", ""))
    title, text = str(form.get("title", "")).strip(), str(form.get("text", "")).strip()
    t = strings(request)
    if not NAME.match(name) or lang not in LANGUAGES or not title or not text:
        return redirect(request, f"{ROOT}/canned", t("canned-invalid"))
    async with poradna(request).storage.begin() as unit:
        await unit.canned.save(name, lang, title[:80], text[:3500])
    return redirect(request, f"{ROOT}/canned", t("canned-saved", name=name, lang=lang))


@coordinator
async def canned_delete(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with poradna(request).storage.begin() as unit:
        await unit.canned.remove(str(form.get("name", "")), str(form.get("lang", "")))
    return redirect(request, f"{ROOT}/canned", strings(request)("canned-deleted"))


# ------------------------------------------------------------------------------- reports


def _period(request: web.Request) -> Period:
    today = today_in_prague(utcnow())
    default_start = (today.replace(day=1) - timedelta(days=335)).replace(day=1)
    try:
        start = date.fromisoformat(request.query.get("from", "") or default_start.isoformat())
        end = date.fromisoformat(request.query.get("to", "") or today.isoformat())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=strings(request)("error-bad-date")) from exc
    if end < start:
        raise web.HTTPBadRequest(text=strings(request)("error-bad-date"))
    return Period(start, end)


async def _figures(app: App, period: Period) -> dict[str, Any]:
    async with app.storage.begin() as unit:
        return await unit.reports.build(period)


@coordinator
async def reports_page(request: web.Request) -> web.StreamResponse:
    period = _period(request)
    figures = await _figures(poradna(request), period)
    t = strings(request)

    def chart(section: str, measure: str, title: str) -> Any:
        items = [(key, int(row[measure])) for key, row in figures[section].items()]
        return bar_chart(title, items)

    charts = [
        chart("by_month", "people", t("chart-month-people")),
        chart("by_month", "callbacks", t("chart-month-callbacks")),
        chart("by_language", "people", t("chart-language")),
        chart("by_channel", "people", t("chart-channel")),
        chart("by_topic", "faq_answers", t("chart-topic")),
    ]
    return render(
        request,
        "reports.html",
        {"figures": figures, "charts": charts, "period": period},
    )


@coordinator
async def reports_csv(request: web.Request) -> web.StreamResponse:
    period = _period(request)
    figures = await _figures(poradna(request), period)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("section", "key", "measure", "value"))
    writer.writerows(to_rows(figures))
    name = f"poradna-report-{period.start}-{period.end}.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ------------------------------------------------------------------------------- FAQ status


@coordinator
async def faq_page(request: web.Request) -> web.StreamResponse:
    """Topics × languages as served (present, outdated, reviewed, last checked), the files as
    they are now (`file:line` problems, the next reload would refuse them), and the gaps."""
    from bot.faqcli import group_gaps

    app = poradna(request)
    faq = app.knowledge.faq
    stale = outdated(faq)
    table = []
    for topic in sorted(faq.topics.values(), key=lambda x: x.id):
        cells = []
        for lang in LANGUAGES:
            tr = topic.translations.get(lang)
            state = (
                "missing"
                if tr is None
                else "outdated"
                if lang in stale.get(topic.id, ())
                else "ok"
            )
            cells.append({"lang": lang, "state": state, "reviewed": bool(tr and tr.reviewed)})
        table.append({"id": topic.id, "checked": topic.checked, "cells": cells})
    _, problems = await asyncio.to_thread(check_faq, app.settings.faq_dir)
    async with app.storage.begin() as unit:
        questions = await unit.unanswered.list_questions()
    return render(
        request,
        "faq.html",
        {
            "table": table,
            "languages": LANGUAGES,
            "problems": [str(p) for p in problems],
            "knowledge": app.knowledge,
            "gaps": group_gaps(questions)[:30],
        },
    )


# ------------------------------------------------------------------------------- accounts


@admin
async def staff_page(request: web.Request) -> web.StreamResponse:
    async with poradna(request).storage.begin() as unit:
        staff = await unit.accounts.all_staff()
    return render(request, "staff.html", {"staff": staff, "roles": list(StaffRole)})


@admin
async def staff_change(request: web.Request) -> web.StreamResponse:
    staff_id = int(request.match_info["staff_id"])
    form = await request.post()
    t = strings(request)
    async with poradna(request).storage.begin() as unit:
        if "active" in form:
            await unit.accounts.set_active(staff_id, form["active"] == "1")
        role = str(form.get("role", ""))
        if role in set(StaffRole):
            await unit.accounts.set_role(staff_id, role)
    return redirect(request, f"{ROOT}/admin/staff", t("staff-saved"))
