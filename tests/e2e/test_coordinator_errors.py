"""A new coordinator's mistakes, tried as docs/coordinators.md describes them: each is reported
as `file:line: what to fix` in plain words, all of a file's problems in one run, under the
name of the file that is broken; and every command says what it needs (issue 15)."""

from __future__ import annotations

import argparse
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.cli import build_parser
from faq import yamlio
from faq.loader import CONTENT_DIR, check_faq, load_faq
from faq.quality import unchecked_facts
from faq.urgent import URGENT_FILE, check_urgent
from locales import LANGUAGES
from tests.helpers.processes import ROOT, poradna

TOPIC = "residence-extension-deadline"
PARSER_WORDS = re.compile(r"<block|<scalar>|mapping values|simple key|quoted scalar|token")


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, folder)
    return folder


def _break(folder: Path, line: int, new: str) -> Path:
    """Replace line `line` (1-based) of the topic file with `new`."""
    path = folder / f"{TOPIC}.yaml"
    lines = path.read_text("utf-8").split("\n")
    lines[line - 1] = new
    path.write_text("\n".join(lines), "utf-8")
    return path


def _lines(folder: Path) -> list[str]:
    return (folder / f"{TOPIC}.yaml").read_text("utf-8").split("\n")


def _only_problem(folder: Path) -> str:
    problems = [p for p in check_faq(folder)[1] if p.path.endswith(f"{TOPIC}.yaml")]
    assert len(problems) == 1, problems
    return str(problems[0])


def _line(folder: Path, starts: str) -> int:
    return next(i for i, text in enumerate(_lines(folder), 1) if text.startswith(starts))


def test_a_line_indented_less_says_so_without_parser_words(content: Path) -> None:
    line = _line(content, "    question:")
    text = _lines(content)[line - 1]
    path = _break(content, line, "   " + text.lstrip())
    problem = _only_problem(content)
    assert problem.startswith(f"{path}:{line}:")
    assert f"line {line} is indented less than the lines above it" in problem
    assert not PARSER_WORDS.search(problem.split(": ", 1)[1]), problem


def test_a_line_indented_more_says_so(content: Path) -> None:
    line = _line(content, "    question:")
    _break(content, line, "      " + _lines(content)[line - 1].lstrip())
    assert f"line {line} is indented more than line {line - 1}" in _only_problem(content)


def test_text_with_a_colon_asks_for_quotes(content: Path) -> None:
    line = _line(content, "    question:")
    _break(content, line, "    question: Note: when can I apply?")
    problem = _only_problem(content)
    assert "colon followed by a space" in problem and "double quotes" in problem


def test_a_tab_is_named(content: Path) -> None:
    line = _line(content, "    question:")
    _break(content, line, "\t" + _lines(content)[line - 1].lstrip())
    assert "Tab character" in _only_problem(content)


def test_an_unclosed_quote_points_at_where_it_opens(content: Path) -> None:
    line = _line(content, "    question:")
    _break(content, line, '    question: "When can I apply')
    problem = _only_problem(content)
    assert f":{line}:" in problem and f"the quote opened on line {line} is never closed" in problem


def test_an_unclosed_list_and_an_unindented_answer(content: Path) -> None:
    line = _line(content, "    keywords:")
    _break(content, line, _lines(content)[line - 1].rstrip("]"))
    assert f"the list in [ ] that starts on line {line} is broken" in _only_problem(content)
    shutil.copy(CONTENT_DIR / f"{TOPIC}.yaml", content / f"{TOPIC}.yaml")
    first = _line(content, "    answer: |") + 1
    _break(content, first, _lines(content)[first - 1].lstrip())
    assert "must be indented more than that field" in _only_problem(content)


def test_a_field_written_twice_is_an_error_not_silently_dropped(content: Path) -> None:
    line = _line(content, "    title:")
    _break(content, line, _lines(content)[line - 1] + "\n    title: Another title")
    problem = _only_problem(content)
    assert "'title' is written twice" in problem and f"first on line {line}" in problem


def test_every_problem_of_a_file_is_reported_in_one_run(content: Path) -> None:
    path = content / f"{TOPIC}.yaml"
    text = (
        path.read_text("utf-8")
        .replace(f"id: {TOPIC}", "id: residence-deadline")
        .replace("  hy:\n", "  am:\n")
        .replace("    reviewed: false", "    reviewed: maybe", 1)
    )
    path.write_text(text, "utf-8")
    found = [str(p) for p in check_faq(content)[1]]
    assert any("must match the file name" in p for p in found)
    assert any(
        f"unknown language code 'am'; supported: {', '.join(LANGUAGES)}" in p for p in found
    )
    assert any("missing translations: hy" in p for p in found)
    assert any("translations.en.reviewed: write true or false" in p for p in found)


def test_a_bad_date_and_a_bad_number(content: Path) -> None:
    path = content / f"{TOPIC}.yaml"
    text = path.read_text("utf-8").replace("checked: 2026-12-04", "checked: 4.12.2026")
    path.write_text(text.replace("order: 20", "order: first"), "utf-8")
    found = [str(p) for p in check_faq(content)[1]]
    assert any("checked: write the date as year-month-day, like 2026-12-02" in p for p in found)
    assert any("order: write a whole number" in p for p in found)


