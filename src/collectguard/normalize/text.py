"""Normalization engine: see the package docstring for what it owns."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from itertools import chain

import ahocorasick
import opencc

_OPENCC = opencc.OpenCC("t2s")

# Characters OpenCC's t2s may change (built by scripts/build_t2s_triggers.py, checked against
# the installed OpenCC by a test): a text with none of them converts to itself.
_T2S_TRIGGERS = frozenset(
    resources.files("collectguard.normalize")
    .joinpath("data/t2s_triggers.txt")
    .read_text(encoding="utf-8")
    .strip()
)
# The Basic Multilingual Plane part as a regex class (sre compiles it to a bitmap, so a
# search allocates nothing per character); astral triggers are checked in the set.
_T2S_TRIGGER_BMP = re.compile(
    "[" + "".join(re.escape(c) for c in sorted(_T2S_TRIGGERS) if ord(c) <= 0xFFFF) + "]"
)

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _may_convert(text: str) -> bool:
    """False when OpenCC's t2s would return `text` unchanged (no trigger character)."""
    if text.isascii():
        return False
    if _T2S_TRIGGER_BMP.search(text):
        return True
    return _ASTRAL.search(text) is not None and not _T2S_TRIGGERS.isdisjoint(text)


# Characters dropped outright: zero-width, bidi controls, BOM, soft hyphen, variation selectors.
_INVISIBLE = frozenset(
    [chr(c) for c in range(0x200B, 0x2010)]  # ZWSP, ZWNJ, ZWJ, LRM, RLM
    + [chr(c) for c in range(0x202A, 0x202F)]  # LRE..RLO, PDF
    + [chr(c) for c in range(0x2060, 0x2070)]  # word joiner, invisible operators, LRI..PDI
    + [chr(c) for c in range(0xFE00, 0xFE10)]  # variation selectors
    + ["\ufeff", "\u00ad", "\u180e", "\u034f"]
)

# Digit-like characters NFKC leaves alone but evaders use in numbers.
_DIGIT_VARIANTS = {"〇": "0", "O": "O"}


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2FFFF
        or 0xF900 <= o <= 0xFAFF
    )


@functools.lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    """Width-fold, compatibility-decompose and lowercase one character; '' drops it."""
    if ch in _INVISIBLE:
        return ""
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return " " if ch in "\t\n\r\x0b\x0c" else ""
    if cat in ("Cf", "Cs", "Co", "Cn") and not _is_cjk(ch):
        return ""
    out = unicodedata.normalize("NFKC", ch)
    if ch in _DIGIT_VARIANTS:
        out = _DIGIT_VARIANTS[ch]
    # NFKC turns full-width 【】 into themselves (they have no compatibility form): keep.
    return out.lower() if out.isascii() else out


def _t2s(chars: list[str]) -> list[str]:
    """Traditional → simplified, keeping one output character per input character."""
    joined = "".join(chars)
    if not _may_convert(joined):
        return chars
    converted = _OPENCC.convert(joined)
    if len(converted) == len(joined):
        return list(converted)
    # Phrase conversion changed the length (rare): fall back to character by character.
    return [c if len(c2 := _OPENCC.convert(c)) != 1 else c2 for c in chars]


def _t2s_text(text: str) -> str:
    """`_t2s` for a string whose characters map one to one."""
    if not _may_convert(text):
        return text
    converted: str = _OPENCC.convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_t2s(list(text)))


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A normalized string with, per character, the original [start, end) it came from."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of `text` to a half-open span of `original`."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span ({start}, {end}) outside normalized text of {len(self.text)}")
        if start == end:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return (pos, pos)
        return (self.starts[start], self.ends[end - 1])

    def original_slice(self, start: int, end: int) -> str:
        s, e = self.to_original(start, end)
        return self.original[s:e]

    def __len__(self) -> int:
        return len(self.text)


class _Builder:
    __slots__ = ("chars", "ends", "starts")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, text: str, start: int, end: int) -> None:
        for ch in text:
            self.chars.append(ch)
            self.starts.append(start)
            self.ends.append(end)

    def build(self, original: str) -> NormalizedText:
        return NormalizedText(original, "".join(self.chars), tuple(self.starts), tuple(self.ends))


