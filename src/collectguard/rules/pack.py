"""Loading and compiling rule packs.

A `RulePack` is a validated `RulePackFile` compiled once for matching: every literal term of
every rule and signal goes into ONE Aho–Corasick automaton; each item's regular expressions
are joined into one alternation. `RulePack.scan` returns the raw hits on the compact text;
turning hits into findings (context, builtins, scores) is the analyzer's job.

Packs ship in `collectguard/rules/packs/<name>.yaml` next to their annotated fixtures
`<name>.fixtures.txt`; users add or override packs with their own files. Reading files is the
only I/O here and happens at load time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import importlib.resources
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import yaml
from pydantic import ValidationError

from collectguard._yaml import safe_load as safe_yaml
from collectguard.errors import RulePackError
from collectguard.normalize import EvasionLexicon, NormalizedText
from collectguard.rules.model import Detect, Rule, RulePackFile, Signal
from collectguard.rules.prefilter import Prefilter

BUILTIN_PACKS = ("cn", "us")
_CLAUSE_BREAKS = re.compile(r"[。!?;,，、\n]")
_CLAUSE_REACH = 200
# Evidence enough for any rule; keeps a text that repeats one cue 10^5 times linear and small.
_MAX_HITS_PER_ITEM = 32


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule or signal that fired on the compact text at [start, end)."""

    item: Rule | Signal
    start: int
    end: int
    cue: str


@dataclass(frozen=True, slots=True)
class _Compiled:
    item: Rule | Signal
    pattern: re.Pattern[str] | None
    unless: re.Pattern[str] | None


def _join(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns))


class RulePack:
    """A compiled, ready-to-scan rule pack (optionally with overlays applied)."""

    def __init__(self, spec: RulePackFile, origin: str = "<memory>") -> None:
        self.spec = spec
        self.origin = origin
        self.name = spec.pack
        self.version = spec.version
        self.jurisdiction = spec.jurisdiction
        self.timezone = spec.timezone
        self.thresholds = spec.thresholds
        self.evasions = EvasionLexicon(spec.evasions)
        self.rules: tuple[Rule, ...] = tuple(r for r in spec.rules if r.enabled)
        self.signals: tuple[Signal, ...] = spec.signals
        self._items: list[_Compiled] = []
        automaton = ahocorasick.Automaton()
        term_owners: dict[str, list[int]] = {}
        items: list[Signal | Rule] = [*self.signals, *self.rules]
        for item in items:
            idx = len(self._items)
            d: Detect = item.detect
            self._items.append(_Compiled(item, _join(d.patterns), _join(d.unless)))
            for term in d.terms:
                term_owners.setdefault(term.lower(), []).append(idx)
        for term, owners in term_owners.items():
            automaton.add_word(term, (term, tuple(owners)))
        self._automaton: ahocorasick.Automaton | None = None
        if term_owners:
            automaton.make_automaton()
            self._automaton = automaton
        self._by_id = {i.item.id: i.item for i in self._items}
        self._builtin_items = tuple(c.item for c in self._items if c.item.detect.builtin)
        self._prefilter = Prefilter(
            [(idx, c.pattern.pattern) for idx, c in enumerate(self._items) if c.pattern is not None]
        )

    def __repr__(self) -> str:
        return f"RulePack({self.name!r}, version={self.version!r}, rules={len(self.rules)})"

    def get(self, item_id: str) -> Rule | Signal | None:
        return self._by_id.get(item_id)

    def builtin_items(self) -> Iterable[Rule | Signal]:
        return self._builtin_items

    def scan(self, compact: NormalizedText, *, prefilter: bool = True) -> list[Hit]:
        """All term and pattern hits in `compact`, negations applied, one hit per item+span.

        `prefilter=False` runs every pattern (the reference the prefilter is tested against).
        """
        text = compact.text
        hits: list[Hit] = []
        seen: set[tuple[str, int]] = set()
        breaks: list[int] | None = None

        def clause(start: int, end: int) -> str:
            nonlocal breaks
            if breaks is None:  # computed once per scan, only when a negation needs it
                breaks = [m.start() for m in _CLAUSE_BREAKS.finditer(text)]
            return _clause(text, breaks, start, end)

        kept: dict[str, int] = {}

        def keep(c: _Compiled, start: int, end: int, cue: str) -> None:
            key = (c.item.id, start)
            if key in seen or kept.get(c.item.id, 0) >= _MAX_HITS_PER_ITEM:
                return
            if c.unless is not None:
                scope = text if c.item.detect.unless_scope == "message" else clause(start, end)
                if c.unless.search(scope):
                    return
            seen.add(key)
            kept[c.item.id] = kept.get(c.item.id, 0) + 1
            hits.append(Hit(c.item, start, end, cue))

        if self._automaton is not None and text:
            for end_idx, (term, owners) in self._automaton.iter(text):
                start = end_idx - len(term) + 1
                for idx in owners:
                    keep(self._items[idx], start, end_idx + 1, term)
        candidates = self._prefilter.candidates(text) if prefilter else self._prefilter.keys
        for idx in sorted(candidates):
            c = self._items[idx]
            assert c.pattern is not None
            for m in c.pattern.finditer(text):
                if m.end() > m.start():
                    keep(c, m.start(), m.end(), m.group(0))
        return hits


