"""Deep checks of FAQ content for coordinators: beyond the schema, what users will experience.

- translations missing per topic and language;
- stale translations: each translation records a hash of the source-language answer it was
  made from (`source_hash`); when the source answer changes, the others are flagged outdated
  until a translator updates them and runs `poradna faq stamp`;
- variants that the matcher files under another topic than their own (the matcher disagrees
  with the author);
- pairs of topics so alike that users would be asked "did you mean" instead of answered;
- topics whose facts nobody checked against their sources for CONTENT_MAX_AGE_DAYS (`checked:`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

import yaml

from faq import yamlio

if TYPE_CHECKING:
    from faq.calibrate import Report
    from faq.loader import Faq
    from faq.matcher import Matcher

SOURCE_LANGUAGE: Final = "en"
# How old (in days) a topic's `checked:` date may be before `faq check` warns.
CONTENT_MAX_AGE_DAYS: Final = 180
# Questions this alike (word order aside) make two topics that users cannot tell apart.
TWIN_SIMILARITY: Final = 85


@dataclass(frozen=True, order=True)
class Finding:
    """A problem (severity "error") or something to look at ("warning") in a content file."""

    path: str
    line: int
    column: int
    severity: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def source_hash(text: str) -> str:
    """What a translation was made from: a short hash of the source answer."""
    return hashlib.sha256(text.strip().encode()).hexdigest()[:12]


def outdated(faq: Faq, source: str = SOURCE_LANGUAGE) -> dict[str, list[str]]:
    """Topic id -> languages whose translation was made from an older source answer."""
    result: dict[str, list[str]] = {}
    for topic in faq.topics.values():
        if source not in topic.translations:
            continue
        current = source_hash(topic.translations[source].answer)
        stale = [
            lang
            for lang, tr in topic.translations.items()
            if lang != source and tr.source_hash is not None and tr.source_hash != current
        ]
        if stale:
            result[topic.id] = stale
    return result


def deep_findings(
    faq: Faq, matcher: Matcher, learned: Report, source: str = SOURCE_LANGUAGE
) -> list[Finding]:
    """Warnings about what users will experience with this content.

    A variant always matches itself, so variants are tried the way a user's message would be:
    held out of the FAQ, in the cross-validation that calibrates the decision (`learned`); a
    held-out variant or keyword answered surely with another topic is a warning.
    """
    from rapidfuzz import fuzz

    from faq.normalize import tokens

    findings: list[Finding] = []
    locations = _locations(faq)
    for topic_id, langs in outdated(faq, source).items():
        for lang in langs:
            path, line, column = locations.get((topic_id, lang, "answer"), ("?", 0, 0))
            findings.append(
                Finding(
                    path,
                    line,
                    column,
                    "warning",
                    f"the {lang} translation of {topic_id} was made from an older {source} answer",
                    f"update the {lang} answer, then run `poradna faq stamp --topic {topic_id} "
                    f"--lang {lang}`",
                )
            )
    for held in learned.confused():
        path, line, column = locations.get((held.topic or "", held.lang, held.where), ("?", 0, 0))
        what = "keyword" if held.where.startswith("keywords") else "variant"
        findings.append(
            Finding(
                path,
                line,
                column,
                "warning",
                f"{what} {held.text!r} ({held.lang}) is answered with topic {held.leader}, "
                f"not its own topic {held.topic}",
                f"make the {what} more specific, or move it to that topic",
            )
        )
    topics = list(faq.topics.values())
    for i, first in enumerate(topics):
        for second in topics[i + 1 :]:
            for lang in faq.languages:
                if lang not in first.translations or lang not in second.translations:
                    continue
                a = " ".join(tokens(first.translations[lang].question))
                b = " ".join(tokens(second.translations[lang].question))
                if fuzz.token_sort_ratio(a, b) >= TWIN_SIMILARITY:
                    path, line, column = locations.get((first.id, lang, "question"), ("?", 0, 0))
                    findings.append(
                        Finding(
                            path,
                            line,
                            column,
                            "warning",
                            f"topics {first.id} and {second.id} ask almost the same question in "
                            f"{lang}: people will get 'did you mean' instead of an answer",
                            "merge the topics, or make their questions and keywords distinct",
                        )
                    )
    return sorted(set(findings))


def unchecked_facts(
    faq: Faq, max_age_days: int = CONTENT_MAX_AGE_DAYS, today: date | None = None
) -> list[Finding]:
    """Topics whose facts were not checked against their sources in the last `max_age_days`
    (or never: no `checked:` date). Rules, fees and deadlines change; the bot keeps serving
    the topic, this only tells the coordinator what to look at first."""
    today = today or datetime.now(ZoneInfo("Europe/Prague")).date()
    findings = []
    for topic in sorted(faq.topics.values(), key=lambda t: t.id):
        path, line, column = _checked_location(faq, topic.id)
        sources = ", ".join(topic.links) or "its official sources (add them under links:)"
        if topic.checked is None:
            findings.append(
                Finding(
                    path,
                    line,
                    column,
                    "warning",
                    f"topic {topic.id} does not say when its facts were last checked",
                    f"check the answer against {sources}, then add `checked: "
                    f"{today.isoformat()}` under links:",
                )
            )
            continue
        age = (today - topic.checked).days
        if age > max_age_days:
            findings.append(
                Finding(
                    path,
                    line,
                    column,
                    "warning",
                    f"the facts of {topic.id} were last checked on {topic.checked.isoformat()}, "
                    f"{age} days ago (more than CONTENT_MAX_AGE_DAYS = {max_age_days})",
                    f"check the answer in every language against {sources}, correct it, "
                    f"then set `checked: {today.isoformat()}`",
                )
            )
        elif age < 0:
            findings.append(
                Finding(
                    path,
                    line,
                    column,
                    "warning",
                    f"the checked: date of {topic.id} ({topic.checked.isoformat()}) is in the "
                    "future",
                    "write the day the facts were checked, like 2026-12-02",
                )
            )
    return findings


def followup_gaps(faq: Faq) -> list[Finding]:
    """Follow-up answers (`followups:`) that some languages of a topic have and others lack:
    a person asking "and how much is it?" in a language without it gets the whole answer
    again instead of the fee."""
    places = _locations(faq)
    findings = []
    for topic in sorted(faq.topics.values(), key=lambda t: t.id):
        kinds = {kind for tr in topic.translations.values() for kind in tr.followups}
        for lang, tr in sorted(topic.translations.items()):
            lacking = sorted(kinds - set(tr.followups))
            if not lacking:
                continue
            path, line, column = places.get((topic.id, lang, "answer"), (f"{topic.id}.yaml", 0, 0))
            having = sorted(
                other for other, o in topic.translations.items() if set(lacking) & set(o.followups)
            )
            findings.append(
                Finding(
                    path,
                    line,
                    column,
                    "warning",
                    f"{topic.id} ({lang}) has no follow-up answer for {', '.join(lacking)}, "
                    f"which {', '.join(having)} have",
                    f"add them under followups: in the {lang} translation (translate the "
                    f"{having[0]} ones), or remove them from the other languages",
                )
            )
    return findings


def _checked_location(faq: Faq, topic_id: str) -> tuple[str, int, int]:
    """Where a topic's `checked:` line is (or its `id:` line when it has none)."""
    if faq.directory is None:
        return (topic_id, 0, 0)
    path = faq.directory / f"{topic_id}.yaml"
    try:
        node = yamlio.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return (str(path), 0, 0)
    if not isinstance(node, yaml.MappingNode):
        return (str(path), 1, 1)
    for wanted in ("checked", "id"):
        for key, _ in node.value:
            if key.value == wanted:
                return (str(path), key.start_mark.line + 1, key.start_mark.column + 1)
    return (str(path), 1, 1)


