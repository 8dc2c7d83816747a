"""FAQ matching latency: Poradna's matcher against a plain difflib loop, on the same queries."""

from __future__ import annotations

import difflib
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from bench.stats import percentile

if TYPE_CHECKING:
    from bench.synthetic import Query
    from faq.loader import Faq
    from faq.understanding import Understanding


@dataclass
class Latency:
    """Latencies of one way of matching over a query set, in milliseconds."""

    n: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    # Share of the queries made from a topic that got exactly that topic as the answer (the
    # matcher) or as the best match (the baseline, which always has a best match).
    right_topic: float | None = None
    # The same latencies in CPU time of this thread: what the code costs, without the time the
    # process waited for a CPU on a busy machine (matching does no I/O).
    cpu_p50_ms: float | None = None
    cpu_p99_ms: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def summarise(
    seconds: list[float], right_topic: float | None = None, cpu: list[float] | None = None
) -> Latency:
    ms = sorted(s * 1000 for s in seconds)
    cpu_ms = sorted(s * 1000 for s in cpu) if cpu else None
    return Latency(
        n=len(ms),
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
        mean_ms=sum(ms) / len(ms),
        max_ms=ms[-1],
        right_topic=right_topic,
        cpu_p50_ms=percentile(cpu_ms, 50) if cpu_ms else None,
        cpu_p99_ms=percentile(cpu_ms, 99) if cpu_ms else None,
    )


def time_matcher(
    understanding: Understanding, queries: list[Query], warmup: list[Query], repeats: int = 3
) -> tuple[Latency, Latency]:
    """(first sight, repeated) latencies of reading a message (`Understanding.read`: the
    urgent phrases, small talk and the FAQ matcher) over `queries`.

    First sight: each query timed once, the first time the matcher sees it (after `warmup`,
    other queries, so the steady state of a running bot: common words already met, typos
    new). Repeated: the best of `repeats` more runs of each query (everything already met).
    """
    for query in warmup:
        understanding.read(query.text)
    first, first_cpu, right, made = [], [], 0, 0
    for query in queries:
        start, start_cpu = time.perf_counter(), time.thread_time()
        match = understanding.read(query.text)
        first.append(time.perf_counter() - start)
        first_cpu.append(time.thread_time() - start_cpu)
        if query.topic is not None:
            made += 1
            right += match.decision == "answer" and match.topic == query.topic
    again = []
    for query in queries:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            understanding.read(query.text)
            best = min(best, time.perf_counter() - start)
        again.append(best)
    share = right / made if made else None
    return summarise(first, share, first_cpu), summarise(again, share)


def variant_strings(faq: Faq) -> list[tuple[str, str]]:
    """(topic id, casefolded text) of every question and variant, in every language."""
    return [
        (topic.id, text.casefold())
        for topic in faq.topics.values()
        for tr in topic.translations.values()
        for text in (tr.question, *tr.variants)
    ]


def difflib_best(strings: list[tuple[str, str]], text: str) -> str | None:
    """The baseline: a plain loop over every string, the best `SequenceMatcher.ratio` wins."""
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(text.casefold())  # difflib caches what it knows about the second sequence
    best_ratio, best_topic = -1.0, None
    for topic, candidate in strings:
        matcher.set_seq1(candidate)
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best_ratio, best_topic = ratio, topic
    return best_topic


def time_difflib(
    faq: Faq, queries: list[Query], max_queries: int, budget_s: float, min_queries: int = 2
) -> Latency:
    """Baseline latencies over the first queries, until `max_queries` or `budget_s` is spent."""
    strings = variant_strings(faq)
    seconds, right, made = [], 0, 0
    spent = 0.0
    for query in queries[:max_queries]:
        if len(seconds) >= min_queries and spent >= budget_s:
            break
        start = time.perf_counter()
        topic = difflib_best(strings, query.text)
        elapsed = time.perf_counter() - start
        seconds.append(elapsed)
        spent += elapsed
        if query.topic is not None:
            made += 1
            right += topic == query.topic
    return summarise(seconds, right / made if made else None)
