"""A scripted user for flow tests: send text, press buttons by label, read what came back."""

from __future__ import annotations

from dataclasses import dataclass, field

from flows import payloads as pl
from flows.engine import Engine
from flows.events import Button, Inbound, Reply
from flows.payloads import Action


@dataclass
class Chat:
    engine: Engine
    user: str = "u1"
    channel: str = "test"
    client_lang: str | None = None
    replies: list[Reply] = field(default_factory=list)

    async def send(self, text: str) -> list[Reply]:
        return await self._do(Inbound.message(self.channel, self.user, text, self.client_lang))

    async def open(self) -> list[Reply]:
        return await self._do(
            Inbound(
                channel=self.channel, user=self.user, kind="open", client_lang=self.client_lang
            )
        )

    async def send_kind(self, kind: str, **fields: object) -> list[Reply]:
        return await self._do(
            Inbound(
                channel=self.channel,
                user=self.user,
                kind=kind,
                client_lang=self.client_lang,
                **fields,
            )  # type: ignore[arg-type]
        )

    async def press_payload(self, payload: str) -> list[Reply]:
        return await self._do(Inbound.press(self.channel, self.user, payload, self.client_lang))

    async def press(self, label_part: str) -> list[Reply]:
        """Press the button of the last replies whose label contains `label_part`."""
        button = self.button(label_part)
        return await self.press_payload(button.payload)

    async def request_callback(
        self,
        lang: str = "en",
        *,
        phone: str = "777123456",
        time: str = "morning",
        question: str = "question",
        agree: bool = True,
    ) -> list[Reply]:
        """From /start to a stored callback request (or to the consent question)."""
        await self.send("/start")
        await self.press_payload(pl.make(Action.LANG, lang))
        await self.press_payload(pl.make(Action.PERSON))
        await self.send(phone)
        await self.press_payload(pl.make(Action.TIME, time))
        await self.send(question)
        if agree:
            await self.press_payload(pl.yes_no(Action.CONSENT, yes=True))
        return self.replies

    def button(self, label_part: str) -> Button:
        buttons = [b for r in self.replies for b in r.flat_buttons]
        found = [b for b in buttons if label_part.casefold() in b.label.casefold()]
        assert found, f"no button {label_part!r} among {[b.label for b in buttons]}"
        return found[0]

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.replies]

    @property
    def text(self) -> str:
        return "\n".join(((r.title + "\n") if r.title else "") + r.text for r in self.replies)

    async def _do(self, event: Inbound) -> list[Reply]:
        self.replies = await self.engine.handle(event)
        return self.replies
