"""A free question: answered, asked back (which of these topics?), small talk answered in kind,
or offered a person. The same question is answered while storage is failing, without what
needs memory (a request, the language stored, the question logged)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from faq.matcher import Candidate
from flows import payloads as pl
from flows.conversations import browse, callback, language, urgent
from flows.events import Button
from flows.payloads import Action
from flows.phone import without_phones
from flows.registry import REGISTRY, StepSpec
from flows.state import Step

if TYPE_CHECKING:
    from faq.matcher import Match
    from flows.turn import Rows, Turn

logger = logging.getLogger(__name__)

# A message within this time of an answer may be its follow-up ("and how much is it?").
FOLLOWUP_WINDOW: Final = timedelta(minutes=30)


async def _without_storage(turn: Turn, text: str) -> None:
    """Storage failing: what needs no memory (an answer, topics to choose, emergency numbers)."""
    services = turn.services
    match = services.understanding.read(text, hint=turn.client_lang)
    if match.lang_confident and match.lang in services.locales:
        turn.use_language(match.lang)
    if match.decision == "urgent":
        logger.warning("urgent situation recognised (%s), storage down", match.urgent_category)
        urgent.say_help_now(turn)
        turn.urgent = True
    elif match.decision == "answer" and match.topic:
        await browse.show_answer(turn, match.topic)
        say_beside_answer(turn, match)
    elif match.decision == "clarify":
        turn.say("clarify-intro", candidate_rows(turn, match.candidates))
    elif match.decision == "chatter":
        await say_chatter(turn, match.intent)


@REGISTRY.question(without_storage=_without_storage)
async def ask(turn: Turn, text: str) -> None:
    match = turn.services.understanding.read(text, hint=turn.user.lang, context=_context(turn))
    if turn.user.lang is None:
        # No language chosen yet: the one the question is written in, unless that is a guess
        # and the person's phone tells us better.
        trust = match.lang_confident or not turn.client_lang
        await turn.set_language(match.lang if trust else turn.lang)
    if match.decision == "urgent":
        await urgent.take_urgent(turn, text, match.urgent_category)
        return
    if match.decision == "chatter":
        await say_chatter(turn, match.intent)
        await turn.record("chatter")
        return
    # A message with a phone number in it is not the question ("call me on 777 123 456"):
    # the last real one is kept for the callback's "keep your question", and the number is
    # never kept as a question (nor enters `faq gaps`, `Turn.log_unanswered`).
    scrubbed = without_phones(text)
    question = text if scrubbed == text else turn.draft.question or scrubbed
    turn.draft = turn.draft.fresh(question=question)
    if match.decision == "answer" and match.topic:
        await browse.show_answer(turn, match.topic, followup=match.followup)
        say_beside_answer(turn, match)
    elif match.decision == "clarify":
        await _clarify(turn, text, match)
    else:
        await _escalate(turn, text, match)
    await language.maybe_offer_switch(turn, match.lang, match.lang_confident, text)


def _context(turn: Turn) -> str | None:
    """The topic answered last, if recently enough for a follow-up of it."""
    draft = turn.draft
    if not draft.topic or not draft.topic_at:
        return None
    try:
        answered = datetime.fromisoformat(draft.topic_at)
    except ValueError:
        return None
    return draft.topic if turn.services.clock() - answered <= FOLLOWUP_WINDOW else None


async def _clarify(turn: Turn, text: str, match: Match) -> None:
    """Which of these topics? Of one topic alone, no one-button "did you mean?": the topic
    that may help beside a person, as an offer (what is asked may be what the FAQ does not
    cover, like citizenship next to permanent residence)."""
    best = match.candidates[0]
    if len(match.candidates) == 1:
        turn.step = Step.ESCALATED
        rows = [*candidate_rows(turn, match.candidates), *turn.help_rows()]
        turn.say("clarify-maybe", rows)
        await turn.record("clarify")
        await turn.log_unanswered(text, "unsure", best.topic, best.score)
        return
    turn.step = Step.CLARIFYING
    rows = candidate_rows(turn, match.candidates)
    rows.append([Button(turn.t("buttons-none-of-these"), pl.make(Action.NONE_OF_THESE))])
    turn.say("clarify-intro", rows)
    await turn.record("clarify")
    await turn.log_unanswered(text, "unsure", best.topic, best.score)


async def _escalate(turn: Turn, text: str, match: Match) -> None:
    turn.step = Step.ESCALATED
    best = match.candidates[0] if match.candidates else None
    await turn.log_unanswered(
        text, "no-match", best.topic if best else None, best.score if best else 0
    )
    turn.say("escalate-intro", turn.help_rows())
    await turn.record("no-match")


def say_beside_answer(turn: Turn, match: Match) -> None:
    """After an answer: the other question of a two-question message, and when the
    matcher was not sure, the next topics and a person."""
    if match.also:
        also = (Candidate(topic, 0) for topic in match.also)
        turn.say("answer-also", candidate_rows(turn, also))
    # The other question's topic is offered once, as the other question.
    alternatives = [c for c in match.alternatives if c.topic not in match.also]
    if alternatives:
        rows = candidate_rows(turn, alternatives)
        rows.append([turn.person_button()])
        turn.say("answer-alternatives", rows)


async def say_chatter(turn: Turn, intent: str | None) -> None:
    """Small talk (`faq.smalltalk` intents) is answered in kind, never as an unanswered
    question: a greeting with the menu, thanks with "anything else?", "are you a bot?" with
    what Poradna is and is not, "I want a person" with the callback, frustration calmly with
    a person offered."""
    if intent == "greeting":
        turn.say("chatter-greeting")
        await browse.show_menu(turn)
    elif intent == "human":
        turn.say("chatter-human")
        callback.ask_phone(turn)
    elif intent == "frustration":
        turn.say("chatter-frustration", turn.help_rows())
    elif intent == "bot":
        turn.say("chatter-bot", [[turn.person_button()], [turn.menu_button()]])
    elif intent == "goodbye":
        turn.say("chatter-goodbye")
    elif intent == "no":
        turn.say("chatter-no", [[turn.menu_button()]])
    elif intent in ("yes", "ok"):
        turn.say("chatter-ok", [[turn.menu_button()]])
    else:  # thanks
        turn.say("chatter-thanks", [[turn.menu_button()]])


def candidate_rows(turn: Turn, candidates: Iterable[Candidate]) -> Rows:
    """One button per topic the question may be about."""
    topics = turn.services.faq.topics
    return [
        [Button(topics[c.topic].title(turn.lang), pl.make(Action.TOPIC, c.topic))]
        for c in candidates
    ]


REGISTRY.declare(Step.CLARIFYING, StepSpec(prompt=browse.show_menu))
REGISTRY.declare(Step.ESCALATED, StepSpec(prompt=browse.show_menu))
