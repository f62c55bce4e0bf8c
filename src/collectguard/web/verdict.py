"""Turning a `CheckResult` into what the verdict card shows.

Owns: splitting the original text into segments so that each violation's span is
highlighted (markup is produced only by the autoescaping template, never here), the
authenticity reasons, and the money/time formatting the pages share. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from collectguard.analyze.result import CheckResult, Violation
from collectguard.findings import Finding

__all__ = ["Segment", "highlight", "reasons", "yuan"]


@dataclass(frozen=True)
class Segment:
    """A run of the original text; `marks` are the 1-based numbers of violations covering it."""

    text: str
    marks: tuple[int, ...]


def highlight(text: str, violations: list[Violation]) -> list[Segment]:
    """Cut `text` at every span edge; pieces inside spans carry their violations' numbers."""
    spans: list[tuple[int, int, int]] = []
    for number, v in enumerate(violations, start=1):
        if v.span is None:
            continue
        start, end = max(0, v.span[0]), min(len(text), v.span[1])
        if start < end:
            spans.append((start, end, number))
    cuts = sorted({0, len(text)} | {s for s, _, _ in spans} | {e for _, e, _ in spans})
    segments: list[Segment] = []
    for a, b in itertools.pairwise(cuts):
        marks = tuple(n for s, e, n in spans if s <= a and b <= e)
        if segments and segments[-1].marks == marks:
            segments[-1] = Segment(segments[-1].text + text[a:b], marks)
        else:
            segments.append(Segment(text[a:b], marks))
    return segments


def reasons(result: CheckResult) -> list[Finding]:
    """The findings behind the authenticity verdict: scam cues first, then genuine cues."""
    order = {"scam_cue": 0, "genuine_cue": 1}
    picked = [f for f in result.findings if f.kind in order]
    return sorted(picked, key=lambda f: (order[f.kind], -f.score))


def yuan(cents: int) -> str:
    """Cents as yuan with thousands separators: 123456 -> '1,234.56'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d}"


def local_time(value: dt.datetime, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
