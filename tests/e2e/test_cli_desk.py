"""A whole case held from the terminal: a console user and a caseworker with `poradna queue`,
real processes on one database (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.processes import poradna


@pytest.fixture
def db_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'poradna.db'}",
        "STAFF_LANGUAGE": "en",
    }


def test_a_console_case_with_a_photo_held_from_the_terminal(db_env: dict[str, str]) -> None:
    script = "English\n👤 Ask a person\n777 123 456\n1\nI got a letter from OAMP\n1\n"
    assert "R-0001" in poradna("run", stdin=script, env=db_env).stdout

    early = poradna("queue", "claim", "r-0001", "--staff", "501", env=db_env)
    assert early.returncode == 1
    assert "No caseworker has been added yet" in early.stderr
    assert "poradna staff add" in early.stderr
    assert poradna("staff", "add", "501", "--name", "Jana", env=db_env).returncode == 0
    claimed = poradna("queue", "claim", "r-0001", "--staff", "501", env=db_env)
    assert claimed.returncode == 0, claimed.stderr
    # The terminal is told the terminal's commands, not to reply to a Telegram message.
    assert (
        "poradna queue reply R-0001" in claimed.stdout and "poradna queue show" in claimed.stdout
    )
    assert "/reply" not in claimed.stdout and "Reply to the request message" not in claimed.stdout

    # The person comes back, sends the letter as a photo (the console has no file) and a word.
    back = poradna("run", stdin="/photo\nPage two follows tomorrow\n", env=db_env).stdout
    assert "A caseworker is now handling your request R-0001" in back
    assert back.count("A caseworker is now handling your request R-0001") == 1  # said once
    assert "Passed on to your caseworker" in back
    assert "I can only read text" not in back
    assert "Sent to your caseworker." in back

    shown = poradna("queue", "show", "R-0001", env=db_env).stdout
    assert "status:          claimed" in shown  # nobody wrote to the person yet
    assert "person (console): [photo, no file]" in shown
    assert "person (console): Page two follows tomorrow" in shown

    replied = poradna(
        "queue",
        "reply",
        "R-0001",
        "Thank you, I will call you at 10",
        "--staff",
        "501",
        env=db_env,
    )
    assert replied.returncode == 0 and "Sent to the person (R-0001)" in replied.stdout
    thread = json.loads(poradna("queue", "show", "r-0001", "--json", env=db_env).stdout)["thread"]
    assert [(e["author"], e["media_kind"], e["text"]) for e in thread] == [
        ("person", "photo", None),
        ("person", None, "Page two follows tomorrow"),
        ("staff", None, "Thank you, I will call you at 10"),
    ]
    assert (thread[2]["staff"], thread[2]["channel"]) == ("Jana", "cli")

    # Coming back: the answer, and where the request stands, never "in the queue".
    again = poradna("run", stdin="", env=db_env).stdout
    assert again.count("Thank you, I will call you at 10") == 1  # the answer, not repeated
    assert "is in the queue" not in again
    later = poradna("run", stdin="", env=db_env).stdout
    assert "A caseworker answered you about your request R-0001" in later
    assert "Thank you, I will call you at 10" in later and "is in the queue" not in later

    # --older-than: what has waited too long is what is still open.
    assert poradna("queue", "close", "R-0001", "--staff", "501", env=db_env).returncode == 0
    listed = json.loads(poradna("queue", "list", "--older-than", "1", "--json", env=db_env).stdout)
    assert listed == []
