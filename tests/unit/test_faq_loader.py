"""Coordinators get `file:line: what is wrong`, and a bad file never half-loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from faq.loader import CONTENT_DIR, FaqError, check_faq, load_faq
from faq.offices import OFFICES_FILE
from faq.urgent import URGENT_FILE

GOOD = """\
id: {id}
category: health
links: [https://www.vzp.cz/]
translations:
  en:
    question: Where is a dentist?
    variants: [tooth ache]
    keywords: [dentist]
    answer: |
      Ask your health insurer.
    reviewed: false
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(folder: Path) -> list[str]:
    return [str(p) for p in check_faq(folder, ("en",))[1]]


def test_valid_folder_loads(tmp_path: Path) -> None:
    write(tmp_path, "dentist", GOOD.format(id="dentist"))
    faq = load_faq(tmp_path, ("en",))
    assert list(faq.topics) == ["dentist"]
    assert faq.categories == ["health"]


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    broken = GOOD.format(id="dentist").replace("    keywords: [dentist]", "    keywords: [dentist")
    path = write(tmp_path, "dentist", broken)
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{path}:")
    line = int(problem.split(":")[1])
    assert 8 <= line <= 10
    assert "YAML" in problem


def test_missing_field_points_at_its_translation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dentist",
        GOOD.format(id="dentist").replace("    question: Where is a dentist?\n", ""),
    )
    assert problems(tmp_path) == [
        f"{path}:5:3: translations.en.question: this field is required "
        "(add it, see README 'FAQ content')"
    ]


def test_misspelled_field_is_reported_on_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "dentist", GOOD.format(id="dentist").replace("keywords", "keywrods"))
    assert f"{path}:8:5: translations.en.keywrods: unknown field (check the spelling)" in problems(
        tmp_path
    )


def test_follow_up_answers_are_checked_on_their_line(tmp_path: Path) -> None:
    followups = (
        "    followups:\n"
        "      price:\n"
        "        variants: [how much]\n"
        "        answer: About 500 CZK.\n"
        "      where:\n"
        "        variants: []\n"
        "        answer: At the office.\n"
        "    reviewed: false\n"
    )
    path = write(
        tmp_path, "dentist", GOOD.format(id="dentist").replace("    reviewed: false\n", followups)
    )
    assert problems(tmp_path) == [
        f"{path}:11:5: translations.en.followups: unknown follow-up 'price'; use one of: fee, "
        "where, how-long, for-children"
    ]
    write(
        tmp_path,
        "dentist",
        GOOD.format(id="dentist").replace(
            "    reviewed: false\n", followups.replace("price", "fee")
        ),
    )
    assert problems(tmp_path) == [
        f"{path}:16:9: translations.en.followups.where.variants: needs at least 1 (add one)"
    ]


def test_unknown_category_and_bad_link(tmp_path: Path) -> None:
    text = (
        GOOD.format(id="dentist")
        .replace("category: health", "category: food")
        .replace("https://www.vzp.cz/", "www.vzp")
    )
    path = write(tmp_path, "dentist", text)
    found = problems(tmp_path)
    assert any(p.startswith(f"{path}:2:1: category: unknown category 'food'") for p in found)
    assert any(p.startswith(f"{path}:3:1: links") for p in found)


def test_unknown_and_missing_languages(tmp_path: Path) -> None:
    text = GOOD.format(id="dentist").replace("  en:", "  xx:")
    path = write(tmp_path, "dentist", text)
    found = problems(tmp_path)
    assert f"{path}:5:3: unknown language code 'xx'; supported: en" in found
    assert f"{path}:4:1: missing translations: en" in found


def test_duplicate_ids_and_file_name_mismatch(tmp_path: Path) -> None:
    write(tmp_path, "dentist", GOOD.format(id="dentist"))
    other = write(tmp_path, "zz-dentist", GOOD.format(id="dentist"))
    found = problems(tmp_path)
    assert (
        f"{other}:1: topic id 'dentist' must match the file name 'zz-dentist' "
        "(rename the file or change the id)"
    ) in found


def test_answer_over_the_limit(tmp_path: Path) -> None:
    long_answer = "x" * 1000
    path = write(
        tmp_path,
        "dentist",
        GOOD.format(id="dentist").replace("Ask your health insurer.", long_answer),
    )
    assert any(
        p.startswith(f"{path}:9:5: translations.en.answer: too long") for p in problems(tmp_path)
    )


def test_not_utf8_and_not_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"id: \xff\xfe")
    write(tmp_path, "b", "- just\n- a list\n")
    found = problems(tmp_path)
    assert any("not UTF-8" in p for p in found)
    assert any("must be a mapping" in p for p in found)


def test_load_refuses_the_whole_folder_when_one_file_is_bad(tmp_path: Path) -> None:
    write(tmp_path, "dentist", GOOD.format(id="dentist"))
    write(tmp_path, "broken", "id: [")
    with pytest.raises(FaqError) as error:
        load_faq(tmp_path, ("en",))
    assert "broken.yaml:" in str(error.value)


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faq", "check"]) == 0
    assert "OK: 14 topics" in capsys.readouterr().out
    write(tmp_path, "broken", "id: [")
    assert main(["faq", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'broken.yaml'}:1:6: YAML syntax error" in out


def test_fast_yaml_reading_gives_the_same_data_as_the_reference_parser() -> None:
    from faq import yamlio

    shipped = [*CONTENT_DIR.glob("*.yaml"), URGENT_FILE, OFFICES_FILE]
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        node, data = yamlio.parse(text)
        assert node is not None
        assert data == yaml.safe_load(text), path
