"""A callback request: a phone number, a time of day, the question, consent; then the request
is stored and the desk told (`flows.staff`). The same phone and consent steps finish an
appointment request (`appointment`)."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from faq.normalize import fold
from flows import payloads as pl
from flows.conversations import appointment, browse
from flows.events import Button
from flows.payloads import Action, ForgedPayloadError, Payload
from flows.phone import parse_phone
from flows.registry import REGISTRY, StepSpec, prompt_of, show_again
from flows.staff import Media, announce_request
from flows.state import Step
from storage.models import utcnow

if TYPE_CHECKING:
    from flows.turn import Turn

logger = logging.getLogger(__name__)


def ask_phone(turn: Turn) -> None:
    turn.step = Step.CB_PHONE
    turn.say("callback-phone", [[turn.cancel_button()]], request_phone=True)


async def _phone_prompt(turn: Turn) -> None:
    if turn.draft.request.urgent:
        turn.say("urgent-offer", [[turn.cancel_button()]], request_phone=True)
    else:
        ask_phone(turn)


async def on_phone(turn: Turn, text: str) -> None:
    phone = parse_phone(text)
    if phone is None:
        turn.say("callback-phone-invalid", [[turn.cancel_button()]], request_phone=True)
        return
    request = turn.draft.request
    request.phone = phone
    if request.urgent or request.is_appointment:
        ask_consent(turn)
    else:
        ask_time(turn)


def _is_phone(text: str) -> bool:
    return parse_phone(text) is not None


@REGISTRY.button(Action.PERSON)
async def on_person(turn: Turn, p: Payload) -> None:
    if p.value is not None:
        raise ForgedPayloadError(p.encode())
    ask_phone(turn)


@REGISTRY.button(Action.NONE_OF_THESE)
async def on_none_of_these(turn: Turn, p: Payload) -> None:
    """None of the topics offered fits: the question is logged, and a person offered."""
    if p.value is not None:
        raise ForgedPayloadError(p.encode())
    question = turn.draft.question
    if question:
        await turn.log_unanswered(question, "none-fits")
        await turn.record("none-fits")
    ask_phone(turn)


def ask_time(turn: Turn) -> None:
    turn.step = Step.CB_TIME
    rows = [
        [Button(turn.t(f"callback-time-{time}"), pl.make(Action.TIME, time))] for time in pl.TIMES
    ]
    rows.append([turn.cancel_button()])
    turn.say("callback-time", rows)


def _time_named(turn: Turn, text: str) -> str | None:
    wanted = fold(text)
    for part in pl.TIMES:
        label = fold(turn.t(f"callback-time-{part}"))
        if wanted and (wanted == label or label.startswith(wanted)):
            return part
    return None


async def _on_time_text(turn: Turn, text: str) -> None:
    chosen = _time_named(turn, text)
    if chosen is None:
        ask_time(turn)
        return
    turn.draft.request.time = chosen
    ask_request_question(turn)


async def _on_time(turn: Turn, p: Payload) -> None:
    if p.value not in pl.TIMES:
        raise ForgedPayloadError(p.encode())
    turn.draft.request.time = p.value
    ask_request_question(turn)


def ask_request_question(turn: Turn) -> None:
    turn.step = Step.CB_QUESTION
    question = turn.draft.question
    if question:
        rows = [
            [Button(turn.t("buttons-keep-question"), pl.make(Action.KEEP_QUESTION))],
            [turn.cancel_button()],
        ]
        turn.say("callback-question-prefilled", rows, question=question)
    else:
        turn.say("callback-question", [[turn.cancel_button()]])


async def _on_question_text(turn: Turn, text: str) -> None:
    turn.draft.request.request_question = text
    ask_consent(turn)


async def _on_keep_question(turn: Turn, p: Payload) -> None:
    if not turn.draft.question:
        raise ForgedPayloadError(p.encode())
    turn.draft.request.request_question = turn.draft.question
    ask_consent(turn)


def ask_consent(turn: Turn) -> None:
    turn.step = Step.CB_CONSENT
    rows = [
        [Button(turn.t("buttons-consent-yes"), pl.yes_no(Action.CONSENT, yes=True))],
        [Button(turn.t("buttons-consent-no"), pl.yes_no(Action.CONSENT, yes=False))],
    ]
    turn.say("callback-consent", rows, days=turn.services.retention_days)


async def _on_consent(turn: Turn, p: Payload) -> None:
    if not pl.parse_yes_no(p):
        turn.drop_request()
        turn.say("callback-declined")
        await browse.show_menu(turn)
    elif turn.draft.request.is_appointment:
        await appointment.store(turn, await consent_version(turn))
    else:
        await _store(turn)


async def _store(turn: Turn) -> None:
    draft = turn.draft.request
    assert draft.phone is not None and draft.time is not None
    request = await turn.unit.requests.create(
        user_id=turn.user.id,
        lang=turn.draft.written or turn.lang,  # routed by the language the person writes in
        topic_id=turn.draft.topic,
        phone=draft.phone,
        preferred_time=draft.time,
        question=draft.request_question,
        consent_at=utcnow(),
        consent_version=await consent_version(turn),
        urgent=draft.urgent,
    )
    logger.info("callback request %s stored (%s)", request.reference, request.lang)
    services = turn.services
    await announce_request(
        turn.unit,
        services.staff_t,
        services.locales,
        services.faq,
        request,
        Media.kept(draft.media),
        human_agent_days=services.human_agent_days,
    )
    await turn.record("urgent-callback" if request.urgent else "callback", request.topic_id)
    part = draft.time
    turn.drop_request()
    turn.step = Step.MENU
    if request.urgent:
        turn.say("urgent-done", [[turn.menu_button()]], reference=request.reference)
        return
    turn.say(
        "callback-done",
        [[turn.menu_button()]],
        reference=request.reference,
        time=turn.t(f"callback-time-{part}"),
    )


async def consent_version(turn: Turn) -> str:
    """The version of the consent text the person agreed to (kept with its exact text)."""
    text = turn.t("callback-consent", days=turn.services.retention_days)
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    await turn.unit.consents.record(version, turn.lang, text)
    return version


async def cancel(turn: Turn) -> None:
    """/cancel or its button: drop the request in progress, if there is one."""
    if turn.step.in_request:
        turn.drop_request()
        turn.say("cancel-done")
    else:
        turn.say("cancel-nothing")
    await browse.show_menu(turn)


@REGISTRY.button(Action.CANCEL)
async def on_cancel(turn: Turn, p: Payload) -> None:
    if p.value is not None:
        raise ForgedPayloadError(p.encode())
    await cancel(turn)


@REGISTRY.command("cancel")
async def on_cancel_command(turn: Turn, _argument: str) -> None:
    await cancel(turn)


REGISTRY.declare(
    Step.CB_PHONE,
    StepSpec(prompt=_phone_prompt, on_text=on_phone, on_contact=on_phone, not_urgent=_is_phone),
)
REGISTRY.declare(
    Step.CB_TIME,
    StepSpec(prompt=prompt_of(ask_time), on_text=_on_time_text, buttons={Action.TIME: _on_time}),
)
REGISTRY.declare(
    Step.CB_QUESTION,
    StepSpec(
        prompt=prompt_of(ask_request_question),
        on_text=_on_question_text,
        buttons={Action.KEEP_QUESTION: _on_keep_question},
    ),
)
REGISTRY.declare(
    Step.CB_CONSENT,
    StepSpec(
        prompt=prompt_of(ask_consent), on_text=show_again, buttons={Action.CONSENT: _on_consent}
    ),
)
