"""Accuracy on a labelled set of realistic messages (typos, no diacritics, transliteration).

The set (`tests/data/accuracy.yaml`) was written independently of the FAQ content. A message
counts as answered right only when the bot answers with the expected topic; "clarify" with the
expected topic among the buttons is a partial success; answering surely with a wrong topic is the
error we must keep rare: it tells a person something untrue about their situation. An answer the
bot is not sure of comes with the next topics and a person to ask ("unsure wrong" when it is the
wrong one): less harmful, still counted. The blind evaluation (`tests/test_understanding.py`) is
the honest measure; this set was written beside the content.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from bot.app import Knowledge
from tests.conftest import REPORTS

DATA = Path(__file__).resolve().parents[1] / "data" / "accuracy.yaml"


def test_accuracy_on_labelled_messages(knowledge: Knowledge) -> None:
    cases = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    total, right, helped, wrong_answer, lang_right = (
        Counter(),
        Counter(),
        Counter(),
        Counter(),
        Counter(),
    )
    unsure_wrong = 0
    for case in cases:
        lang, expect = case["lang"], case["expect"]
        match = knowledge.understanding.read(case["text"])
        total[lang] += 1
        lang_right[lang] += match.lang == lang
        if expect == "none":
            ok = match.decision != "answer"
            right[lang] += match.decision in ("escalate", "chatter")
            helped[lang] += ok
            wrong_answer[lang] += match.sure
            unsure_wrong += not ok and not match.sure
            continue
        if match.decision == "answer":
            right[lang] += match.topic == expect
            helped[lang] += match.topic == expect
            wrong_answer[lang] += match.topic != expect and match.sure
            unsure_wrong += match.topic != expect and not match.sure
        elif match.decision == "clarify":
            helped[lang] += expect in [c.topic for c in match.candidates]

    lines = ["", "FAQ matching accuracy (tests/data/accuracy.yaml)"]
    lines.append(f"{'lang':<5}{'n':>4}{'exact':>8}{'helped':>8}{'wrong':>7}{'lang id':>9}")
    for lang in sorted(total):
        n = total[lang]
        lines.append(
            f"{lang:<5}{n:>4}{right[lang] / n:>8.0%}{helped[lang] / n:>8.0%}"
            f"{wrong_answer[lang]:>7}{lang_right[lang] / n:>9.0%}"
        )
    n = sum(total.values())
    exact, useful, wrong = (
        sum(right.values()) / n,
        sum(helped.values()) / n,
        sum(wrong_answer.values()),
    )
    lang_id = sum(lang_right.values()) / n
    lines.append(f"{'all':<5}{n:>4}{exact:>8.0%}{useful:>8.0%}{wrong:>7}{lang_id:>9.0%}")
    lines.append(f"answered with a wrong topic but not sure (alternatives shown): {unsure_wrong}")
    REPORTS.append("\n".join(lines))

    assert len(total) >= 6
    assert exact >= 0.75
    assert useful >= 0.90
    assert wrong <= n * 0.02
    assert unsure_wrong <= n * 0.04
    assert lang_id >= 0.95
