"""The blind evaluation of understanding: messages written without seeing the FAQ.

`tests/data/blind/<lang>.yaml` were written by helper sessions that were given only the topic
list and a description of the people who write to Poradna, never `faq/content`;
`tests/data/blind/public.yaml` holds real questions from public pages, each with its address.
Every message is in one half: within each file and kind of message, the first goes to `dev`,
the second to `test`, and so on. Tune on dev; report test; never copy a test message into
content.

Run `python -m tests.understanding [dev|test|all]` for the table, or `--misses` to list what
went wrong (dev only: reading the test half's misses is tuning on it).
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from faq.matcher import Match
    from faq.understanding import Understanding

BLIND = Path(__file__).resolve().parents[1] / "data" / "blind"


@dataclass(frozen=True)
class Case:
    lang: str
    text: str
    expect: str | tuple[str, ...]
    half: str
    kind: str  # question, two, followup, chatter, none, urgent, lookalike, short
    context: str | None = None
    intent: str | None = None
    category: str | None = None
    topic: str | None = None  # a look-alike that a topic answers
    source: str | None = None
    followup: str | None = None  # the follow-up answer a follow-up asks for ("fee")


def _kind(raw: dict[str, Any]) -> str:
    expect = raw["expect"]
    if isinstance(expect, list):
        return "two"
    if raw.get("context"):
        return "followup"
    if expect in ("chatter", "none", "urgent", "lookalike", "short"):
        return str(expect)
    return "question"


def load_cases(directory: Path = BLIND) -> list[Case]:
    """The blind set, divided into dev and test within each file and kind, and the extra
    dev-only messages of `directory`/dev (look-alikes, urgent, short messages)."""
    cases = _load(directory, None)
    if (directory / "dev").is_dir():
        cases += _load(directory / "dev", "dev")
    return cases


def _load(directory: Path, only: str | None) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        raw_cases = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        seen: Counter[str] = Counter()
        for raw in raw_cases:
            kind = _kind(raw)
            group = f"{raw.get('lang', path.stem)}/{kind}"
            half = only or ("dev" if seen[group] % 2 == 0 else "test")
            seen[group] += 1
            expect = raw["expect"]
            intent = raw.get("intent")
            if isinstance(intent, bool):  # an unquoted yes / no in YAML
                intent = "yes" if intent else "no"
            cases.append(
                Case(
                    lang=raw.get("lang", path.stem),
                    text=str(raw["text"]),
                    expect=tuple(expect) if isinstance(expect, list) else str(expect),
                    half=half,
                    kind=kind,
                    context=raw.get("context"),
                    intent=intent,
                    category=raw.get("category"),
                    topic=raw.get("topic"),
                    source=raw.get("source"),
                    followup=raw.get("followup"),
                )
            )
    return cases


@dataclass
class Tally:
    """Counts for one language (or all)."""

    n: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)

    def add(self, metric: str, good: bool) -> None:
        self.n[metric] += 1
        self.ok[metric] += bool(good)

    def rate(self, metric: str) -> float | None:
        return self.ok[metric] / self.n[metric] if self.n[metric] else None


@dataclass
class Outcome:
    case: Case
    match: Match
    good: bool
    why: str


def evaluate(
    understanding: Understanding, cases: list[Case]
) -> tuple[dict[str, Tally], list[Outcome]]:
    """Per language: the metrics of the issue's table; and every case's outcome."""
    topics = set(understanding.matcher.faq.topics)
    tallies: dict[str, Tally] = defaultdict(Tally)
    outcomes = []
    for case in cases:
        expected = case.expect if isinstance(case.expect, tuple) else (case.expect,)
        if case.kind in ("question", "two", "followup") and not set(expected) <= topics:
            continue  # a topic this FAQ does not have yet
        match = understanding.read(case.text, context=case.context)
        good, why = _judge(case, match, expected)
        # A follow-up whose kind ("fee") its topic has a short answer for.
        answerable = case.kind == "followup" and case.followup in (
            understanding.matcher.faq.topics[expected[0]].translation(case.lang).followups
        )
        for tally in (tallies[case.lang], tallies["all"]):
            _count(tally, case, match, expected)
            if answerable:
                tally.add("kind", match.decision == "answer" and match.followup == case.followup)
        outcomes.append(Outcome(case, match, good, why))
    return dict(tallies), outcomes


def _offered(match: Match) -> list[str]:
    return [c.topic for c in (*match.candidates, *match.alternatives)]


def _judge(case: Case, match: Match, expected: tuple[str, ...]) -> tuple[bool, str]:
    got = f"{match.decision} {match.topic or ''} {match.confidence:.2f}".strip()
    if case.kind in ("question", "followup"):
        return match.decision == "answer" and match.topic == expected[0], got
    if case.kind == "two":
        both = {match.topic, *match.also} >= set(expected)
        return match.decision == "answer" and both, f"{got} also={list(match.also)}"
    if case.kind == "chatter":
        return match.decision == "chatter" and match.intent == case.intent, f"{got} {match.intent}"
    if case.kind == "none":
        return match.decision != "answer", got
    if case.kind == "urgent":
        return match.decision == "urgent", got
    if case.kind == "short":
        return match.lang == case.lang, f"{got} lang={match.lang}"
    return match.decision != "urgent", got  # a look-alike


def _count(tally: Tally, case: Case, match: Match, expected: tuple[str, ...]) -> None:
    tally.add("lang", match.lang == case.lang)
    answered = match.decision == "answer"
    sure = answered and match.sure
    if case.kind in ("question", "two", "followup"):
        right = answered and match.topic in expected
        tally.add("right", right)
        tally.add("offered", right or any(t in expected for t in _offered(match)))
        tally.add("wrong", answered and match.topic not in expected)
        if case.kind == "two":
            tally.add("both", answered and {match.topic, *match.also} >= set(expected))
        if case.kind == "followup":
            tally.add("followup", right)

    elif case.kind in ("none", "chatter"):
        tally.add("neg_sure", sure)
        tally.add("neg_answered", answered)
        if case.kind == "chatter":
            tally.add("chatter", match.decision == "chatter" and match.intent == case.intent)
    if case.kind == "urgent":
        tally.add("urgent", match.decision == "urgent")
    elif case.kind != "short":  # a short message is there for its language only
        tally.add("false_alarm", match.decision == "urgent")


COLUMNS = (
    ("right", "answered right"),
    ("offered", "among offered"),
    ("wrong", "wrong"),
    ("both", "both of two"),
    ("followup", "follow-ups"),
    ("kind", "follow-up kind"),
    ("neg_sure", "neg. sure"),
    ("neg_answered", "neg. answered"),
    ("chatter", "chatter"),
    ("urgent", "urgent recall"),
    ("false_alarm", "false alarms"),
    ("lang", "language"),
)


def table(tallies: dict[str, Tally], title: str) -> str:
    langs = sorted(k for k in tallies if k != "all") + ["all"]
    header = f"{'lang':<5}{'n':>5}" + "".join(f"{label:>15}" for _, label in COLUMNS)
    lines = ["", title, header]
    for lang in langs:
        tally = tallies[lang]
        row = f"{lang:<5}{tally.n['right']:>5}"
        for metric, _ in COLUMNS:
            rate = tally.rate(metric)
            cell = "-" if rate is None else f"{rate:.0%} ({tally.ok[metric]}/{tally.n[metric]})"
            row += f"{cell:>15}"
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from bot.app import build_knowledge
    from bot.config import Settings

    half = next((a for a in argv if a in ("dev", "test", "all")), "dev")
    understanding = build_knowledge(Settings(_env_file=None)).understanding
    cases = [c for c in load_cases() if half == "all" or c.half == half]
    tallies, outcomes = evaluate(understanding, cases)
    print(table(tallies, f"Blind evaluation, {half} half ({len(cases)} messages)"))
    if "--misses" in argv:
        if half != "dev":
            print("misses are listed for the dev half only")
            return 2
        for outcome in outcomes:
            if not outcome.good:
                c = outcome.case
                print(f"{c.lang} {c.kind:<9} want {c.expect} {c.intent or c.category or ''}")
                print(f"      got {outcome.why}   {c.text[:110]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