def _clause(text: str, breaks: list[int], start: int, end: int) -> str:
    """The clause around `text[start:end]`: between the nearest clause breaks, at most
    `_CLAUSE_REACH` characters either side (bounded so a huge run-on text stays linear)."""
    i = bisect.bisect_left(breaks, start)
    left = breaks[i - 1] + 1 if i > 0 else 0
    j = bisect.bisect_left(breaks, end)
    right = breaks[j] if j < len(breaks) else len(text)
    return text[max(left, start - _CLAUSE_REACH) : min(right, end + _CLAUSE_REACH)]


def _parse(raw: str, origin: str) -> RulePackFile:
    try:
        data = safe_yaml(raw)
    except yaml.YAMLError as exc:
        raise RulePackError(f"{origin}: not valid YAML: {exc}") from exc
    except ValueError as exc:  # YAML reads 2026-13-01 as a date and fails on it
        raise RulePackError(f"{origin}: {_bad_date(raw, exc)}") from None
    if not isinstance(data, dict):
        raise RulePackError(f"{origin}: a rule pack must be a YAML mapping with 'pack' and 'rules'")
    try:
        return RulePackFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = _describe_loc(data, err["loc"])
            lines.append(f"  {loc}: {err['msg']}")
        raise RulePackError(f"{origin}: invalid rule pack:\n" + "\n".join(lines)) from None


_DATE_LIKE = re.compile(r"(?<![\w.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w.:-])")


def _bad_date(raw: str, exc: ValueError) -> str:
    """Where a date that does not exist (2026-13-01, 2025-02-30) is in the pack's text."""
    for n, line in enumerate(raw.splitlines(), 1):
        for m in _DATE_LIKE.finditer(line.split("#", 1)[0]):
            try:
                dt.date(*(int(g) for g in m.groups()))
            except ValueError as why:
                return f"line {n}: {m.group(0)} is not a date ({why}); write dates as YYYY-MM-DD"
    return f"not valid YAML: {exc}"


def _describe_loc(data: object, loc: tuple[int | str, ...]) -> str:
    """Name the failing field, with the id of the rule it belongs to when there is one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if key == "citations" and isinstance(node, dict) and key not in node:
            key = "citation"  # a pack writes dated citations under `citation`
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
            if isinstance(node, dict) and "id" in node:
                parts.append(f"[{node['id']}]")
                continue
        parts.append(f".{key}" if isinstance(key, str) else f"[{key}]")
    return "".join(parts).lstrip(".")


def _merge(base: RulePackFile, overlay: RulePackFile) -> RulePackFile:
    rules = {r.id: r for r in base.rules}
    rules.update({r.id: r for r in overlay.rules})
    signals = {s.id: s for s in base.signals}
    signals.update({s.id: s for s in overlay.signals})
    return base.model_copy(
        update={
            "pack": overlay.pack,
            "version": f"{base.version}+{overlay.pack}.{overlay.version}",
            "jurisdiction": overlay.jurisdiction,
            "timezone": overlay.timezone,
            "rules": tuple(rules.values()),
            "signals": tuple(signals.values()),
            "evasions": {**base.evasions, **overlay.evasions},
        }
    )


def _builtin_text(name: str, suffix: str) -> str:
    res = importlib.resources.files("collectguard.rules") / "packs" / f"{name}{suffix}"
    return res.read_text(encoding="utf-8")


def fixture_text(name: str) -> str:
    """The annotated fixture file shipped beside built-in pack `name`."""
    return _builtin_text(name, ".fixtures.txt")


def history_fixture_text(name: str) -> str:
    """The timeline fixtures of pack `name`'s history-aware rules ("[]" when it has none)."""
    try:
        return _builtin_text(name, ".history-fixtures.yaml")
    except FileNotFoundError:
        return "[]"


@functools.lru_cache(maxsize=16)
def load_builtin(name: str) -> RulePack:
    """A shipped pack by name (`cn`, `us`), compiled once per process."""
    if name not in BUILTIN_PACKS:
        raise RulePackError(
            f"no built-in rule pack {name!r}; built-in packs: {', '.join(BUILTIN_PACKS)}"
        )
    return RulePack(
        _parse(_builtin_text(name, ".yaml"), f"<builtin {name}.yaml>"), f"builtin:{name}"
    )


def load_pack_file(path: Path, base: RulePack | None = None) -> RulePack:
    """A pack from a user's file; an overlay (`extends: cn`) is merged onto its base."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulePackError(f"{path}: cannot read rule pack: {exc}") from exc
    spec = _parse(raw, str(path))
    if spec.extends:
        parent = (
            base if base is not None and base.name == spec.extends else load_builtin(spec.extends)
        )
        spec = _merge(parent.spec, spec)
    return RulePack(spec, str(path))


def resolve_pack(name_or_path: str) -> RulePack:
    """`cn`/`us` for shipped packs, or a path to a pack or overlay file."""
    if name_or_path in BUILTIN_PACKS:
        return load_builtin(name_or_path)
    path = Path(name_or_path)
    if not path.exists():
        raise RulePackError(
            f"没有规则包 {name_or_path!r}：内置的有 {', '.join(BUILTIN_PACKS)}，或给出文件路径 / "
            f"{name_or_path!r} is neither a built-in pack ({', '.join(BUILTIN_PACKS)}) nor a file"
        )
    return load_pack_file(path)
