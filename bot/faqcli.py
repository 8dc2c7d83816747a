"""`poradna faq ...`: tools for coordinators who edit the FAQ content."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Any, cast

from rapidfuzz import fuzz

from faq.calibrate import Report, cross_validate
from faq.examples import example_files, load_examples, load_examples_or_fail
from faq.loader import Faq, check_faq, missing_translations
from faq.matcher import Matcher, load_stopwords
from faq.normalize import tokens
from faq.offices import check_offices
from faq.quality import (
    Finding,
    deep_findings,
    followup_gaps,
    outdated,
    stamp,
    unchecked_facts,
)
from faq.urgent import UrgentDetector, check_urgent, phrases_on_lookalikes
from locales import LANGUAGES

if TYPE_CHECKING:
    import argparse

    from bot.config import Settings

GAP_SIMILARITY = 70


async def faq(settings: Settings, args: argparse.Namespace) -> int:
    command = args.faq_command
    if command == "check":
        return _check(settings, args)
    if command == "try":
        return _try(settings, args)
    if command == "calibrate":
        return _calibrate(settings, args)
    if command == "stamp":
        directory = args.dir or settings.faq_dir
        count = stamp(directory, args.topic, args.lang)
        print(f"Stamped {count} translation(s) as matching the current English answer.")
        return 0
    return await _gaps(settings, args)


def _check(settings: Settings, args: argparse.Namespace) -> int:
    directory = args.dir or settings.faq_dir
    topics, problems = check_faq(directory)
    problems += check_urgent(args.urgent or settings.urgent_file)[1]
    problems += check_offices(settings.offices_file)[1]
    examples, example_problems = load_examples(
        *example_files(args.examples or settings.examples_dir)
    )
    problems += example_problems
    missing = missing_translations(directory)
    warnings = []
    stale: dict[str, list[str]] = {}
    learned: Report | None = None
    if not problems and topics:
        content = Faq(topics=topics, directory=directory)
        matcher = Matcher(content, examples=examples)
        learned = cross_validate(content, examples, matcher.stopwords)
        warnings = deep_findings(content, matcher, learned)
        warnings += unchecked_facts(content, settings.content_max_age_days)
        warnings += followup_gaps(content)
        stale = outdated(content)
        warnings += _urgent_on_lookalikes(settings, args)
        if learned.calibration.content_hash != matcher.calibration.content_hash:
            warnings.append(_uncalibrated(settings))
    failed = bool(problems) or (args.strict and bool(warnings))
    if args.format == "json":
        print(
            json.dumps(
                {
                    "ok": not failed,
                    "topics": len(topics),
                    "errors": [
                        {"path": p.path, "line": p.line, "column": p.column, "message": p.message}
                        for p in problems
                    ],
                    "warnings": [w.as_dict() for w in warnings],
                    "missing_translations": missing,
                    "outdated_translations": stale,
                    "cross_validation": _cross_validation(learned),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 1 if failed else 0
    for problem in problems:
        print(problem)
    for warning in warnings:
        print(warning)
    if missing:
        print()
        print("Missing translations (x = missing):")
        print(f"{'topic':<32} " + " ".join(f"{lang:>3}" for lang in LANGUAGES))
        for topic, langs in sorted(missing.items()):
            cells = " ".join(f"{'x' if lang in langs else '.':>3}" for lang in LANGUAGES)
            print(f"{topic:<32} {cells}")
    if learned:
        _print_cross_validation(learned)
    if problems:
        files = sorted({p.path for p in problems})
        print(f"{len(problems)} problem(s) to fix in {', '.join(files)}", file=sys.stderr)
        return 1
    summary = f"OK: {len(topics)} topics in {directory}"
    if warnings:
        summary += f", {len(warnings)} warning(s) to look at"
    print(summary)
    return 1 if failed else 0


def _urgent_on_lookalikes(settings: Settings, args: argparse.Namespace) -> list[Finding]:
    """A warning for every ordinary look-alike example that an urgent phrase matches."""
    urgent_file = args.urgent or settings.urgent_file
    examples_file = example_files(args.examples or settings.examples_dir)[2]
    detector = UrgentDetector.load(urgent_file)
    return [
        Finding(
            str(examples_file),
            line,
            0,
            "warning",
            f"this ordinary message is taken for urgent ({hit.category}) by the phrase "
            f"{hit.phrase!r} of {urgent_file.name}: {text[:60]!r}",
            f"make the phrase in {urgent_file.name} more specific, or list the words that make "
            "the message ordinary under not_urgent",
        )
        for line, text, hit in phrases_on_lookalikes(detector, examples_file)
    ]


def _uncalibrated(settings: Settings) -> Finding:
    return Finding(
        str(settings.calibration_file),
        1,
        0,
        "warning",
        "the decision was learned from other content than this (the bot learns it again "
        "when it starts in Telegram mode)",
        "run `poradna faq calibrate`",
    )


def _cross_validation(learned: Report | None) -> dict[str, Any] | None:
    if learned is None:
        return None
    return {
        "sure_threshold": learned.calibration.sure,
        "likely_threshold": learned.calibration.likely,
        "per_language": {
            lang: {"messages": n, "precision": precision, "recall": recall}
            for lang, (n, precision, recall) in learned.per_language().items()
        },
    }


def _print_cross_validation(learned: Report) -> None:
    print()
    print(
        "Cross-validated on the content (variants and keywords held out, and the negatives):"
        " precision = share of the sure answers that were right, recall = share of the"
        " held-out questions answered surely and right."
    )
    print(f"{'lang':<5}{'messages':>9}{'precision':>11}{'recall':>8}")
    for lang, (n, precision, recall) in learned.per_language().items():
        print(f"{lang:<5}{n:>9}{precision:>11.0%}{recall:>8.0%}")
    calibration = learned.calibration
    print(
        f"answered alone from confidence {calibration.sure:.2f}, "
        f"with alternatives from {calibration.likely:.2f}"
    )


def _calibrate(settings: Settings, args: argparse.Namespace) -> int:
    from faq.loader import load_faq

    content = load_faq(args.dir or settings.faq_dir)
    examples = load_examples_or_fail(settings.examples_dir)
    learned = cross_validate(content, examples)
    learned.calibration.save(settings.calibration_file)
    _print_cross_validation(learned)
    print(f"Written to {settings.calibration_file} ({learned.calibration.samples} samples).")
    return 0


def _try(settings: Settings, args: argparse.Namespace) -> int:
    from bot.knowledge import build_understanding
    from faq.loader import load_faq

    content = load_faq(settings.faq_dir)
    understanding = build_understanding(settings, content)
    matcher = understanding.matcher
    match = understanding.read(args.text, lang=args.lang)
    explained = matcher.explain(args.text, lang=args.lang)
    print(f"question:   {args.text}")
    print(f"language:   {match.lang} ({'sure' if match.lang_confident else 'a guess'})")
    if match.decision == "urgent":
        print(f"decision:   urgent ({match.urgent_category}): never answered with an FAQ")
        return 0
    words = cast("list[str]", explained["words"])
    matched = cast("dict[str, list[tuple[str, float]]]", explained["matches"])
    scores = cast("list[tuple[str, float]]", explained["scores"])
    print(f"words:      {', '.join(words) or '(none that tell topics apart)'}")
    for word, matches in matched.items():
        shown = ", ".join(f"{w} ({s:.2f})" for w, s in matches[:4]) or "not in the FAQ"
        print(f"  {word:<16} -> {shown}")
    print("topics:")
    for topic, score in scores[:5]:
        print(f"  {score:5.1f}  {topic}")
    calibration = matcher.calibration
    reason = {
        "answer": f"confidence {match.confidence:.2f}: "
        + (
            f"sure (from {calibration.sure:.2f})"
            if match.sure
            else f"likely (from {calibration.likely:.2f}), the next topics are offered too"
        ),
        "clarify": f"confidence {match.confidence:.2f} is below {calibration.likely:.2f}: "
        "the closest topics are offered",
        "escalate": "no topic fits well enough: a person is offered",
        "chatter": f"small talk ({match.intent}), not a question",
    }[match.decision]
    print(f"decision:   {match.decision}{' -> ' + match.topic if match.topic else ''} ({reason})")
    if match.also:
        print(f"also asked: {', '.join(match.also)}")
    return 0


async def _gaps(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime, time

    from bot.app import storage_for
    from storage.reports import PRAGUE

    async with storage_for(settings) as storage, storage.begin() as unit:
        rows = await unit.unanswered.list_questions()
    if args.since:
        since = datetime.combine(args.since, time.min, PRAGUE)
        rows = [r for r in rows if r["created"] >= since]
    groups = group_gaps(rows)
    if args.format == "json":
        print(json.dumps(groups, ensure_ascii=False, indent=2))
        return 0
    if not groups:
        print("Nothing unanswered. 🎉")
        return 0
    print(f"{'count':>5}  {'lang':<4} {'why':<24} question (and similar ones)")
    for group in groups:
        why = ", ".join(f"{k} {v}" for k, v in sorted(group["reasons"].items()))
        print(f"{group['count']:>5}  {group['lang']:<4} {why:<24} {group['text']}")
        for other in group["examples"][1:3]:
            print(f"{'':>36}  ~ {other}")
    return 0


def group_gaps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group unanswered questions by language and similar wording, most frequent first."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    stop = load_stopwords()
    for row in rows:
        words = set(tokens(row["text"])) - stop.get(row["lang"], set())
        norm = " ".join(sorted(words))
        for group in groups[row["lang"]]:
            if fuzz.token_set_ratio(norm, group["norm"]) >= GAP_SIMILARITY:
                group["items"].append(row)
                break
        else:
            groups[row["lang"]].append({"norm": norm, "items": [row]})
    result = []
    for lang, lang_groups in groups.items():
        for group in lang_groups:
            items = group["items"]
            reasons: dict[str, int] = defaultdict(int)
            for item in items:
                reasons[item["reason"]] += 1
            topics = sorted({i["best_topic"] for i in items if i["best_topic"]})
            result.append(
                {
                    "lang": lang,
                    "count": len(items),
                    "text": items[0]["text"],
                    "examples": [i["text"] for i in items[:5]],
                    "reasons": dict(reasons),
                    "closest_topics": topics,
                }
            )
    return sorted(result, key=lambda g: (-g["count"], g["lang"], g["text"]))
