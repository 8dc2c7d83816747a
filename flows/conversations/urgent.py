"""An urgent situation (violence, detention, a deadline today): what to do at once, then a
phone number straight away; time and question can wait."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flows.conversations import callback
from flows.state import URGENT_TIME, Draft, Request, Step

if TYPE_CHECKING:
    from flows.registry import StepSpec
    from flows.turn import Turn

logger = logging.getLogger(__name__)


async def screen(turn: Turn, text: str, spec: StepSpec) -> bool:
    """Take `text` as an urgent situation if it is one; True when it was."""
    understanding = turn.services.understanding
    if not understanding.urgent or (spec.not_urgent is not None and spec.not_urgent(text)):
        return False
    # Matched once per turn: the question gets the same match from the matcher's memo.
    category = understanding.urgent_category(text, hint=turn.user.lang)
    if not category:
        return False
    await take_urgent(turn, text, category)
    return True


async def take_urgent(turn: Turn, text: str, category: str | None) -> None:
    """Say what to do now, then take a phone number at once."""
    logger.warning("urgent situation recognised (%s)", category)
    await turn.record("urgent")
    if turn.user.lang is None:
        detection = turn.services.understanding.detect(text, hint=turn.client_lang)
        await turn.set_language(detection.lang if detection.confident else turn.lang)
    phone, media = turn.draft.request.phone, turn.draft.request.media
    turn.draft = Draft(
        disclaimer=turn.draft.disclaimer,
        question=text,
        request=Request(request_question=text, urgent=True, time=URGENT_TIME, media=media),
    )
    say_help_now(turn)
    if phone:
        turn.draft.request.phone = phone
        callback.ask_consent(turn)
        return
    turn.step = Step.CB_PHONE
    turn.say("urgent-offer", [[turn.cancel_button()]], request_phone=True)


def say_help_now(turn: Turn) -> None:
    """What to do at once in an urgent situation: the emergency numbers and contacts."""
    turn.say("urgent-help-now")
    contacts = turn.services.crisis_contacts
    if contacts:
        turn.say("urgent-contacts", contacts=contacts)
