"""What one event works on (`Turn`) and what every conversation may use (`Services`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flows import payloads as pl
from flows.events import Button, Reply
from flows.payloads import Action
from flows.phone import without_phones
from flows.state import Draft, Step

if TYPE_CHECKING:
    from faq.loader import Faq
    from faq.offices import Office
    from faq.understanding import Understanding
    from locales import Locales, Translator
    from storage.dto import UserDto
    from storage.unit import Unit

Rows = list[list[Button]]


@dataclass
class Services:
    """The content and settings the conversations use; one per engine (`use` swaps the FAQ)."""

    faq: Faq
    understanding: Understanding
    locales: Locales
    staff_t: Translator
    offices: dict[str, Office]
    retention_days: int
    crisis_contacts: str | None = None
    # Messenger's HUMAN_AGENT tag: how many days after a person's last message (0: not used).
    human_agent_days: int = 7
    # The time now (tests set another).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class Turn:
    """Everything one event works on: the person, their step and draft, and the replies."""

    unit: Unit
    user: UserDto
    step: Step
    draft: Draft
    lang: str
    t: Translator
    client_lang: str | None
    services: Services
    replies: list[Reply] = field(default_factory=list)
    forgotten: bool = False
    # False while storage is failing: `unit` stores nothing, only what needs no memory is done.
    stored: bool = True
    # The reference of the person's open case: their text goes to its caseworker.
    open_case: str | None = None
    # An urgent situation was recognised in this turn (storage failing: the notice says so).
    urgent: bool = False

    def say(
        self,
        key: str,
        buttons: Rows | None = None,
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

    async def set_language(self, lang: str) -> None:
        """Speak `lang` with this person from now on."""
        await self.unit.states.set_lang(self.user.id, lang)
        self.use_language(lang)

    def use_language(self, lang: str) -> None:
        """Speak `lang` in this turn only (storage failing)."""
        self.lang, self.t = lang, self.services.locales.get(lang)
        self.user = replace(self.user, lang=lang)

    def drop_request(self) -> None:
        """Forget the request in progress; a person in one of its steps is back at the menu."""
        self.draft.drop_request()
        if self.step.in_request:
            self.step = Step.MENU

    async def record(self, kind: str, topic: str | None = None) -> None:
        """An anonymous fact for the funders' report."""
        if not self.stored:
            return
        await self.unit.interactions.add(
            person_key=self.user.person_key,
            channel=self.user.channel,
            kind=kind,
            lang=self.lang,
            topic=topic,
        )

    async def log_unanswered(
        self, text: str, reason: str, topic: str | None = None, score: int = 0
    ) -> None:
        """A question the FAQ did not answer, for the coordinators (never a phone number:
        personal data, and no question)."""
        text = without_phones(text)
        if not any(ch.isalpha() for ch in text.replace("[phone]", "")):
            return
        await self.unit.unanswered.add(
            user_id=self.user.id,
            text=text,
            lang=self.lang,
            reason=reason,
            best_topic=topic,
            best_score=score,
        )

    # The buttons many steps show.

    def menu_button(self) -> Button:
        return Button(self.t("buttons-menu"), pl.make(Action.MENU))

    def appointment_button(self) -> Button:
        return Button(self.t("buttons-appointment"), pl.make(Action.APPOINTMENT))

    def person_button(self) -> Button:
        return Button(self.t("buttons-person"), pl.make(Action.PERSON))

    def cancel_button(self) -> Button:
        return Button(self.t("buttons-cancel"), pl.make(Action.CANCEL))

    def help_rows(self) -> Rows:
        """A person, an appointment or the menu: after an answer that did not help."""
        return [[self.person_button()], [self.appointment_button()], [self.menu_button()]]
