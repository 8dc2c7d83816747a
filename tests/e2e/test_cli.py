"""The `poradna` command as other tools use it: real processes, piped input, a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.processes import poradna


@pytest.fixture
def db_env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'poradna.db'}"}


def test_console_session_from_language_to_callback_request(
    db_env: dict[str, str], tmp_path: Path
) -> None:
    script = (
        "\n".join(
            [
                "Русский",  # the label presses the button
                "какие документы нужны для продления внж",  # answered
                "2",  # 👎 No
                "1",  # 👤 Ask a person
                "777 123 456",
                "2",  # afternoon
                "1",  # keep the question
                "1",  # I agree
            ]
        )
        + "\n"
    )
    result = poradna("run", stdin=script, env=db_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[1] Čeština" in out and "[3] Русский" in out
    assert "ipc.gov.cz" in out
    assert "R-0001" in out
    assert "Traceback" not in out + result.stderr

    listed = poradna("queue", "list", "--json", env=db_env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [request] = json.loads(listed.stdout)
    assert request["reference"] == "R-0001"
    assert request["status"] == "new"
    assert request["lang"] == "ru"
    assert request["topic"] == "residence-extension-documents"

    table = poradna("queue", "list", env=db_env, cwd=tmp_path)
    assert "R-0001" in table.stdout and "new" in table.stdout


def test_console_without_arguments_and_empty_input_exits_cleanly(db_env: dict[str, str]) -> None:
    result = poradna(stdin="", env=db_env)
    assert result.returncode == 0
    assert "[1]" in result.stdout


def test_console_resumes_after_restart(db_env: dict[str, str]) -> None:
    poradna("run", stdin="English\n👤 Ask a person\n", env=db_env)
    resumed = poradna("run", stdin="", env=db_env)
    assert "phone number" in resumed.stdout


def test_console_simulated_sticker(db_env: dict[str, str]) -> None:
    result = poradna("run", stdin="English\n/sticker\n", env=db_env)
    assert "I can only read text" in result.stdout


def test_ask_json() -> None:
    result = poradna("ask", "zdravotni pojisteni pro cizince", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["decision"] == "answer"
    assert data["topic"] == "health-insurance"
    assert data["lang"] == "cs"


def test_ask_batch_keeps_order_and_forced_language() -> None:
    questions = "zapis do skolky\nhello\nvisa\n"
    result = poradna("ask", "--batch", "--json", stdin=questions)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["zapis do skolky", "hello", "visa"]
    assert [r["decision"] for r in rows] == ["answer", "chatter", "answer"]
    assert rows[1]["intent"] == "greeting" and rows[1]["topic"] is None
    assert rows[2]["sure"] is False and rows[2]["alternatives"]  # "visa": which one?
    forced = poradna("ask", "visa", "--lang", "vi", "--json")
    assert json.loads(forced.stdout)["lang"] == "vi"


def test_ask_human_output_shows_the_answer() -> None:
    result = poradna("ask", "zapis do skolky")
    assert result.stdout.startswith("answer")
    assert "school-kindergarten" in result.stdout


def test_broken_faq_dir_is_reported_not_a_traceback(
    tmp_path: Path, db_env: dict[str, str]
) -> None:
    (tmp_path / "bad.yaml").write_text("id: [\n", encoding="utf-8")
    result = poradna("run", env={**db_env, "FAQ_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade(db_env: dict[str, str]) -> None:
    result = poradna("db", "upgrade", env=db_env)
    assert result.returncode == 0
    assert "up to date" in result.stdout


def test_staff_add_list_remove(db_env: dict[str, str]) -> None:
    added = poradna("staff", "add", "12345", "--name", "Olena", "--lang", "uk,ru", env=db_env)
    assert added.returncode == 0, added.stderr
    listed = poradna("staff", "list", env=db_env)
    assert "12345" in listed.stdout and "Olena" in listed.stdout and "uk,ru" in listed.stdout
    assert poradna("staff", "add", "1", "--name", "X", "--lang", "xx", env=db_env).returncode == 2
    assert poradna("staff", "remove", "12345", env=db_env).returncode == 0
    assert "12345" not in poradna("staff", "list", env=db_env).stdout
    assert poradna("staff", "remove", "12345", env=db_env).returncode == 1