def normalize(original: str) -> NormalizedText:
    """Display-level normalization: width, compatibility forms, case, 繁→简, invisibles.

    Spaces and punctuation are kept (extractors need them); runs of whitespace collapse to
    one space.
    """
    # Fast path (most messages): one str.translate pass; every character that does not
    # fold to exactly one printable character turns into the marker, which sends the text
    # down the general path below.
    if original.isascii():
        joined = original.translate(_FOLD_TABLE)
    else:  # only characters outside the identity ranges go through the (large) table
        joined = _NEEDS_FOLD.sub(_fold_match, original)
    if _MARKER not in joined and "  " not in joined:
        n = len(original)
        return NormalizedText(original, _t2s_text(joined), _identity(0, n), _identity(1, n + 1))
    folded: list[str] = []
    fstarts: list[int] = []
    prev_space = False
    for i, ch in enumerate(original):
        out = _fold_char(ch)  # lru-cached
        if not out:
            continue
        for o in out:
            if o.isspace():
                if prev_space:
                    continue
                o = " "
                prev_space = True
            else:
                prev_space = False
            folded.append(o)
            fstarts.append(i)
    simplified = _t2s(folded)
    return NormalizedText(
        original, "".join(simplified), tuple(fstarts), tuple(i + 1 for i in fstarts)
    )


_MARKER = "\x00"  # folds to "" itself, so it never survives as a fast-path character


class _FoldTable(dict[int, str]):
    """The str.translate table: code point → its one-character fold, or `_MARKER` when the
    character folds to nothing, to several characters or to a space other than U+0020.
    Filled on first sight of each character, bounded against hostile input."""

    def __missing__(self, key: int) -> str:
        out = _fold_char(chr(key))
        one = len(out) == 1 and out.isprintable() and (out == " " or not out.isspace())
        value = out if one else _MARKER
        if len(self) < 65536:
            self[key] = value
        return value


_FOLD_TABLE = _FoldTable()

# Ranges of characters that fold to themselves (a test checks each against `_fold_char`):
# CJK ideographs, lower-case ASCII, digits, ASCII punctuation and space, and the CJK and
# typographic punctuation SMS use most. Only the rest is looked up in `_FOLD_TABLE`, which
# keeps a message's lookups few (the table is large and cold in a busy pipeline).
IDENTITY_RANGES: tuple[tuple[str, str], ...] = (
    ("\u4e00", "\u9fff"),
    ("\u3400", "\u4dbf"),
    (" ", "@"),
    ("[", "`"),
    ("a", "~"),
    ("\u3001", "\u3003"),
    ("\u3008", "\u3011"),
    ("\u3014", "\u3015"),
    ("\u2018", "\u2019"),
    ("\u201c", "\u201d"),
)
_NEEDS_FOLD = re.compile(
    "[^" + "".join(f"{re.escape(a)}-{re.escape(b)}" for a, b in IDENTITY_RANGES) + "]"
)


def _fold_match(m: re.Match[str]) -> str:
    return _FOLD_TABLE[ord(m.group())]


_IDENTITY: tuple[int, ...] = tuple(range(4097))


def _identity(start: int, stop: int) -> tuple[int, ...]:
    """tuple(range(start, stop)) from a shared table (slicing beats building); the table
    grows to at most 65,536 entries, longer texts build their own."""
    global _IDENTITY
    if stop > len(_IDENTITY):
        if stop > 1 << 16:
            return tuple(range(start, stop))
        _IDENTITY = tuple(range(min(stop * 2, 1 << 16)))
    return _IDENTITY[start:stop]


_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_BRIDGE = re.compile(f"[{_CJK_CLASS}]([^{_CJK_CLASS}0-9A-Za-z。!?;,、\\n]+)(?=[{_CJK_CLASS}])")


_SEPARATOR_CACHE: dict[str, bool] = {}


def _is_separator(ch: str) -> bool:
    sep = _SEPARATOR_CACHE.get(ch)
    if sep is None:
        cat = unicodedata.category(ch)
        sep = ch.isspace() or cat[0] in ("P", "S") or cat in ("Mn", "Me")
        if len(_SEPARATOR_CACHE) < 65536:
            _SEPARATOR_CACHE[ch] = sep
    return sep


