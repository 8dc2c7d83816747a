"""Privacy and help: /forget erases everything stored about the person (after a confirmation),
/help says what the bot does and what it keeps."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flows import payloads as pl
from flows.conversations import browse
from flows.events import Button
from flows.payloads import Action, Payload
from flows.registry import REGISTRY, StepSpec
from flows.state import Step

if TYPE_CHECKING:
    from flows.turn import Turn

logger = logging.getLogger(__name__)


@REGISTRY.command("help", without_storage=True)
async def on_help(turn: Turn, _argument: str) -> None:
    turn.say("help-text")
    turn.say("help-privacy", [[turn.menu_button()]])


@REGISTRY.command("forget")
async def on_forget(turn: Turn, _argument: str) -> None:
    turn.step = Step.FORGET_CONFIRM
    rows = [
        [Button(turn.t("buttons-forget-yes"), pl.yes_no(Action.FORGET, yes=True))],
        [Button(turn.t("buttons-forget-no"), pl.yes_no(Action.FORGET, yes=False))],
    ]
    turn.say("privacy-forget-confirm", rows)


async def _on_confirm(turn: Turn, p: Payload) -> None:
    if not pl.parse_yes_no(p):
        turn.say("privacy-kept")
        await browse.show_menu(turn)
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


REGISTRY.declare(
    Step.FORGET_CONFIRM,
    StepSpec(prompt=browse.show_menu, buttons={Action.FORGET: _on_confirm}),
)
