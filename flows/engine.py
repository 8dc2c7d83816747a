"""The conversation engine: one inbound event in, a list of replies out.

The engine only orchestrates; the conversations live in `flows/conversations/` and are found
through the step registry (`flows.registry`) by the one dispatcher (`flows.dispatch`).

Every event is one use case in one unit of work: load the user and where they are in the
conversation, decide, store the new state (and any request) and commit once. A cancelled or
failed step therefore stores nothing half-done. Two events of one user never interleave: a
per-user lock serialises them in this process, and a version check on the stored state catches
another process. When storage fails, the same dispatcher runs on a unit that stores nothing.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Final

from sqlalchemy.exc import SQLAlchemyError

from flows.dispatch import dispatch
from flows.events import Inbound, Reply
from flows.flood import FloodLimit, Verdict
from flows.state import Draft, Step
from flows.turn import Services, Turn
from storage.dto import UserDto
from storage.repositories import StaleStateError
from storage.unit import Unit

if TYPE_CHECKING:
    from faq.loader import Faq
    from faq.offices import Office
    from faq.understanding import Understanding
    from locales import Locales, Translator
    from storage.unit import Storage

logger = logging.getLogger(__name__)

STATE_RETRIES: Final = 3


class Engine:
    """Decides what to answer. Holds no per-user state in memory: storage does."""

    def __init__(
        self,
        *,
        faq: Faq,
        understanding: Understanding,
        locales: Locales,
        storage: Storage,
        retention_days: int,
        default_lang: str = "en",
        crisis_contacts: str | None = None,
        staff_lang: str = "cs",
        offices: list[Office] | None = None,
        rate_limit: int | None = None,
        unlimited_channels: tuple[str, ...] = (),
        human_agent_days: int = 7,
    ) -> None:
        self.services = Services(
            faq=faq,
            understanding=understanding,
            locales=locales,
            staff_t=locales.get(staff_lang),
            offices={office.id: office for office in offices or []},
            retention_days=retention_days,
            crisis_contacts=crisis_contacts,
            human_agent_days=human_agent_days,
        )
        self._storage = storage
        self._default_lang = default_lang
        # Counted in the database on PostgreSQL, where several instances may serve one person.
        shared = storage if storage.dialect == "postgresql" else None
        self.flood = FloodLimit(rate_limit, shared)
        self._unlimited = unlimited_channels
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @property
    def faq(self) -> Faq:
        return self.services.faq

    @property
    def understanding(self) -> Understanding:
        return self.services.understanding

    @property
    def locales(self) -> Locales:
        return self.services.locales

    @property
    def staff_t(self) -> Translator:
        """The staff language's strings."""
        return self.services.staff_t

    @property
    def offices(self) -> dict[str, Office]:
        return self.services.offices

    def use(self, faq: Faq, understanding: Understanding) -> None:
        """Serve new FAQ content (hot reload); conversations in progress go on."""
        self.services.faq, self.services.understanding = faq, understanding

    async def handle(self, event: Inbound, *, via_outbox: bool = False) -> list[Reply]:
        """Process one event and return what to send back. Never raises.

        With `via_outbox` the replies are stored in the outbox in the same transaction as the
        conversation state, for a channel whose delivery can fail and must be retried; what is
        returned then is only what could not be stored (storage failing): the channel sends
        that itself, at once, or the person would hear nothing.
        """
        flood_key = None if event.channel in self._unlimited else f"{event.channel}:{event.user}"
        if flood_key and not self.flood.shared:
            verdict = await self.flood.check(flood_key)
            if verdict is not Verdict.OK:
                return self._flooded(event, verdict)
        key = (event.channel, event.user)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            return await self._with_retries(event, flood_key, via_outbox=via_outbox)

    async def collect(self, channel: str, user: str) -> list[Reply]:
        """Messages queued for this user by others (a caseworker's answer), for channels that
        show them when the user is there (the console)."""
        async with self._storage.begin() as unit:
            messages = await unit.outbox.take(channel, user)
        return [Reply.from_body(m.body) for m in messages]

    async def _with_retries(
        self, event: Inbound, flood_key: str | None, *, via_outbox: bool
    ) -> list[Reply]:
        for _ in range(STATE_RETRIES):
            try:
                return await self._attempt(event, flood_key, via_outbox=via_outbox)
            except StaleStateError:
                continue
            except (SQLAlchemyError, OSError) as exc:
                # Disk full, database unreachable or locked: nothing of this turn was
                # stored (one transaction), and what was stored before stays.
                logger.error("storage failed for %s user: %s", event.channel, type(exc).__name__)
                return await self._without_storage(event)
            except Exception:
                logger.exception("turn failed for %s user", event.channel)
                break
        return [self._busy(event)]

    async def _attempt(
        self, event: Inbound, flood_key: str | None, *, via_outbox: bool
    ) -> list[Reply]:
        """One try at the turn, in one unit of work."""
        async with self._storage.begin() as unit:
            if flood_key and self.flood.shared:
                # Counted in the turn's transaction: its row lock also makes this person's
                # turns on other instances wait for this one.
                verdict = await self.flood.check_in(unit, flood_key)
                if verdict is not Verdict.OK:
                    return self._flooded(event, verdict)  # the count is committed
            turn = await self._turn(unit, event)
            replies = turn.replies if turn else []
            if via_outbox:
                for reply in replies:
                    await unit.outbox.add(event.channel, event.user, reply.to_body())
                replies = []
        if turn and turn.forgotten:
            await self._storage.erase_from_files()
        return replies

    async def _turn(self, unit: Unit, event: Inbound) -> Turn | None:
        """The turn, dispatched and stored; None when the update was processed before."""
        if event.update_id is not None and not await unit.updates.first_time(
            event.channel, event.update_id
        ):
            logger.info("update %s was already processed", event.update_id)
            return None
        user, state = await unit.states.open(event.channel, event.user)
        locales = self.services.locales
        client_lang = event.client_lang if event.client_lang in locales else None
        lang = user.lang or client_lang or self._default_lang
        turn = Turn(
            unit=unit,
            user=user,
            step=Step.stored(state.step),
            draft=Draft.from_data(state.data),
            lang=lang,
            t=locales.get(lang),
            client_lang=client_lang,
            services=self.services,
            open_case=state.open_case,
        )
        await dispatch(turn, event)
        if not turn.forgotten:
            await unit.states.save(user.id, turn.step, turn.draft.to_data(), state.version)
        return turn

    async def _without_storage(self, event: Inbound) -> list[Reply]:
        """Storage is failing: answer what needs no memory (FAQ answers, browsing, emergency
        numbers) and tell the person that requests cannot be taken just now."""
        locales = self.services.locales
        client = event.client_lang
        lang = client if client and client in locales else self._default_lang
        user = UserDto(
            id=0, channel=event.channel, external_id=event.user, lang=None, switch_offered=True
        )
        turn = Turn(
            unit=Unit.nothing(),
            user=user,
            step=Step.NEW,
            draft=Draft(),
            lang=lang,
            t=locales.get(lang),
            client_lang=event.client_lang,
            services=self.services,
            stored=False,
        )
        try:
            await dispatch(turn, event)
        except Exception:
            logger.exception("answering without storage failed for %s user", event.channel)
            return [self._busy(event)]
        turn.say("storage-down-urgent" if turn.urgent else "storage-down")
        return turn.replies

    def _flooded(self, event: Inbound, verdict: Verdict) -> list[Reply]:
        if verdict is Verdict.SILENT:
            return []  # one notice per flood, not one per message
        return [self._notice(event, "rate-limited")]

    def _busy(self, event: Inbound) -> Reply:
        return self._notice(event, "error-busy")

    def _notice(self, event: Inbound, key: str) -> Reply:
        t = self.services.locales.get(event.client_lang or self._default_lang)
        return Reply(key=key, text=t(key), lang=t.lang, rtl=t.rtl)