def test_explain_gives_a_line_for_any_broken_text() -> None:
    for text in ("a: [b\n", "a: 'b\n", "- a\nb: c\n", "a:\n  b: c\n d: e\n", "@a\n"):
        with pytest.raises(yaml.MarkedYAMLError) as error:
            yamlio.parse(text)
        line, _, message = yamlio.explain(text, error.value)
        assert line >= 1 and message and not PARSER_WORDS.search(message), (text, message)


def test_broken_urgent_file_is_reported_under_its_own_name(tmp_path: Path) -> None:
    broken = tmp_path / "urgent.yaml"
    text = URGENT_FILE.read_text("utf-8").replace('", "', '" "', 1)
    broken.write_text(text, "utf-8")
    assert check_urgent(broken)[1]
    result = poradna("faq", "check", "--urgent", str(broken))
    assert result.returncode == 1
    assert f"problem(s) to fix in {broken}" in result.stderr
    assert str(CONTENT_DIR) not in result.stderr
    asked = poradna("ask", "hello", env={"URGENT_FILE": str(broken)})
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert str(broken) in asked.stderr and "poradna faq check" in asked.stderr


def test_unknown_language_in_the_urgent_file_lists_the_valid_codes(tmp_path: Path) -> None:
    path = tmp_path / "urgent.yaml"
    path.write_text("categories:\n  medical:\n    xx: ['help']\n", "utf-8")
    [problem] = check_urgent(path)[1]
    assert f"unknown language code 'xx'; supported: {', '.join(LANGUAGES)}" in str(problem)


def test_topics_not_checked_for_too_long_are_warned_about(content: Path) -> None:
    faq = load_faq(content)
    assert unchecked_facts(faq, 180, date(2026, 12, 4)) == [
        f for f in unchecked_facts(faq, 180, date(2026, 12, 4)) if "does not say" in f.message
    ]
    late = unchecked_facts(faq, 180, date(2027, 7, 1))
    stale = [f for f in late if "were last checked on 2026-12-04" in f.message]
    assert {f.path for f in stale} >= {str(content / f"{TOPIC}.yaml")}
    assert all("CONTENT_MAX_AGE_DAYS = 180" in f.message for f in stale)
    line = next(f.line for f in stale if f.path.endswith(f"{TOPIC}.yaml"))
    assert _lines(content)[line - 1].startswith("checked:")


def test_faq_check_warns_with_the_configured_age(content: Path) -> None:
    path = content / f"{TOPIC}.yaml"
    path.write_text(
        path.read_text("utf-8").replace("checked: 2026-12-04", "checked: 2025-01-02"), "utf-8"
    )
    result = poradna("faq", "check", "--dir", str(content))
    assert result.returncode == 0
    warning = next(line for line in result.stdout.splitlines() if "last checked on" in line)
    assert warning.startswith(f"{path}:")
    assert "more than CONTENT_MAX_AGE_DAYS = 180" in warning
    longer = poradna("faq", "check", "--dir", str(content), env={"CONTENT_MAX_AGE_DAYS": "3650"})
    assert "last checked on" not in longer.stdout


def test_ask_shows_when_the_facts_were_checked_in_the_persons_language() -> None:
    result = poradna("ask", "как продлить временную защиту", "--lang", "ru")
    assert "temporary-protection" in result.stdout
    assert "Сведения проверены по этим источникам 2026-12-04." in result.stdout


def test_leaflet_link_says_how_to_set_the_bot_username(tmp_path: Path) -> None:
    result = poradna(
        "leaflet-link", "--lang", "uk", env={"TELEGRAM_BOT_USERNAME": ""}, cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "TELEGRAM_BOT_USERNAME=" in result.stderr and "--bot" in result.stderr
    out = tmp_path / "qr.png"
    ok = poradna(
        "leaflet-link",
        "--topic",
        "integration-course",
        "--out",
        str(out),
        env={"TELEGRAM_BOT_USERNAME": "poradna_bot"},
        cwd=tmp_path,
    )
    assert (
        ok.returncode == 0 and "https://t.me/poradna_bot?start=__integration-course" in ok.stdout
    )


def test_leaflet_link_with_a_misspelled_topic_lists_the_valid_ids(tmp_path: Path) -> None:
    result = poradna(
        "leaflet-link", "--topic", "helth-insurance", "--bot", "poradna_bot", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "did you mean 'health-insurance'?" in result.stderr
    assert "temporary-protection" in result.stderr and "integration-course" in result.stderr


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its help, its options) for every command the parser has."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), helps.get(name), sub
                yield from _commands(sub, (*path, name))


def test_every_command_and_option_has_a_help_line_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    rows = [
        line.replace("\\|", "|") for line in readme.splitlines() if line.startswith("| `poradna")
    ]
    for path, help_text, sub in _commands(build_parser()):
        assert help_text, path
        own = [a for a in sub._actions if not isinstance(a, argparse._HelpAction)]
        if any(isinstance(a, argparse._SubParsersAction) for a in own):
            continue  # a group: its commands are checked one by one
        for action in own:
            assert action.help, (path, action.option_strings or action.dest)
        head, *rest = path
        mentioning = [
            row
            for row in rows
            if f"poradna {head}" in row
            and all(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", row) for word in rest)
        ]
        assert mentioning, f"README has no row for poradna {' '.join(path)}"
        for action in own:
            for option in action.option_strings:
                if option.startswith("--"):
                    assert any(option in row for row in mentioning), (path, option)