def missing_table(faq: Faq) -> dict[str, list[str]]:
    """Topic id -> languages it has no translation for."""
    return {
        topic.id: [lang for lang in faq.languages if lang not in topic.translations]
        for topic in faq.topics.values()
        if any(lang not in topic.translations for lang in faq.languages)
    }


def stamp(
    directory: Path, topic_id: str | None, lang: str | None, source: str = SOURCE_LANGUAGE
) -> int:
    """Record in the files that translations match the current source answer.

    Edits only the `source_hash:` lines (adding one after `reviewed:` where missing), so the
    coordinators' comments and formatting stay as they are. Returns how many were stamped.
    """
    count = 0
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = yamlio.load(text)
        if not isinstance(data, dict) or (topic_id and data.get("id") != topic_id):
            continue
        translations = data.get("translations") or {}
        if source not in translations:
            continue
        digest = source_hash(translations[source]["answer"])
        lines = text.splitlines(keepends=True)
        node = yamlio.compose(text)
        edits: list[tuple[int, str, bool]] = []  # (line index, new line, replace?)
        for key, value in _mapping(node, "translations"):
            code = key.value
            if code == source or (lang and code != lang):
                continue
            indent = " " * value.value[0][0].start_mark.column
            existing = next((k for k, _ in value.value if k.value == "source_hash"), None)
            if existing is not None:
                edits.append((existing.start_mark.line, f"{indent}source_hash: {digest}\n", True))
            else:
                _, last_value = value.value[-1]
                if last_value.end_mark.column == 0:
                    after = last_value.end_mark.line
                else:
                    after = last_value.end_mark.line + 1
                edits.append((after, f"{indent}source_hash: {digest}\n", False))
            count += 1
        for index, line, replace in sorted(edits, reverse=True):
            if replace:
                lines[index] = line
            else:
                lines.insert(index, line)
        path.write_text("".join(lines), encoding="utf-8")
    return count


def _mapping(node: yaml.Node | None, key: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if node is None:
        return []
    for k, v in node.value:
        if k.value == key and isinstance(v, yaml.MappingNode):
            return list(v.value)
    return []


def _locations(faq: Faq) -> dict[tuple[str, str, str], tuple[str, int, int]]:
    """(topic, lang, field) -> (file, line, column), for pointing at findings."""
    places: dict[tuple[str, str, str], tuple[str, int, int]] = {}
    if faq.directory is None:
        return places
    for path in sorted(faq.directory.glob("*.yaml")):
        try:
            node = yamlio.compose(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if node is None:
            continue
        topic_id = next((v.value for k, v in node.value if k.value == "id"), path.stem)
        for key, value in _mapping(node, "translations"):
            for field_key, field_value in value.value:
                mark = field_key.start_mark
                places[(topic_id, key.value, field_key.value)] = (
                    str(path),
                    mark.line + 1,
                    mark.column + 1,
                )
                if isinstance(field_value, yaml.SequenceNode):
                    for index, item in enumerate(field_value.value):
                        m = item.start_mark
                        places[(topic_id, key.value, f"{field_key.value}.{index}")] = (
                            str(path),
                            m.line + 1,
                            m.column + 1,
                        )
    return places
