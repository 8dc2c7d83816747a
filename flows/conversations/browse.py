"""Browsing and answers: the menu, a category's topics, an answer with its feedback buttons, and
what the person says about it. All of it works while storage is failing too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faq.quality import SOURCE_LANGUAGE, source_hash
from flows import payloads as pl
from flows.calendar import date_label
from flows.events import Button, Reply
from flows.payloads import Action, ForgedPayloadError, Payload
from flows.registry import REGISTRY, StepSpec
from flows.state import Step

if TYPE_CHECKING:
    from faq.schema import Topic
    from flows.turn import Turn


async def show_menu(turn: Turn) -> None:
    turn.step = Step.MENU
    categories = turn.services.faq.categories
    rows = [[Button(turn.t(f"category-{c}"), pl.make(Action.CATEGORY, c))] for c in categories]
    rows.append([turn.person_button()])
    rows.append([turn.appointment_button()])
    turn.say("menu-title", rows)


def show_category(turn: Turn, category: str) -> None:
    turn.step = Step.CATEGORY
    turn.draft.category = category
    rows = [
        [Button(topic.title(turn.lang), pl.make(Action.TOPIC, topic.id))]
        for topic in turn.services.faq.in_category(category)
    ]
    rows.append([Button(turn.t("buttons-back"), pl.make(Action.MENU))])
    turn.say("menu-category", rows, category=turn.t(f"category-{category}"))


async def show_answer(
    turn: Turn, topic_id: str, *, source: bool = False, followup: str | None = None
) -> None:
    """The answer in the person's language; `source`: the newest, source-language one;
    `followup`: the topic's short answer of that kind ("fee") instead of the whole answer."""
    locales = turn.services.locales
    topic = turn.services.faq.topics[topic_id]
    t = locales.get(SOURCE_LANGUAGE) if source else turn.t
    tr = topic.translation(t.lang)
    if not turn.draft.disclaimer:
        turn.say("disclaimer")
        turn.draft.disclaimer = True
    short = tr.followups.get(followup) if followup else None
    text = t.text(short.answer if short else tr.answer)
    stale = not source and not short and _outdated(topic, t.lang)
    if stale:
        newest = locales.get(SOURCE_LANGUAGE).name
        text = f"{text}\n\n{turn.t('answer-outdated', language=newest)}"
    if topic.links:
        text = f"{text}\n\n{t('answer-links', links=' '.join(topic.links))}"
        if topic.checked:
            text = f"{text}\n{t('answer-checked', date=date_label(topic.checked, t.lang))}"
    text = f"{text}\n\n{turn.t('answer-feedback')}"
    rows = [
        [
            Button(turn.t("buttons-helped-yes"), pl.yes_no(Action.HELPED, yes=True)),
            Button(turn.t("buttons-helped-no"), pl.yes_no(Action.HELPED, yes=False)),
        ],
        [
            Button(turn.t("buttons-back"), pl.make(Action.CATEGORY, topic.category)),
            turn.menu_button(),
        ],
    ]
    if stale:
        label = turn.t("buttons-newest-version", language=locales.get(SOURCE_LANGUAGE).name)
        rows.insert(0, [Button(label, pl.make(Action.SOURCE_VERSION, topic.id))])
    turn.replies.append(
        Reply(
            key="faq-followup" if short else "faq-answer",
            text=text,
            lang=t.lang,
            rtl=t.rtl,
            title=t.text(tr.question),
            buttons=tuple(tuple(r) for r in rows),
        )
    )
    turn.step = Step.ANSWERED
    turn.draft.topic = topic_id
    turn.draft.topic_at = turn.services.clock().isoformat()
    await turn.record("faq-answer", topic_id)


def _outdated(topic: Topic, lang: str) -> bool:
    """Whether the translation was made from an older source-language answer."""
    tr = topic.translations.get(lang)
    source = topic.translations.get(SOURCE_LANGUAGE)
    if tr is None or source is None or lang == SOURCE_LANGUAGE or tr.source_hash is None:
        return False
    return tr.source_hash != source_hash(source.answer)


async def _any_menu(turn: Turn, _p: Payload) -> None:
    await show_menu(turn)


@REGISTRY.button(Action.MENU, without_storage=_any_menu)
async def on_menu(turn: Turn, p: Payload) -> None:
    if p.value is not None:
        raise ForgedPayloadError(p.encode())
    turn.drop_request()
    await show_menu(turn)


@REGISTRY.command("menu", without_storage=True)
async def on_menu_command(turn: Turn, _argument: str) -> None:
    turn.drop_request()
    await show_menu(turn)


@REGISTRY.button(Action.CATEGORY, without_storage=True)
async def on_category(turn: Turn, p: Payload) -> None:
    if p.value not in turn.services.faq.categories:
        raise ForgedPayloadError(p.encode())
    turn.drop_request()
    show_category(turn, p.value)


@REGISTRY.button(Action.TOPIC, without_storage=True)
async def on_topic(turn: Turn, p: Payload) -> None:
    if p.value not in turn.services.faq.topics:
        raise ForgedPayloadError(p.encode())
    turn.drop_request()
    await show_answer(turn, p.value)


@REGISTRY.button(Action.SOURCE_VERSION, without_storage=True)
async def on_source_version(turn: Turn, p: Payload) -> None:
    if p.value not in turn.services.faq.topics:
        raise ForgedPayloadError(p.encode())
    await show_answer(turn, p.value, source=True)


@REGISTRY.button(Action.HELPED)
async def on_helped(turn: Turn, p: Payload) -> None:
    helped = pl.parse_yes_no(p)
    topic = turn.draft.topic
    if turn.step != Step.ANSWERED or topic is None:
        raise ForgedPayloadError("feedback without an answer")
    await turn.record("helped" if helped else "not-helped", topic)
    if helped:
        turn.step = Step.MENU
        turn.say("feedback-thanks", [[turn.menu_button()]])
        return
    await turn.log_unanswered(turn.draft.question or topic, "not-helpful", topic, 0)
    turn.say("feedback-sorry", turn.help_rows())


REGISTRY.declare(Step.MENU, StepSpec(prompt=show_menu))
REGISTRY.declare(Step.CATEGORY, StepSpec(prompt=show_menu))
REGISTRY.declare(Step.ANSWERED, StepSpec(prompt=show_menu))
