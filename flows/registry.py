"""The step registry: what each step shows, what text does there and what each button does.

A conversation module declares its steps (`declare`), the buttons that work anywhere (`button`)
and its commands (`command`); the dispatcher (`flows.dispatch`) looks them up for every event,
for a stored turn and for one served while storage is failing alike. An entry that needs
memory says what it does without storage (`without_storage`), or nothing is done then. Adding
a step is one `declare` plus its payload (`flows.payloads.Action`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from flows.payloads import Action, ForgedPayloadError, Payload
from flows.state import Step

if TYPE_CHECKING:
    from flows.turn import Turn

Prompt = Callable[["Turn"], Awaitable[None]]
TextHandler = Callable[["Turn", str], Awaitable[None]]
ButtonHandler = Callable[["Turn", Payload], Awaitable[None]]
H = TypeVar("H", TextHandler, ButtonHandler)


@dataclass(frozen=True)
class StepSpec:
    """One step of a conversation."""

    # What the step shows: when it is entered (`prompt`), and again after a restart or a sticker.
    prompt: Prompt
    # What text does at this step; None: it is a free question.
    on_text: TextHandler | None = None
    # The buttons that work only at this step.
    buttons: Mapping[Action, ButtonHandler] = field(default_factory=dict)
    # A shared contact (a phone number) at this step.
    on_contact: TextHandler | None = None
    # Before `on_text`: text to an open case goes to its caseworker, and an urgent situation is
    # recognised. Off for a first message, which is screened as a question.
    screened: bool = True
    # Text that is no urgent situation at this step, whatever it looks like (a phone number).
    not_urgent: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class Entry(Generic[H]):
    """A button or a command that works at any step."""

    handler: H
    # What it does while storage is failing; None: nothing (the person hears why).
    without_storage: H | None = None


class Registry:
    def __init__(self) -> None:
        self.steps: dict[Step, StepSpec] = {}
        self.buttons: dict[Action, Entry[ButtonHandler]] = {}
        self.commands: dict[str, Entry[TextHandler]] = {}
        self._question: Entry[TextHandler] | None = None

    def declare(self, step: Step, spec: StepSpec) -> None:
        if step in self.steps:
            raise ValueError(f"step {step} declared twice")
        self.steps[step] = spec

    def button(
        self, action: Action, *, without_storage: ButtonHandler | bool = False
    ) -> Callable[[ButtonHandler], ButtonHandler]:
        """Declare what a button does at any step; `without_storage=True`: the same."""

        def register(handler: ButtonHandler) -> ButtonHandler:
            if action in self.buttons:
                raise ValueError(f"button {action} declared twice")
            self.buttons[action] = Entry(handler, _memoryless(handler, without_storage))
            return handler

        return register

    def command(
        self, *names: str, without_storage: TextHandler | bool = False
    ) -> Callable[[TextHandler], TextHandler]:
        """Declare a command (``/name argument``); the handler gets the argument."""

        def register(handler: TextHandler) -> TextHandler:
            for name in names:
                self.commands[name] = Entry(handler, _memoryless(handler, without_storage))
            return handler

        return register

    def question(self, *, without_storage: TextHandler) -> Callable[[TextHandler], TextHandler]:
        """Declare what a free question does (at every step whose `on_text` is None)."""

        def register(handler: TextHandler) -> TextHandler:
            self._question = Entry(handler, without_storage)
            return handler

        return register

    async def ask(self, turn: Turn, text: str) -> None:
        """Take `text` as a free question."""
        assert self._question is not None
        handler = self._question.handler if turn.stored else self._question.without_storage
        if handler is not None:
            await handler(turn, text)

    def spec(self, step: Step) -> StepSpec:
        return self.steps[step]

    async def enter(self, turn: Turn, step: Step) -> None:
        """Go to `step`: show its prompt."""
        await self.steps[step].prompt(turn)

    def on_button(self, turn: Turn, action: Action) -> ButtonHandler:
        """The handler of a button pressed at the turn's step; forged when there is none (or
        none while storage is failing)."""
        own = self.steps[turn.step].buttons.get(action) if turn.stored else None
        if own is not None:
            return own
        entry = self.buttons.get(action)
        handler = (
            None if entry is None else entry.handler if turn.stored else entry.without_storage
        )
        if handler is None:
            raise ForgedPayloadError(action)
        return handler

    def missing(self) -> list[Step]:
        """Steps nobody declared (a test keeps this empty)."""
        return [step for step in Step if step not in self.steps]


def prompt_of(ask: Callable[[Turn], None]) -> Prompt:
    """A prompt made of a function that only says something."""

    async def prompt(turn: Turn) -> None:
        ask(turn)

    return prompt


async def show_again(turn: Turn, _text: str) -> None:
    """`on_text` of a step answered with its buttons: show them again."""
    await REGISTRY.enter(turn, turn.step)


def _memoryless(handler: H, without_storage: H | bool) -> H | None:
    if without_storage is True:
        return handler
    if without_storage is False:
        return None
    return without_storage


REGISTRY: Final = Registry()
