"""Name matching: one Aho-Corasick automaton over every name in the registry.

Keys are the names passed through the same pipeline as message text
(`collectguard.normalize.normalize` then `compact`: width-folded, simplified Chinese,
lower-case ASCII, separators between Chinese characters removed), so a name matches the
compact form of a message exactly. The automaton is compiled once per registry; a match
is one C-level pass plus a little Python per candidate hit. Where the optional Hyperscan
wheel is installed, the same names are also compiled into a Hyperscan literal database
that finds exactly the same occurrences about three times faster (the automaton is large
and cache-cold in a busy pipeline); the automaton remains the fallback and the reference
the tests compare against.

Guards against false hits:

* A name whose first (last) character is an ASCII letter or digit matches only when the
  text character before (after) it is not one, so ``mo9``/``twitter``/``icbc`` match as
  whole words and ``360借条`` does not match inside ``1360借条``.
* `DROPPED_NAMES`: names never matched, because they are everyday words or live inside
  everyday words (the longer names of the same entries still match).
* `CONTEXT_GUARDS`: short names kept but rejected when the character just before or after
  shows that they are part of a common word (``员工行为`` is not 工行, ``过程中行使`` is
  not 中行, ``完美团队`` is not 美团).

Pure: imports only the normalizer, pyahocorasick and (optionally) hyperscan.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import ahocorasick

from collectguard.normalize import compact, normalize
from collectguard.registry._models import Confidence, NameField

_hs: Any
try:  # optional accelerator (wheels for x86-64 Linux and macOS)
    _hs = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    _hs = None

DROPPED_NAMES: Mapping[str, str] = {
    "拍拍": "reduplicated verb (拍拍肩膀); 拍拍贷 still matches",
    "乐信": "inside 娱乐信息 / 音乐信号 / 快乐信用; 分期乐 and 乐花卡 still match",
    "众安": "inside 群众安全 / 民众安心; 众安贷, 众安保险, 众安小贷 still match",
    "abc": "English placeholder ('ABC Company', 'ABC Collections'); 农业银行/农行 still match",
    "借钱": "generic verb 'borrow money'",
    "信用贷": "generic term for any unsecured loan",
    "信用购": "generic term",
    "平安": "everyday word (平安 = safe); 平安银行/平安消费金融 still match",
    "360": "a number, also the 360 security group; 360借条/360数科/360金融 still match",
    "移动": "everyday word; 中国移动 still matches",
    "联通": "inside 关联通讯录; 中国联通 still matches",
    "电信": "inside 电信诈骗 / 电信网络诈骗; 中国电信 still matches",
    "高速": "everyday word (高速发展); ETC names still match",
    "菜鸟": "slang for 'newbie'; 菜鸟驿站 / 菜鸟裹裹 still match",
    "苹果": "the fruit; 苹果公司 / apple still match",
    "x": "one letter; twitter still matches",
}
"""Name keys (normalized) that are never matched, with the reason."""

CONTEXT_GUARDS: Mapping[str, tuple[str, str]] = {
    # name: (characters that may not come just before, ... just after)
    "工行": ("员施职罢加分开人务", "为使动走驶政"),
    "中行": ("空途进执运", "为使驶动走进"),
    "交行": ("提成外社递移转结", "为政情业程"),
    "农行": ("务", "为"),
    "建行": ("创修搭组兴", "为"),
    "招行": ("花绝", "骗"),
    "人行": ("个本他私行路夫友商诗成出同", "道为使走横动天"),
    "美团": ("完精优甜柔唯健", "队"),
    "中通": ("", "知过讯信话行"),
    "申通": ("重", "知过"),
    "分付": ("部", "款"),
    "信用付": ("", "款"),
    "金条": ("黄资本租现奖薪", "件款例"),
    "白条": ("打", ""),
    "还呗": ("就那快", ""),
}
"""Short names kept, but rejected next to these characters (keys are normalized names)."""


@functools.lru_cache(maxsize=8192)
def name_key(name: str) -> str:
    """The matching key of a registry name: its compact normalized form."""
    return compact(normalize(name)).text.strip()


class NameHit(NamedTuple):
    """A registry name found in (compact, normalized) text.

    A NamedTuple rather than a frozen dataclass: it is built on the hot path and a tuple is
    several times cheaper to construct.
    """

    entry_id: str
    """The preferred owner of the name (see `shared_with`)."""
    name: str
    """The name as written in the registry."""
    start: int
    end: int
    """Half-open span in the text given to `match_names`."""
    field: NameField
    confidence: Confidence | None = None
    """The name's own confidence where the registry grades it (products, signatures,
    aliases); None for legal names, brands and organisation names."""
    shared_with: tuple[str, ...] = ()
    """Other entries that carry the same name, in order of preference."""


@dataclass(frozen=True, slots=True)
class NameCandidate:
    """One (name, entry) pair offered to the matcher; lower `rank` = preferred owner."""

    name: str
    entry_id: str
    field: NameField
    rank: tuple[int, ...]
    confidence: Confidence | None = None


# (key length, forbidden before, forbidden after, ascii head, ascii tail,
#  entry_id, name, field, confidence, shared_with)
_Payload = tuple[int, str, str, bool, bool, str, str, NameField, Confidence | None, tuple[str, ...]]


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class NameMatcher:
    """Leftmost-longest, non-overlapping matching of registry names."""

    __slots__ = ("_automaton", "_hs_db", "_hs_local", "_hs_payloads", "_keys")

    def __init__(self, candidates: Iterable[NameCandidate]) -> None:
        by_key: dict[str, dict[str, NameCandidate]] = {}
        for cand in candidates:
            key = name_key(cand.name)
            if len(key) < 2 or key in DROPPED_NAMES:
                continue
            owners = by_key.setdefault(key, {})
            best = owners.get(cand.entry_id)
            if best is None or cand.rank < best.rank:
                owners[cand.entry_id] = cand
        self._keys: dict[str, tuple[NameCandidate, ...]] = {}
        automaton = ahocorasick.Automaton()
        for key, owners in by_key.items():
            ranked = tuple(sorted(owners.values(), key=lambda c: c.rank))
            self._keys[key] = ranked
            top = ranked[0]
            before, after = CONTEXT_GUARDS.get(key, ("", ""))
            payload: _Payload = (
                len(key),
                before,
                after,
                _ascii_alnum(key[0]),
                _ascii_alnum(key[-1]),
                top.entry_id,
                top.name,
                top.field,
                top.confidence,
                tuple(c.entry_id for c in ranked[1:]),
            )
            automaton.add_word(key, payload)
        if self._keys:
            automaton.make_automaton()
            self._automaton: ahocorasick.Automaton | None = automaton
        else:
            self._automaton = None
        self._hs_db: Any = None
        self._hs_payloads: list[_Payload] = []
        self._hs_local = threading.local()
        if _hs is not None and self._automaton is not None:
            keys = list(self._keys)
            exprs = [b"".join(b"\\x%02x" % b for b in k.encode("utf-8")) for k in keys]
            try:
                db = _hs.Database()
                db.compile(
                    expressions=exprs,
                    ids=list(range(len(keys))),
                    elements=len(keys),
                    flags=[_hs.HS_FLAG_SOM_LEFTMOST] * len(keys),
                )
            except _hs.error:  # pragma: no cover - literals always compile
                db = None
            if db is not None:
                self._hs_db = db
                self._hs_payloads = [self._automaton.get(k) for k in keys]

    def __len__(self) -> int:
        return len(self._keys)

    def owners(self, key: str) -> tuple[NameCandidate, ...]:
        """The candidates behind a normalized key, preferred owner first."""
        return self._keys.get(key, ())

    def _occurrences(
        self, text: str, *, reference: bool = False
    ) -> list[tuple[int, int, _Payload]]:
        """Every (start, end, payload) of every name in `text`, overlapping ones included.

        `reference=True` always uses the automaton (what the Hyperscan path is tested against)."""
        assert self._automaton is not None
        if self._hs_db is not None and not reference:
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates: not UTF-8, use the automaton
                data = b""
            if data or not text:
                return self._hs_occurrences(text, data)
        return [(last - p[0] + 1, last + 1, p) for last, p in self._automaton.iter(text)]

    def _hs_occurrences(self, text: str, data: bytes) -> list[tuple[int, int, _Payload]]:
        hits: list[tuple[int, int, int]] = []

        def on_match(key: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            hits.append((key, start, end))

        scratch = getattr(self._hs_local, "scratch", None)
        if scratch is None:  # hyperscan scratch space is per thread
            scratch = self._hs_local.scratch = _hs.Scratch(self._hs_db)
        self._hs_db.scan(data, match_event_handler=on_match, scratch=scratch)
        if not hits:
            return []
        payloads = self._hs_payloads
        if len(data) == len(text):  # ASCII: byte offsets are character offsets
            return [(s, e, payloads[k]) for k, s, e in hits]
        return [
            (len(data[:s].decode("utf-8")), len(data[:e].decode("utf-8")), payloads[k])
            for k, s, e in hits
        ]

    def match(self, text: str, *, reference: bool = False) -> list[NameHit]:
        """Names in `text` (already normalized and compacted), leftmost-longest first."""
        if self._automaton is None:
            return []
        found: list[tuple[int, int, _Payload]] = []
        n = len(text)
        for start, end, p in self._occurrences(text, reference=reference):
            if start > 0 and (p[1] or p[3]):
                prev = text[start - 1]
                if prev in p[1] or (p[3] and prev.isascii() and prev.isalnum()):
                    continue
            if end < n and (p[2] or p[4]):
                nxt = text[end]
                if nxt in p[2] or (p[4] and nxt.isascii() and nxt.isalnum()):
                    continue
            found.append((start, end, p))
        if not found:
            return []
        if len(found) == 1:
            start, end, p = found[0]
            return [NameHit(p[5], p[6], start, end, p[7], p[8], p[9])]
        found.sort(key=_leftmost_longest)
        hits: list[NameHit] = []
        taken = 0
        for start, end, p in found:
            if start >= taken:
                hits.append(NameHit(p[5], p[6], start, end, p[7], p[8], p[9]))
                taken = end
        return hits


def _leftmost_longest(hit: tuple[int, int, _Payload]) -> tuple[int, int]:
    return (hit[0], -hit[1])
