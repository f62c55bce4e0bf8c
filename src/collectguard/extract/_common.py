"""Helpers shared by the extractors: data-file loading, span mapping, claimed ranges.

Extractors run over `NormalizedText.text` and report spans of the original text. They run
in a fixed order and *claim* the normalized characters they consume in a bytearray, so a
later extractor does not read an amount, a date or a card tail as a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources

from collectguard.normalize import NormalizedText

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
DIGIT_RE = re.compile(r"[0-9]")


def read_data(name: str) -> str:
    """The text of a data file shipped in ``collectguard/extract/data``."""
    return resources.files("collectguard.extract").joinpath("data", name).read_text("utf-8")


def data_lines(name: str) -> list[str]:
    """Non-blank, non-comment lines of a data file, stripped."""
    out: list[str] = []
    for line in read_data(name).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def orig(norm: NormalizedText, start: int, end: int) -> tuple[tuple[int, int], str]:
    """The original span and substring for a non-empty span of the normalized text."""
    s = norm.starts[start]
    e = norm.ends[end - 1]
    return (s, e), norm.original[s:e]


def is_free(claimed: bytearray, start: int, end: int) -> bool:
    """True when no character of [start, end) was claimed by an earlier extractor."""
    return claimed.find(1, start, end) == -1


def claim(claimed: bytearray, start: int, end: int) -> None:
    claimed[start:end] = b"\x01" * (end - start)


DIGIT_RUN_RE = re.compile(r"[0-9][0-9]*")


def word_starts(anchor: re.Pattern[str], text: str) -> list[int]:
    """Start positions of `anchor` hits; hits beginning with a Latin letter must start a word.

    `anchor` should be a branch of literals (no leading look-behind), which the regex engine
    scans with a fast first-character check.
    """
    out: list[int] = []
    for m in anchor.finditer(text):
        s = m.start()
        if s > 0 and "a" <= text[s] <= "z" and "a" <= text[s - 1] <= "z":
            continue
        out.append(s)
    return out


def match_at(full: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """Like ``full.finditer(text)``, but `full` is only tried at the given start positions.

    Python's regex engine tries every alternative of a large pattern at every position of
    the text, which costs tens of microseconds per message; the extractors instead find the
    few positions worth trying (digit runs with the right neighbour, cue words) with cheap
    scans. `starts` must be ascending and include every position where a match can start.
    """
    last = 0
    match = full.match
    for start in starts:
        if start < last:
            continue
        m = match(text, start)
        if m is not None and m.end() > start:
            yield m
            last = m.end()
