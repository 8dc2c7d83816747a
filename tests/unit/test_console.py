"""The console numbers buttons so that typing a rating's number gives that many stars."""

from __future__ import annotations

from bot.console import numbered, render, to_event
from flows import payloads as pl
from flows.events import Button, Reply
from flows.payloads import Action


def test_a_rating_is_on_the_numbers_one_to_five_whatever_comes_before_it() -> None:
    cancel = Reply(
        key="appointment-done",
        text="Your appointment took place.",
        lang="en",
        buttons=((Button("✖ Cancel the appointment", pl.make(Action.CANCEL)),),),
    )
    stars = Reply(
        key="case-closed",
        text="How did we help you?",
        lang="en",
        buttons=(tuple(Button("★" * n, pl.rating("A-0001", n)) for n in range(1, 6)),),
    )
    buttons = numbered([cancel, stars])
    numbers = {id(b): n for n, b in enumerate(buttons, 1)}
    assert "[6] ✖ Cancel the appointment" in render(cancel, numbers)
    assert "[1] ★  [2] ★★" in render(stars, numbers)
    assert to_event("4", buttons, "u1", None).payload == pl.rating("A-0001", 4)
    assert to_event("1", buttons, "u1", None).payload == pl.rating("A-0001", 1)  # not cancel
    assert to_event("6", buttons, "u1", None).payload == pl.make(Action.CANCEL)


def test_without_a_rating_buttons_are_numbered_as_shown() -> None:
    menu = Reply(
        key="menu-title",
        text="Choose:",
        lang="en",
        buttons=(
            (Button("Residence", pl.make(Action.CATEGORY, "residence")),),
            (Button("☰ Menu", pl.make(Action.MENU)),),
        ),
    )
    buttons = numbered([menu])
    assert render(menu, {id(b): n for n, b in enumerate(buttons, 1)}).endswith(
        "[1] Residence\n[2] ☰ Menu"
    )
