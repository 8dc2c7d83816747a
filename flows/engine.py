"""The conversation engine: one inbound event in, a list of replies out.

Every event is one use case in one database transaction: load the user and where they are in the
conversation, decide, store the new state (and any request) and commit once. A cancelled or failed
step therefore stores nothing half-done. Two events of one user never interleave: a per-user lock
serialises them in this process, and a version check on the stored state catches another process.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.exc import SQLAlchemyError

from faq.matcher import Candidate
from faq.normalize import clean, fold
from faq.offices import KINDS, PLACES
from faq.quality import SOURCE_LANGUAGE, source_hash
from flows import payloads as pl
from flows.calendar import day_label, today_in_prague, working_days
from flows.events import Button, Inbound, Reply
from flows.flood import FloodLimit, Verdict
from flows.payloads import Action, StaffAction
from flows.phone import parse_phone
from storage.dto import UserDto
from storage.models import utcnow
from storage.repositories import StaleStateError
from storage.states import AppointmentStatus, RequestStatus
from storage.unit import Storage, Unit

if TYPE_CHECKING:
    from collections.abc import Iterable

    from faq.loader import Faq
    from faq.matcher import Match, Matcher
    from faq.offices import Office
    from faq.schema import Topic
    from locales import Locales, Translator
    from storage.dto import CallbackDto, StaffDto

logger = logging.getLogger(__name__)

MAX_TEXT: Final = 2000
# Small talk (`faq.smalltalk` intents): greeted back with the menu, or offered a person.
CHATTER_GREETS: Final = frozenset({"greeting", "bot"})
CHATTER_PERSON: Final = frozenset({"human", "no", "frustration"})
STATE_RETRIES: Final = 3
# A message needs this many letters to be taken as written in a language of its own.
MIN_LETTERS_FOR_SWITCH: Final = 4

# The caseworkers' desk, as the outbox knows it; a channel adapter delivers it (Telegram: the
# staff group set by STAFF_CHAT_ID).
STAFF_CHANNEL: Final = "staff"
STAFF_RECIPIENT: Final = "desk"

# Conversation steps.
NEW: Final = "new"
CHOOSING_LANGUAGE: Final = "lang"
MENU: Final = "menu"
CATEGORY: Final = "category"
ANSWERED: Final = "answered"
CLARIFYING: Final = "clarify"
ESCALATED: Final = "escalated"
CB_PHONE: Final = "cb_phone"
CB_TIME: Final = "cb_time"
CB_QUESTION: Final = "cb_question"
CB_CONSENT: Final = "cb_consent"
FORGET_CONFIRM: Final = "forget"
AP_KIND: Final = "ap_kind"
AP_PLACE: Final = "ap_place"
AP_OFFICE: Final = "ap_office"
AP_DAY: Final = "ap_day"
AP_PART: Final = "ap_part"
# Steps of a request in progress (a callback or an appointment): /cancel drops the draft.
CALLBACK_STEPS: Final = (
    CB_PHONE, CB_TIME, CB_QUESTION, CB_CONSENT, AP_KIND, AP_PLACE, AP_OFFICE, AP_DAY, AP_PART,
)  # fmt: skip
# Keys of the state data that belong to one callback request draft (cleared on cancel or done).
DRAFT_KEYS: Final = (
    "phone", "time", "request_question", "urgent", "request_kind", "ap_kind", "ap_place",
    "ap_office", "ap_day", "ap_part",
)  # fmt: skip
URGENT_TIME: Final = "asap"


@dataclass
class Turn:
    """Everything one event works on."""

    unit: Unit
    user: UserDto
    step: str
    data: dict[str, Any]
    lang: str
    t: Translator
    client_lang: str | None
    replies: list[Reply] = field(default_factory=list)
    forgotten: bool = False
    # False while storage is failing: nothing is recorded, only what needs no memory is done.
    stored: bool = True
    # The reference of the person's open case: their text goes to its caseworker.
    open_case: str | None = None

    def say(
        self,
        key: str,
        buttons: list[list[Button]] | None = None,
        *,
        request_phone: bool = False,
        t: Translator | None = None,
        **args: object,
    ) -> None:
        t = t or self.t
        self.replies.append(
            Reply(
                key=key,
                text=t(key, **args),
                lang=t.lang,
                rtl=t.rtl,
                buttons=tuple(tuple(row) for row in buttons or []),
                request_phone=request_phone,
                phone_label=t("buttons-share-phone") if request_phone else None,
            )
        )


class Engine:
    """Decides what to answer. Holds no per-user state in memory: storage does."""

    def __init__(
        self,
        *,
        faq: Faq,
        matcher: Matcher,
        locales: Locales,
        storage: Storage,
        retention_days: int,
        default_lang: str = "en",
        crisis_contacts: str | None = None,
        staff_lang: str = "cs",
        offices: list[Office] | None = None,
        rate_limit: int | None = None,
        unlimited_channels: tuple[str, ...] = (),
    ) -> None:
        self.faq = faq
        self.matcher = matcher
        self.locales = locales
        self._storage = storage
        self._retention_days = retention_days
        self._default_lang = default_lang
        self._crisis_contacts = crisis_contacts
        self.staff_t = locales.get(staff_lang)
        self.offices = {office.id: office for office in offices or []}
        # Counted in the database on PostgreSQL, where several instances may serve one person.
        self.flood = FloodLimit(rate_limit, storage if storage.dialect == "postgresql" else None)
        self._unlimited = unlimited_channels
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def handle(self, event: Inbound, *, via_outbox: bool = False) -> list[Reply]:
        """Process one event and return what to send back. Never raises.

        With `via_outbox` the replies are stored in the outbox in the same transaction as the
        conversation state, for a channel whose delivery can fail and must be retried; what is
        returned then is only what could not be stored (storage failing): the channel sends
        that itself, at once, or the person would hear nothing.
        """
        key = (event.channel, event.user)
        flood_key = None if event.channel in self._unlimited else f"{event.channel}:{event.user}"
        if flood_key and not self.flood.shared:
            verdict = await self.flood.check(flood_key)
            if verdict is not Verdict.OK:
                return self._flooded(event, verdict)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            for _ in range(STATE_RETRIES):
                try:
                    async with self._storage.begin() as unit:
                        if flood_key and self.flood.shared:
                            # Counted in the turn's transaction: its row lock also makes this
                            # person's turns on other instances wait for this one.
                            verdict = await self.flood.check_in(unit, flood_key)
                            if verdict is not Verdict.OK:
                                return self._flooded(event, verdict)
                        replies, forgotten = await self._handle(unit, event)
                        if via_outbox:
                            for reply in replies:
                                await unit.outbox.add(event.channel, event.user, reply.to_body())
                            replies = []
                    if forgotten:
                        await self._storage.erase_from_files()
                    return replies
                except StaleStateError:
                    continue
                except (SQLAlchemyError, OSError) as exc:
                    # Disk full, database unreachable or locked: nothing of this turn was
                    # stored (one transaction), and what was stored before stays.
                    logger.error(
                        "storage failed for %s user: %s", event.channel, type(exc).__name__
                    )
                    return await self._without_storage(event)
                except Exception:
                    logger.exception("turn failed for %s user", event.channel)
                    break
        return [self._busy(event)]

    def _flooded(self, event: Inbound, verdict: Verdict) -> list[Reply]:
        if verdict is Verdict.SILENT:
            return []  # one notice per flood, not one per message
        t = self.locales.get(event.client_lang or self._default_lang)
        return [Reply(key="rate-limited", text=t("rate-limited"), lang=t.lang, rtl=t.rtl)]

    def _busy(self, event: Inbound) -> Reply:
        t = self.locales.get(event.client_lang or self._default_lang)
        return Reply(key="error-busy", text=t("error-busy"), lang=t.lang, rtl=t.rtl)

    async def _without_storage(self, event: Inbound) -> list[Reply]:
        """Storage is failing: answer what needs no memory (FAQ answers, browsing, emergency
        numbers) and tell the person that requests cannot be taken just now."""
        lang = event.client_lang if event.client_lang in self.locales else self._default_lang
        user = UserDto(
            id=0, channel=event.channel, external_id=event.user, lang=None, switch_offered=True
        )
        turn = Turn(
            unit=None,  # type: ignore[arg-type]  (never used: stored=False)
            user=user,
            step=NEW,
            data={},
            lang=lang,
            t=self.locales.get(lang),
            client_lang=event.client_lang,
            stored=False,
        )
        try:
            urgent = await self._answer_without_storage(turn, event)
        except Exception:
            logger.exception("answering without storage failed for %s user", event.channel)
            return [self._busy(event)]
        turn.say("storage-down-urgent" if urgent else "storage-down")
        return turn.replies

    async def _answer_without_storage(self, turn: Turn, event: Inbound) -> bool:
        """The part of a turn that needs no storage. True when the message was urgent."""
        if event.kind == "button":
            try:
                p = pl.parse(event.payload)
            except pl.ForgedPayloadError:
                return False
            if p.action == Action.LANG and p.value in self.locales:
                turn.lang, turn.t = p.value, self.locales.get(p.value)
                self._show_menu(turn)
            elif p.action == Action.MENU:
                self._show_menu(turn)
            elif p.action == Action.CATEGORY and p.value in self.faq.categories:
                self._show_category(turn, p.value)
            elif p.action in (Action.TOPIC, Action.SOURCE_VERSION) and p.value in self.faq.topics:
                await self._show_answer(turn, p.value, source=p.action == Action.SOURCE_VERSION)
            return False
        text = clean(event.text or "")[:MAX_TEXT] if event.kind == "text" else ""
        if not text or text.startswith("/"):
            command = _command(text)[0] if text else None
            if event.kind == "open" or command in ("start", "menu"):
                self._show_menu(turn)
            elif command == "help":
                self._help(turn)
            return False
        match = self.matcher.match(text, hint=turn.client_lang)
        if match.lang_confident and match.lang in self.locales:
            turn.lang, turn.t = match.lang, self.locales.get(match.lang)
        if match.decision == "urgent":
            logger.warning("urgent situation recognised (%s), storage down", match.urgent_category)
            self._say_help_now(turn)
            return True
        if match.decision == "answer" and match.topic:
            await self._show_answer(turn, match.topic)
            self._say_beside_answer(turn, match)
        elif match.decision == "clarify":
            turn.say("clarify-intro", self._candidate_rows(turn, match.candidates))
        elif match.decision == "chatter":
            self._say_chatter(turn, match.intent)
        return False

    def use(self, faq: Faq, matcher: Matcher) -> None:
        """Serve new FAQ content (hot reload); conversations in progress go on."""
        self.faq, self.matcher = faq, matcher

    async def collect(self, channel: str, user: str) -> list[Reply]:
        """Messages queued for this user by others (a caseworker's answer), for channels that
        show them when the user is there (the console)."""
        async with self._storage.begin() as unit:
            messages = await unit.outbox.take(channel, user)
        return [Reply.from_body(m.body) for m in messages]

    # ----------------------------------------------------------------- dispatch

    async def _handle(self, unit: Unit, event: Inbound) -> tuple[list[Reply], bool]:
        """The turn's replies, and whether the person was forgotten in it."""
        if event.update_id is not None:
            updates = unit.updates
            first = await updates.first_time(event.channel, event.update_id)
            if not first:
                logger.info("update %s was already processed", event.update_id)
                return [], False
        states = unit.states
        user, state = await states.open(event.channel, event.user)
        client_lang = event.client_lang if event.client_lang in self.locales else None
        lang = user.lang or client_lang or self._default_lang
        turn = Turn(
            unit=unit,
            user=user,
            step=state.step,
            data=dict(state.data),
            lang=lang,
            t=self.locales.get(lang),
            client_lang=client_lang,
            open_case=state.open_case,
        )
        await self._dispatch(turn, event)
        if not turn.forgotten:
            await states.save(user.id, turn.step, turn.data, state.version)
        return turn.replies, turn.forgotten

    async def _dispatch(self, turn: Turn, event: Inbound) -> None:
        if event.kind == "button":
            await self._on_button(turn, event.payload)
        elif event.kind == "contact" and turn.step == CB_PHONE:
            await self._on_phone(turn, event.phone or "")
        elif event.kind == "open":
            await self._reopen(turn, returning=True)
        elif event.kind != "text":
            turn.say("input-not-text")
            await self._reopen(turn)
        else:
            text = clean(event.text or "")[:MAX_TEXT]
            if not text:
                turn.say("input-empty")
            elif text.startswith("/"):
                await self._on_command(turn, text)
            elif turn.step == NEW:
                await self._on_first_text(turn, text)
            else:
                await self._on_text(turn, text)

    async def _on_command(self, turn: Turn, text: str) -> None:
        command, argument = _command(text)
        if command == "start":
            await self._start(turn, argument.strip())
        elif command == "menu":
            self._clear_draft(turn)
            self._show_menu(turn)
        elif command == "help":
            self._help(turn)
        elif command == "forget":
            turn.step = FORGET_CONFIRM
            rows = [
                [Button(turn.t("buttons-forget-yes"), pl.yes_no(Action.FORGET, yes=True))],
                [Button(turn.t("buttons-forget-no"), pl.yes_no(Action.FORGET, yes=False))],
            ]
            turn.say("privacy-forget-confirm", rows)
        elif command in ("language", "lang"):
            self._offer_languages(turn, "language-choose")
        elif command == "cancel":
            if turn.step in CALLBACK_STEPS:
                self._clear_draft(turn)
                turn.say("cancel-done")
            else:
                turn.say("cancel-nothing")
            self._show_menu(turn)
        else:
            turn.say("command-unknown", [[self._menu_button(turn)]])

    def _help(self, turn: Turn) -> None:
        turn.say("help-text")
        turn.say("help-privacy", [[self._menu_button(turn)]])

    async def _on_button(self, turn: Turn, raw: str | None) -> None:
        try:
            payload = pl.parse(raw)
            await self._press(turn, payload)
        except pl.ForgedPayloadError:
            logger.warning("refused a button payload that is not ours")
            self._clear_draft(turn)
            turn.say("button-invalid")
            self._show_menu(turn)

    async def _press(self, turn: Turn, p: pl.Payload) -> None:  # noqa: PLR0912
        action, value = p.action, p.value
        if action == Action.LANG and value in self.locales:
            await self._set_language(turn, value)
            turn.say("language-set", language=turn.t.name)
            self._show_menu(turn)
        elif action == Action.SWITCH and value in self.locales:
            await self._set_language(turn, value)
            turn.say("language-set", language=turn.t.name)
            topic = turn.data.get("topic")
            if turn.step == ANSWERED and topic in self.faq.topics:
                await self._show_answer(turn, topic)
        elif action == Action.KEEP_LANGUAGE and value is None:
            turn.say("language-kept", language=turn.t.name)
        elif action == Action.MENU and value is None:
            self._clear_draft(turn)
            self._show_menu(turn)
        elif action == Action.CATEGORY and value in self.faq.categories:
            self._clear_draft(turn)
            self._show_category(turn, value)
        elif action == Action.TOPIC and value in self.faq.topics:
            self._clear_draft(turn)
            await self._show_answer(turn, value)
        elif action in (Action.PERSON, Action.NONE_OF_THESE) and value is None:
            if action == Action.NONE_OF_THESE and turn.data.get("question"):
                await self._log_unanswered(turn, turn.data["question"], "none-fits")
                await self._record(turn, "none-fits")
            self._start_callback(turn)
        elif action == Action.HELPED and value in (pl.YES, pl.NO):
            await self._feedback(turn, helped=value == pl.YES)
        elif action == Action.TIME and value in pl.TIMES and turn.step == CB_TIME:
            turn.data["time"] = value
            self._ask_request_question(turn)
        elif (
            action == Action.KEEP_QUESTION
            and turn.step == CB_QUESTION
            and turn.data.get("question")
        ):
            turn.data["request_question"] = turn.data["question"]
            self._ask_consent(turn)
        elif action == Action.CONSENT and value in (pl.YES, pl.NO) and turn.step == CB_CONSENT:
            await self._consent(turn, agreed=value == pl.YES)
        elif action == Action.FORGET and value in (pl.YES, pl.NO) and turn.step == FORGET_CONFIRM:
            if value == pl.NO:
                turn.say("privacy-kept")
                self._show_menu(turn)
                return
            erased = await turn.unit.privacy.forget(turn.user.id)
            turn.forgotten = True
            logger.info("a user was forgotten on request (%s)", turn.user.channel)
            turn.say(
                "privacy-forgotten",
                requests=erased.requests,
                questions=erased.questions,
                messages=erased.messages,
            )
        elif action == Action.SOURCE_VERSION and value in self.faq.topics:
            await self._show_answer(turn, value, source=True)
        elif action == Action.APPOINTMENT and value is None:
            self._clear_draft(turn)
            self._ask_kind(turn)
        elif action == Action.KIND and value in KINDS and turn.step == AP_KIND:
            turn.data["ap_kind"] = value
            if value == "accompaniment":
                self._ask_place(turn)
            else:
                self._ask_office(turn)
        elif action == Action.PLACE and value in PLACES and turn.step == AP_PLACE:
            turn.data["ap_place"] = value
            self._ask_office(turn)
        elif (
            action == Action.OFFICE and turn.step == AP_OFFICE and value in self._offices_for(turn)
        ):
            turn.data["ap_office"] = value
            self._ask_day(turn)
        elif action == Action.DAY and turn.step == AP_DAY and value in self._days():
            turn.data["ap_day"] = value
            self._ask_part(turn)
        elif action == Action.PART and value in pl.PARTS and turn.step == AP_PART:
            turn.data["ap_part"] = value
            turn.data["request_kind"] = "appointment"
            self._start_callback(turn)
        elif action == Action.CANCEL_APPOINTMENT and value:
            await self._cancel_appointment(turn, value)
        elif action == Action.RATE and value:
            reference, stars = pl.parse_rating(p)
            rated = await turn.unit.requests.rate(reference, turn.user.id, stars)
            if not rated:
                raise pl.ForgedPayloadError(p.encode())
            turn.say("rating-thanks", [[self._menu_button(turn)]])
        elif action == Action.CANCEL and value is None:
            if turn.step in CALLBACK_STEPS:
                self._clear_draft(turn)
                turn.say("cancel-done")
            else:
                turn.say("cancel-nothing")
            self._show_menu(turn)
        else:
            raise pl.ForgedPayloadError(p.encode())

    # ----------------------------------------------------------------- start and language

    async def _start(self, turn: Turn, argument: str) -> None:
        """Greet; a deep-link argument (``vi`` or ``ru__topic-id``) picks a language and topic."""
        turn.data = {}
        lang, _, topic = argument.partition("__")
        if lang in self.locales:
            await self._set_language(turn, lang)
        turn.say("start-greeting")
        if topic in self.faq.topics:
            await self._show_answer(turn, topic)
        elif turn.user.lang or lang in self.locales:
            self._show_menu(turn)
        else:
            self._offer_languages(turn, "start-choose-language")

    async def _reopen(self, turn: Turn, *, returning: bool = False) -> None:
        """Show the prompt of the step the user is at (after a restart, or after a sticker).

        A person `returning` to the chat (the console opened again) at the menu also hears
        about their request still in the queue: the bot may have stopped before they saw its
        reference.
        """
        if returning and turn.step not in CALLBACK_STEPS:
            requests = turn.unit.requests
            reference = await requests.waiting_reference_of(turn.user.id)
            if reference:
                turn.say("callback-waiting", reference=reference)
        if turn.step == NEW:
            await self._start(turn, "")
        elif turn.step == CHOOSING_LANGUAGE:
            self._offer_languages(turn, "language-choose")
        elif turn.step == CB_PHONE and turn.data.get("urgent"):
            turn.say("urgent-offer", [[self._cancel_button(turn)]], request_phone=True)
        else:
            prompts = {
                CB_PHONE: self._start_callback,
                CB_TIME: self._ask_time,
                CB_QUESTION: self._ask_request_question,
                CB_CONSENT: self._ask_consent,
                AP_KIND: self._ask_kind,
                AP_PLACE: self._ask_place,
                AP_OFFICE: self._ask_office,
                AP_DAY: self._ask_day,
                AP_PART: self._ask_part,
            }
            prompts.get(turn.step, self._show_menu)(turn)

    def _offer_languages(self, turn: Turn, key: str) -> None:
        preferred = turn.user.lang or turn.client_lang
        order = sorted(self.locales.languages, key=lambda code: code != preferred)
        buttons = [
            Button(
                ("✓ " if code == preferred else "") + self.locales.get(code).name,
                pl.make(Action.LANG, code),
            )
            for code in order
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        turn.step = CHOOSING_LANGUAGE
        turn.say(key, rows)

    async def _set_language(self, turn: Turn, lang: str) -> None:
        await turn.unit.states.set_lang(turn.user.id, lang)
        turn.lang = lang
        turn.t = self.locales.get(lang)
        turn.user = _with_lang(turn.user, lang)

    async def _on_first_text(self, turn: Turn, text: str) -> None:
        """A first message that is already a question: answer it in the language it is in."""
        turn.say("start-greeting")
        await self._question(turn, text)

    # ----------------------------------------------------------------- free text

    async def _on_text(self, turn: Turn, text: str) -> None:
        if turn.step not in CALLBACK_STEPS and turn.open_case is not None:
            await self._relay(turn, turn.open_case, text)
            return
        if self.matcher.urgent and not (turn.step == CB_PHONE and parse_phone(text)):
            # Matched once per turn: `_question` gets the same match from the matcher's memo.
            category = self.matcher.urgent_category(text, hint=turn.user.lang)
            if category:
                await self._urgent(turn, text, category)
                return
        if turn.step == CHOOSING_LANGUAGE:
            chosen = self._language_named(text)
            if chosen:
                await self._set_language(turn, chosen)
                turn.say("language-set", language=turn.t.name)
                self._show_menu(turn)
                return
            await self._question(turn, text)
        elif turn.step == CB_PHONE:
            await self._on_phone(turn, text)
        elif turn.step == CB_TIME:
            chosen_time = self._time_named(turn, text)
            if chosen_time:
                turn.data["time"] = chosen_time
                self._ask_request_question(turn)
            else:
                self._ask_time(turn)
        elif turn.step == CB_QUESTION:
            turn.data["request_question"] = text
            self._ask_consent(turn)
        elif turn.step in (CB_CONSENT, AP_KIND, AP_PLACE, AP_OFFICE, AP_DAY, AP_PART):
            await self._reopen(turn)  # these steps are answered with the buttons
        else:
            await self._question(turn, text)

    def _language_named(self, text: str) -> str | None:
        wanted = fold(text).strip(" ✓")
        for code in self.locales.languages:
            if wanted in (code, fold(self.locales.get(code).name)):
                return code
        return None

    def _time_named(self, turn: Turn, text: str) -> str | None:
        wanted = fold(text)
        for part in pl.TIMES:
            label = fold(turn.t(f"callback-time-{part}"))
            if wanted and (wanted == label or label.startswith(wanted)):
                return part
        return None

    async def _question(self, turn: Turn, text: str) -> None:
        match = self.matcher.match(text, hint=turn.user.lang)
        if turn.user.lang is None:
            # No language chosen yet: the one the question is written in, unless that is a guess
            # and the person's phone tells us better.
            trust = match.lang_confident or not turn.client_lang
            await self._set_language(turn, match.lang if trust else turn.lang)
        if match.decision == "urgent":
            await self._urgent(turn, text, match.urgent_category)
            return
        if match.decision == "chatter":
            await self._chatter(turn, match.intent)
            return
        turn.data = {"disclaimer": turn.data.get("disclaimer", False), "question": text}
        if match.decision == "answer" and match.topic:
            await self._show_answer(turn, match.topic)
            self._say_beside_answer(turn, match)
        elif match.decision == "clarify":
            turn.step = CLARIFYING
            rows = self._candidate_rows(turn, match.candidates)
            rows.append([Button(turn.t("buttons-none-of-these"), pl.make(Action.NONE_OF_THESE))])
            turn.say("clarify-intro", rows)
            await self._record(turn, "clarify")
            best = match.candidates[0]
            await self._log_unanswered(turn, text, "unsure", best.topic, best.score)
        else:
            turn.step = ESCALATED
            best = match.candidates[0] if match.candidates else None
            await self._log_unanswered(
                turn, text, "no-match", best.topic if best else None, best.score if best else 0
            )
            turn.say(
                "escalate-intro",
                [
                    [self._person_button(turn)],
                    [self._appointment_button(turn)],
                    [self._menu_button(turn)],
                ],
            )
            await self._record(turn, "no-match")
        await self._maybe_offer_switch(turn, match.lang, match.lang_confident, text)

    def _say_beside_answer(self, turn: Turn, match: Match) -> None:
        """After an answer: the other question of a two-question message, and when the
        matcher was not sure, the next topics and a person."""
        if match.also:
            turn.say(
                "answer-also", self._candidate_rows(turn, (Candidate(t, 0) for t in match.also))
            )
        if match.alternatives:
            rows = self._candidate_rows(turn, match.alternatives)
            rows.append([self._person_button(turn)])
            turn.say("answer-alternatives", rows)

    async def _chatter(self, turn: Turn, intent: str | None) -> None:
        """Small talk is answered in kind, never as an unanswered question."""
        self._say_chatter(turn, intent)
        await self._record(turn, "chatter")

    def _say_chatter(self, turn: Turn, intent: str | None) -> None:
        if intent in CHATTER_GREETS:
            turn.say("start-greeting")
            self._show_menu(turn)
        elif intent in CHATTER_PERSON:
            turn.say(
                "feedback-sorry",
                [
                    [self._person_button(turn)],
                    [self._appointment_button(turn)],
                    [self._menu_button(turn)],
                ],
            )
        else:
            turn.say("feedback-thanks", [[self._menu_button(turn)]])

    def _candidate_rows(self, turn: Turn, candidates: Iterable[Candidate]) -> list[list[Button]]:
        """One button per topic the question may be about."""
        return [
            [Button(self.faq.topics[c.topic].title(turn.lang), pl.make(Action.TOPIC, c.topic))]
            for c in candidates
        ]

    async def _maybe_offer_switch(
        self, turn: Turn, detected: str, confident: bool, text: str
    ) -> None:
        """Offer once to continue in the language the user writes in: only for a message with
        words enough to tell a language (a reference code, a number or "ok" has none)."""
        if not confident or detected == turn.lang or detected not in self.locales:
            return
        if sum(ch.isalpha() for ch in text) < MIN_LETTERS_FOR_SWITCH:
            return
        if turn.user.switch_offered:
            return
        other = self.locales.get(detected)
        await turn.unit.states.mark_switch_offered(turn.user.id)
        turn.replies.append(
            Reply(
                key="language-switch-offer",
                text=other("language-switch-offer", language=other.name),
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

    # ----------------------------------------------------------------- browsing and answers

    def _show_menu(self, turn: Turn) -> None:
        turn.step = MENU
        rows = [
            [Button(turn.t(f"category-{c}"), pl.make(Action.CATEGORY, c))]
            for c in self.faq.categories
        ]
        rows.append([self._person_button(turn)])
        rows.append([self._appointment_button(turn)])
        turn.say("menu-title", rows)

    def _show_category(self, turn: Turn, category: str) -> None:
        turn.step = CATEGORY
        turn.data["category"] = category
        rows = [
            [Button(topic.title(turn.lang), pl.make(Action.TOPIC, topic.id))]
            for topic in self.faq.in_category(category)
        ]
        rows.append([Button(turn.t("buttons-back"), pl.make(Action.MENU))])
        turn.say("menu-category", rows, category=turn.t(f"category-{category}"))

    async def _show_answer(self, turn: Turn, topic_id: str, *, source: bool = False) -> None:
        """The answer in the person's language; `source`: the newest, source-language one."""
        topic = self.faq.topics[topic_id]
        t = self.locales.get(SOURCE_LANGUAGE) if source else turn.t
        tr = topic.translation(t.lang)
        if not turn.data.get("disclaimer"):
            turn.say("disclaimer")
            turn.data["disclaimer"] = True
        text = t.text(tr.answer)
        stale = not source and _outdated(topic, t.lang)
        if stale:
            newest = self.locales.get(SOURCE_LANGUAGE).name
            text = f"{text}\n\n{turn.t('answer-outdated', language=newest)}"
        if topic.links:
            text = f"{text}\n\n{t('answer-links', links=' '.join(topic.links))}"
        text = f"{text}\n\n{turn.t('answer-feedback')}"
        rows = [
            [
                Button(turn.t("buttons-helped-yes"), pl.yes_no(Action.HELPED, yes=True)),
                Button(turn.t("buttons-helped-no"), pl.yes_no(Action.HELPED, yes=False)),
            ],
            [
                Button(turn.t("buttons-back"), pl.make(Action.CATEGORY, topic.category)),
                self._menu_button(turn),
            ],
        ]
        if stale:
            label = turn.t(
                "buttons-newest-version", language=self.locales.get(SOURCE_LANGUAGE).name
            )
            rows.insert(0, [Button(label, pl.make(Action.SOURCE_VERSION, topic.id))])
        turn.replies.append(
            Reply(
                key="faq-answer",
                text=text,
                lang=t.lang,
                rtl=t.rtl,
                title=t.text(tr.question),
                buttons=tuple(tuple(r) for r in rows),
            )
        )
        turn.step = ANSWERED
        turn.data["topic"] = topic_id
        await self._record(turn, "faq-answer", topic_id)

    async def _feedback(self, turn: Turn, *, helped: bool) -> None:
        topic = turn.data.get("topic")
        if turn.step != ANSWERED or topic is None:
            raise pl.ForgedPayloadError("feedback without an answer")
        await self._record(turn, "helped" if helped else "not-helped", topic)
        if helped:
            turn.step = MENU
            turn.say("feedback-thanks", [[self._menu_button(turn)]])
            return
        await self._log_unanswered(
            turn, turn.data.get("question") or topic, "not-helpful", topic, 0
        )
        turn.say(
            "feedback-sorry",
            [
                [self._person_button(turn)],
                [self._appointment_button(turn)],
                [self._menu_button(turn)],
            ],
        )

    async def _log_unanswered(
        self, turn: Turn, text: str, reason: str, topic: str | None = None, score: int = 0
    ) -> None:
        await turn.unit.unanswered.add(
            user_id=turn.user.id,
            text=text,
            lang=turn.lang,
            reason=reason,
            best_topic=topic,
            best_score=score,
        )

    # ----------------------------------------------------------------- caseworker desk

    async def _relay(self, turn: Turn, reference: str, text: str) -> None:
        """A person with an open case writes: the message goes to their caseworker."""
        hit = self.matcher.urgent_category(text, hint=turn.user.lang)
        # The person answered a caseworker who was waiting: it is the caseworker's turn again.
        await turn.unit.requests.move(reference, RequestStatus.ANSWERED)
        await self._to_staff(turn, "staff-migrant-says", reference, reply_to=True, text=text)
        if hit:
            turn.say("urgent-help-now")
        turn.say("case-relayed")

    async def _to_staff(
        self,
        turn: Turn,
        key: str,
        reference: str,
        *,
        buttons: bool = False,
        reply_to: bool = False,
        **args: object,
    ) -> None:
        """Queue a message for the caseworkers' desk (in the staff language)."""
        await queue_for_staff(
            turn.unit, self.staff_t, key, reference, buttons=buttons, reply_to=reply_to, **args
        )

    async def _announce(self, turn: Turn, request: CallbackDto) -> None:
        t = self.staff_t
        language = f"{request.lang} ({self.locales.get(request.lang).name})"
        common = {
            "language": language,
            "phone": request.phone or "-",
            "question": request.question or "-",
        }
        if request.urgent:
            key = "staff-urgent-request"
        else:
            key = "staff-new-request"
            topic = request.topic_id
            common["topic"] = (
                self.faq.topics[topic].title(t.lang)
                if topic in self.faq.topics
                else t("staff-no-topic")
            )
            common["time"] = t(f"callback-time-{request.preferred_time}")
        # Routing: caseworkers who speak the person's language hear of it first, in their own
        # chat; everyone (the desk) when nobody speaks it, when it is urgent (then every
        # caseworker personally too), or later when it is still unclaimed (the SLA reminder).
        staff = await turn.unit.staff.list_staff()
        speakers = [s for s in staff if request.lang in s.languages]
        personally = staff if request.urgent else speakers
        for member in personally:
            await queue_for_staff(
                turn.unit, t, key, request.reference, buttons=True, to=member, **common
            )
        if request.urgent or not speakers:
            await self._to_staff(turn, key, request.reference, buttons=True, **common)
            await turn.unit.requests.mark_announced(request.reference)

    # ----------------------------------------------------------------- appointments

    def _ask_kind(self, turn: Turn) -> None:
        turn.step = AP_KIND
        rows = [
            [Button(turn.t(f"appointment-kind-{kind}"), pl.make(Action.KIND, kind))]
            for kind in KINDS
        ]
        rows.append([self._cancel_button(turn)])
        turn.say("appointment-kind", rows)

    def _ask_place(self, turn: Turn) -> None:
        turn.step = AP_PLACE
        rows = [
            [Button(turn.t(f"appointment-place-{place}"), pl.make(Action.PLACE, place))]
            for place in PLACES
        ]
        rows.append([self._cancel_button(turn)])
        turn.say("appointment-place", rows)

    def _offices_for(self, turn: Turn) -> list[str]:
        """Offices offering the chosen help, those serving the person's language first."""
        kind = turn.data.get("ap_kind", "")
        offering = [o for o in self.offices.values() if o.serves(kind)]
        in_language = [o.id for o in offering if turn.lang in o.languages]
        return in_language or [o.id for o in offering]

    def _ask_office(self, turn: Turn) -> None:
        offices = self._offices_for(turn)
        if not offices:
            self._clear_draft(turn)
            turn.step = MENU
            turn.say(
                "appointment-no-office", [[self._person_button(turn)], [self._menu_button(turn)]]
            )
            return
        if len(offices) == 1:
            turn.data["ap_office"] = offices[0]
            self._ask_day(turn)
            return
        turn.step = AP_OFFICE
        rows = [[Button(self.offices[o].name, pl.make(Action.OFFICE, o))] for o in offices]
        rows.append([self._cancel_button(turn)])
        turn.say("appointment-office", rows)

    def _days(self) -> list[str]:
        return [d.isoformat() for d in working_days(today_in_prague(utcnow()))]

    def _ask_day(self, turn: Turn) -> None:
        turn.step = AP_DAY
        days = [date.fromisoformat(d) for d in self._days()]
        buttons = [
            Button(day_label(d, turn.lang), pl.make(Action.DAY, d.isoformat())) for d in days
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append([self._cancel_button(turn)])
        turn.say("appointment-day", rows)

    def _ask_part(self, turn: Turn) -> None:
        turn.step = AP_PART
        rows = [
            [Button(turn.t(f"callback-time-{part}"), pl.make(Action.PART, part))]
            for part in pl.PARTS
        ]
        rows.append([self._cancel_button(turn)])
        turn.say("appointment-part", rows)

    async def _store_appointment(self, turn: Turn) -> None:
        data = turn.data
        appointment = await turn.unit.appointments.create(
            user_id=turn.user.id,
            lang=turn.lang,
            kind=data["ap_kind"],
            place=data.get("ap_place"),
            office_id=data["ap_office"],
            preferred_day=date.fromisoformat(data["ap_day"]),
            part_of_day=data["ap_part"],
            phone=data["phone"],
            consent_at=utcnow(),
            consent_version=await self._consent_version(turn),
        )
        logger.info("appointment request %s stored (%s)", appointment.reference, turn.lang)
        await self._record(turn, f"appointment:{appointment.kind}")
        staff, office = self.staff_t, self.offices[appointment.office_id]
        await self._to_staff(
            turn,
            "staff-new-appointment",
            appointment.reference,
            language=f"{appointment.lang} ({self.locales.get(appointment.lang).name})",
            kind=staff(f"appointment-kind-{appointment.kind}")
            + (
                f" – {staff(f'appointment-place-{appointment.place}')}"
                if appointment.place
                else ""
            ),
            office=office.name,
            day=day_label(appointment.preferred_day, staff.lang),
            part=staff(f"callback-time-{appointment.part_of_day}"),
            phone=appointment.phone or "-",
        )
        self._clear_draft(turn)
        turn.step = MENU
        turn.say(
            "appointment-requested",
            [[self._menu_button(turn)]],
            reference=appointment.reference,
            kind=turn.t(f"appointment-kind-{appointment.kind}"),
            office=office.name,
            day=day_label(appointment.preferred_day, turn.lang),
            part=turn.t(f"callback-time-{appointment.part_of_day}"),
        )

    async def _cancel_appointment(self, turn: Turn, reference: str) -> None:
        repo = turn.unit.appointments
        appointment = await repo.get(reference)
        if appointment is None or appointment.user_id != turn.user.id:
            raise pl.ForgedPayloadError(reference)
        if not await repo.move(reference, AppointmentStatus.CANCELLED):
            raise pl.ForgedPayloadError(reference)
        await self._to_staff(turn, "staff-appointment-cancelled", reference, reply_to=True)
        turn.say("appointment-cancelled", [[self._menu_button(turn)]], reference=reference)

    # ----------------------------------------------------------------- urgent situations

    async def _urgent(self, turn: Turn, text: str, category: str | None) -> None:
        """Say what to do now, then take a phone number at once: time and question can wait."""
        logger.warning("urgent situation recognised (%s)", category)
        await self._record(turn, "urgent")
        if turn.user.lang is None:
            detection = self.matcher.detect(text, hint=turn.client_lang)
            await self._set_language(turn, detection.lang if detection.confident else turn.lang)
        phone = turn.data.get("phone")
        turn.data = {
            "disclaimer": turn.data.get("disclaimer", False),
            "question": text,
            "request_question": text,
            "urgent": True,
            "time": URGENT_TIME,
        }
        self._say_help_now(turn)
        if phone:
            turn.data["phone"] = phone
            self._ask_consent(turn)
            return
        turn.step = CB_PHONE
        turn.say("urgent-offer", [[self._cancel_button(turn)]], request_phone=True)

    def _say_help_now(self, turn: Turn) -> None:
        """What to do at once in an urgent situation: the emergency numbers and contacts."""
        turn.say("urgent-help-now")
        if self._crisis_contacts:
            turn.say("urgent-contacts", contacts=self._crisis_contacts)

    # ----------------------------------------------------------------- callback request

    def _start_callback(self, turn: Turn) -> None:
        turn.step = CB_PHONE
        turn.say("callback-phone", [[self._cancel_button(turn)]], request_phone=True)

    async def _on_phone(self, turn: Turn, text: str) -> None:
        phone = parse_phone(text)
        if phone is None:
            turn.say("callback-phone-invalid", [[self._cancel_button(turn)]], request_phone=True)
            return
        turn.data["phone"] = phone
        if turn.data.get("urgent") or turn.data.get("request_kind") == "appointment":
            self._ask_consent(turn)
        else:
            self._ask_time(turn)

    def _ask_time(self, turn: Turn) -> None:
        turn.step = CB_TIME
        rows = [
            [Button(turn.t(f"callback-time-{time}"), pl.make(Action.TIME, time))]
            for time in pl.TIMES
        ]
        rows.append([self._cancel_button(turn)])
        turn.say("callback-time", rows)

    def _ask_request_question(self, turn: Turn) -> None:
        turn.step = CB_QUESTION
        question = turn.data.get("question")
        if question:
            rows = [
                [Button(turn.t("buttons-keep-question"), pl.make(Action.KEEP_QUESTION))],
                [self._cancel_button(turn)],
            ]
            turn.say("callback-question-prefilled", rows, question=question)
        else:
            turn.say("callback-question", [[self._cancel_button(turn)]])

    def _ask_consent(self, turn: Turn) -> None:
        turn.step = CB_CONSENT
        rows = [
            [Button(turn.t("buttons-consent-yes"), pl.yes_no(Action.CONSENT, yes=True))],
            [Button(turn.t("buttons-consent-no"), pl.yes_no(Action.CONSENT, yes=False))],
        ]
        turn.say("callback-consent", rows, days=self._retention_days)

    async def _consent(self, turn: Turn, *, agreed: bool) -> None:
        if not agreed:
            self._clear_draft(turn)
            turn.say("callback-declined")
            self._show_menu(turn)
            return
        if turn.data.get("request_kind") == "appointment":
            await self._store_appointment(turn)
            return
        request = await turn.unit.requests.create(
            user_id=turn.user.id,
            lang=turn.lang,
            topic_id=turn.data.get("topic"),
            phone=turn.data["phone"],
            preferred_time=turn.data["time"],
            question=turn.data.get("request_question"),
            consent_at=utcnow(),
            consent_version=await self._consent_version(turn),
            urgent=bool(turn.data.get("urgent")),
        )
        logger.info("callback request %s stored (%s)", request.reference, request.lang)
        await self._announce(turn, request)
        await self._record(
            turn, "urgent-callback" if request.urgent else "callback", request.topic_id
        )
        part = turn.data["time"]
        self._clear_draft(turn)
        turn.step = MENU
        if request.urgent:
            turn.say("urgent-done", [[self._menu_button(turn)]], reference=request.reference)
            return
        turn.say(
            "callback-done",
            [[self._menu_button(turn)]],
            reference=request.reference,
            time=turn.t(f"callback-time-{part}"),
        )

    async def _consent_version(self, turn: Turn) -> str:
        """The version of the consent text the person agreed to (kept with its exact text)."""
        text = turn.t("callback-consent", days=self._retention_days)
        version = hashlib.sha256(text.encode()).hexdigest()[:12]
        await turn.unit.consents.record(version, turn.lang, text)
        return version

    # ----------------------------------------------------------------- helpers

    async def _record(self, turn: Turn, kind: str, topic: str | None = None) -> None:
        """An anonymous fact for the funders' report."""
        if not turn.stored:
            return
        await turn.unit.interactions.add(
            person_key=turn.user.person_key,
            channel=turn.user.channel,
            kind=kind,
            lang=turn.lang,
            topic=topic,
        )

    def _clear_draft(self, turn: Turn) -> None:
        for key in DRAFT_KEYS:
            turn.data.pop(key, None)
        if turn.step in CALLBACK_STEPS:
            turn.step = MENU

    def _menu_button(self, turn: Turn) -> Button:
        return Button(turn.t("buttons-menu"), pl.make(Action.MENU))

    def _appointment_button(self, turn: Turn) -> Button:
        return Button(turn.t("buttons-appointment"), pl.make(Action.APPOINTMENT))

    def _person_button(self, turn: Turn) -> Button:
        return Button(turn.t("buttons-person"), pl.make(Action.PERSON))

    def _cancel_button(self, turn: Turn) -> Button:
        return Button(turn.t("buttons-cancel"), pl.make(Action.CANCEL))


def _outdated(topic: Topic, lang: str) -> bool:
    """Whether the translation was made from an older source-language answer."""
    tr = topic.translations.get(lang)
    source = topic.translations.get(SOURCE_LANGUAGE)
    if tr is None or source is None or lang == SOURCE_LANGUAGE or tr.source_hash is None:
        return False
    return tr.source_hash != source_hash(source.answer)


def _command(text: str) -> tuple[str, str]:
    """A command's name, casefolded, and its argument: "/START@poradna_bot x" -> ("start", "x")."""
    command, _, argument = text[1:].partition(" ")
    return command.split("@", 1)[0].casefold(), argument


def _with_lang(user: UserDto, lang: str) -> UserDto:
    return replace(user, lang=lang)


async def queue_for_staff(
    unit: Unit,
    t: Translator,
    key: str,
    reference: str,
    *,
    buttons: bool = False,
    reply_to: bool = False,
    to: StaffDto | None = None,
    **args: object,
) -> None:
    """Queue a message for the caseworkers' desk (or one caseworker's own chat, `to`), with
    Claim / Close buttons if asked."""
    rows = (
        (
            (
                Button(t("buttons-claim"), pl.staff(StaffAction.CLAIM, reference)),
                Button(t("buttons-close"), pl.staff(StaffAction.CLOSE, reference)),
            ),
        )
        if buttons
        else ()
    )
    reply = Reply(
        key=key,
        text=t(key, reference=reference, **args),
        lang=t.lang,
        rtl=t.rtl,
        buttons=rows,
        reply_to_reference=reference if reply_to else None,
    )
    channel, recipient = (to.channel, to.external_id) if to else (STAFF_CHANNEL, STAFF_RECIPIENT)
    await unit.outbox.add(channel, recipient, reply.to_body(), reference=reference)
