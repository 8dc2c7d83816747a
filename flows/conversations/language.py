"""Language: the greeting, choosing a language (buttons or its name), and the offer to switch
to the language a person writes in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from faq.normalize import fold
from flows import payloads as pl
from flows.conversations import browse
from flows.events import Button, Reply
from flows.payloads import Action, ForgedPayloadError, Payload
from flows.registry import REGISTRY, StepSpec
from flows.state import Draft, Step

if TYPE_CHECKING:
    from flows.turn import Turn

# A message needs this many letters to be taken as written in a language of its own.
MIN_LETTERS_FOR_SWITCH: Final = 4
# The switch is offered once more after this many further messages in the other language,
# unless the person said to keep the language.
REOFFER_AFTER: Final = 3


async def start(turn: Turn, argument: str) -> None:
    """Greet; a deep-link argument (``vi`` or ``ru__topic-id``) picks a language and topic."""
    turn.draft = Draft()
    services = turn.services
    lang, _, topic = argument.partition("__")
    if lang in services.locales:
        await turn.set_language(lang)
    turn.say("start-greeting")
    if topic in services.faq.topics:
        await browse.show_answer(turn, topic)
    elif turn.user.lang or lang in services.locales:
        await browse.show_menu(turn)
    else:
        offer_languages(turn, "start-choose-language")


@REGISTRY.command("start", without_storage=lambda turn, _argument: browse.show_menu(turn))
async def on_start(turn: Turn, argument: str) -> None:
    await start(turn, argument.strip())


async def first_text(turn: Turn, text: str) -> None:
    """A first message that is already a question: answer it in the language it is in."""
    turn.say("start-greeting")
    await REGISTRY.ask(turn, text)


def offer_languages(turn: Turn, key: str) -> None:
    locales = turn.services.locales
    preferred = turn.user.lang or turn.client_lang
    order = sorted(locales.languages, key=lambda code: code != preferred)
    buttons = [
        Button(
            ("✓ " if code == preferred else "") + locales.get(code).name,
            pl.make(Action.LANG, code),
        )
        for code in order
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    turn.step = Step.CHOOSING_LANGUAGE
    turn.say(key, rows)


async def choose_prompt(turn: Turn) -> None:
    offer_languages(turn, "language-choose")


@REGISTRY.command("language", "lang")
async def on_language_command(turn: Turn, _argument: str) -> None:
    offer_languages(turn, "language-choose")


def language_named(turn: Turn, text: str) -> str | None:
    locales = turn.services.locales
    wanted = fold(text).strip(" ✓")
    for code in locales.languages:
        if wanted in (code, fold(locales.get(code).name)):
            return code
    return None


async def on_choosing_text(turn: Turn, text: str) -> None:
    """A language typed by name, or else a question."""
    chosen = language_named(turn, text)
    if chosen is None:
        await REGISTRY.ask(turn, text)
        return
    await turn.set_language(chosen)
    turn.say("language-set", language=turn.t.name)
    await browse.show_menu(turn)


async def _menu_in(turn: Turn, p: Payload) -> None:
    """Storage failing: speak the chosen language in this turn, and show its menu."""
    if p.value and p.value in turn.services.locales:
        turn.use_language(p.value)
        await browse.show_menu(turn)


def _known_language(turn: Turn, p: Payload) -> str:
    if p.value is None or p.value not in turn.services.locales:
        raise ForgedPayloadError(p.encode())
    return p.value


@REGISTRY.button(Action.LANG, without_storage=_menu_in)
async def on_lang(turn: Turn, p: Payload) -> None:
    await turn.set_language(_known_language(turn, p))
    turn.say("language-set", language=turn.t.name)
    await browse.show_menu(turn)


@REGISTRY.button(Action.SWITCH)
async def on_switch(turn: Turn, p: Payload) -> None:
    """Yes to the offer to go on in the language the person writes in."""
    await turn.set_language(_known_language(turn, p))
    turn.say("language-set", language=turn.t.name)
    topic = turn.draft.topic
    if turn.step == Step.ANSWERED and topic in turn.services.faq.topics:
        await browse.show_answer(turn, topic)


@REGISTRY.button(Action.KEEP_LANGUAGE)
async def on_keep_language(turn: Turn, p: Payload) -> None:
    if p.value is not None:
        raise ForgedPayloadError(p.encode())
    turn.draft.switch_refused = True
    turn.say("language-kept")


async def maybe_offer_switch(turn: Turn, detected: str, confident: bool, text: str) -> None:
    """Offer to continue in the language the person writes in, in that language; once more
    after REOFFER_AFTER more messages in it if the offer was ignored. Only for a message with
    words enough to tell a language (a reference code, a number or "ok" has none)."""
    locales = turn.services.locales
    if not confident or detected not in locales:
        return
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS_FOR_SWITCH:
        return
    draft = turn.draft
    draft.written = detected
    if detected == turn.lang:
        draft.switch_seen = None
        return
    if turn.user.switch_offered:
        if draft.switch_refused:
            return
        draft.switch_seen = (draft.switch_seen or 0) + 1
        if draft.switch_seen < REOFFER_AFTER:
            return
        draft.switch_refused = True  # offered twice: the person has chosen
    else:
        await turn.unit.states.mark_switch_offered(turn.user.id)
        draft.switch_seen = 0
    other = locales.get(detected)
    turn.replies.append(
        Reply(
            key="language-switch-offer",
            text=other("language-switch-offer"),
            lang=other.lang,
            rtl=other.rtl,
            buttons=(
                (
                    Button(other("buttons-switch-yes"), pl.make(Action.SWITCH, detected)),
                    Button(other("buttons-switch-no"), pl.make(Action.KEEP_LANGUAGE)),
                ),
            ),
        )
    )


async def _greet(turn: Turn) -> None:
    await start(turn, "")


REGISTRY.declare(Step.NEW, StepSpec(prompt=_greet, on_text=first_text, screened=False))
REGISTRY.declare(Step.CHOOSING_LANGUAGE, StepSpec(prompt=choose_prompt, on_text=on_choosing_text))