def _latin_token_in_chinese(text: str, start: int, end: int) -> bool:
    """True when text[start:end] is a whole Latin token whose nearest neighbour is Chinese."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if (before.isascii() and before.isalnum()) or (after.isascii() and after.isalnum()):
        return False
    i = start - 1
    while i >= 0 and _is_separator(text[i]):
        i -= 1
    j = end
    while j < len(text) and _is_separator(text[j]):
        j += 1
    return (i >= 0 and _is_cjk(text[i])) or (j < len(text) and _is_cjk(text[j]))


class EvasionLexicon:
    """Variant → canonical replacements applied in the compact form.

    `variants` maps spellings used to dodge filters (homophones such as ``崔收``, pinyin
    initials such as ``cs``) to their canonical term. Latin variants only match as whole
    tokens next to Chinese text, so ``cs`` in ``docs`` or an English sentence is left alone.
    """

    def __init__(self, variants: Mapping[str, str]) -> None:
        self._variants = {k.lower(): v for k, v in variants.items() if k and v}
        self._automaton: ahocorasick.Automaton | None = None
        if self._variants:
            a = ahocorasick.Automaton()
            for k, v in self._variants.items():
                a.add_word(k, (k, v))
            a.make_automaton()
            self._automaton = a

    @classmethod
    def empty(cls) -> EvasionLexicon:
        return cls({})

    def replacements(self, text: str) -> Iterable[tuple[int, int, str]]:
        """Non-overlapping (start, end, canonical) replacements, leftmost-longest."""
        if self._automaton is None:
            return []
        hits: list[tuple[int, int, str]] = []
        for end_idx, (k, v) in self._automaton.iter(text):
            start = end_idx - len(k) + 1
            end = end_idx + 1
            if k.isascii() and not _latin_token_in_chinese(text, start, end):
                continue
            hits.append((start, end, v))
        hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        chosen: list[tuple[int, int, str]] = []
        last_end = -1
        for h in hits:
            if h[0] >= last_end:
                chosen.append(h)
                last_end = h[1]
        return chosen


def compact(norm: NormalizedText, evasions: EvasionLexicon | None = None) -> NormalizedText:
    """The evasion-resistant form used for lexicon matching.

    Separators (spaces, punctuation, symbols) are dropped when the nearest non-separator
    characters on both sides are Chinese, so ``爆 通*讯 录`` reads ``爆通讯录``; separators
    between Latin words stay (as one space) so English keeps its word boundaries. Then
    evasion variants are replaced by their canonical terms. Offsets still point into
    `norm.original`.
    """
    text = norm.text
    n = len(text)
    # A run is dropped when Chinese stands on both sides and every character in it is a
    # separator; sentence punctuation between Chinese clauses stays as a boundary so terms
    # do not match across sentences (the pattern excludes it, so such runs never match).
    runs = [m.span(1) for m in _BRIDGE.finditer(text) if all(map(_is_separator, m.group(1)))]
    if not runs:
        stage = norm
    else:
        keep: list[tuple[int, int]] = []
        pos = 0
        for start, end in runs:  # in order and disjoint: finditer does not overlap
            keep.append((pos, start))
            pos = end
        keep.append((pos, n))
        starts, ends = norm.starts, norm.ends
        stage = NormalizedText(
            norm.original,
            "".join([text[a:b] for a, b in keep]),
            tuple(chain.from_iterable([starts[a:b] for a, b in keep])),
            tuple(chain.from_iterable([ends[a:b] for a, b in keep])),
        )
    if evasions is None:
        return stage
    reps = list(evasions.replacements(stage.text))
    if not reps:
        return stage
    out = _Builder()
    pos = 0
    for start, end, canonical in reps:
        for k in range(pos, start):
            out.add(stage.text[k], stage.starts[k], stage.ends[k])
        ostart, oend = stage.starts[start], stage.ends[end - 1]
        out.add(canonical, ostart, oend)
        pos = end
    for k in range(pos, len(stage.text)):
        out.add(stage.text[k], stage.starts[k], stage.ends[k])
    return out.build(norm.original)


_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def show_bidi_controls(text: str) -> str:
    """`text` with bidirectional embedding, override and isolate controls (U+202A–U+202E,
    U+2066–U+2069) written out as ``[U+202E]``. For showing a message to a person (the
    verdict card, letters): an invisible right-to-left override would reverse what follows
    it, and the reader should see that the message held one."""
    return _BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
