"""`PlatformRegistry`: lookup of lenders and organisations by name, number and domain.

Owns the in-memory indexes built from validated registry files (see `_loader`), the
cross-file checks (related ids, alias targets), the merge/override of a user's file, and
the confidence policy for which numbers may be offered to a person (see the package
docstring).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from collectguard.errors import RegistryError
from collectguard.normalize import normalize
from collectguard.registry._loader import RegistryData, RegistrySource, load_registry_file
from collectguard.registry._matching import NameCandidate, NameHit, NameMatcher, name_key
from collectguard.registry._models import (
    Confidence,
    Hotline,
    LenderEntry,
    NameField,
    OfficialDomain,
    Organization,
    ProductAlias,
    RegistryEntry,
    SmsPort,
    digits_of,
)

DEFAULT_FILES: tuple[str, ...] = ("cn_lenders.yaml", "cn_organizations.yaml")
"""The shipped registry files, in `collectguard/registry/data/`, loaded by `default()`."""

HotlineMatchKind = Literal["exact", "port_suffix_match", "observed_port"]

# 95xxx / 95xxxx national and 96xxx(x) provincial service numbers: banks send SMS from
# 106… ports that end with them (106980095533 → 95533).
_SERVICE_NUMBER_RE = re.compile(r"^9[56][0-9]{3,4}$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")

_NO_FILE = "<registry>"

# Owner preference for a name several entries share (lower wins): an alias naming the
# entry, then lenders before organisations, then by the kind of name, then file order.
_FIELD_RANK: Mapping[str, int] = {
    "legal_name": 0,
    "registered_name": 1,
    "brand": 1,
    "signature": 2,
    "product": 3,
    "organization": 4,
}
_PUBLIC_FIELD: Mapping[str, NameField] = {
    "legal_name": "legal_name",
    "registered_name": "legal_name",
    "brand": "brand",
    "signature": "signature",
    "product": "product",
    "organization": "organization",
}


@dataclass(frozen=True, slots=True)
class HotlineMatch:
    """How a phone number or SMS sender relates to a registry entry.

    * ``exact`` — the digits equal one of the entry's hotlines;
    * ``port_suffix_match`` — a ``106…`` SMS port whose tail is the entry's 95xxx/96xxx
      number (``106980095533`` → 建行 95533): a bank-style port, still spoofable;
    * ``observed_port`` — the digits equal a port seen in the entry's real SMS
      (`hotline` is None, `port` is set).
    """

    entry: RegistryEntry
    hotline: Hotline | None
    kind: HotlineMatchKind
    port: SmsPort | None = None


def clean_digits(number: str) -> str:
    """Digits of a number with separators and a +86 / 0086 country prefix removed."""
    raw = number.strip()
    digits = digits_of(raw)
    if raw.startswith("+86") and len(digits) > 5:
        return digits[2:]
    if digits.startswith("0086") and len(digits) > 7:
        return digits[4:]
    return digits


def clean_host(host: str) -> str:
    """A bare lower-case host from a host, registered domain or URL."""
    h = host.strip().lower()
    h = _SCHEME_RE.sub("", h)
    for sep in "/?#":
        h = h.split(sep, 1)[0]
    h = h.rsplit("@", 1)[-1]
    if ":" in h:
        h = h.split(":", 1)[0]
    h = h.strip(".")
    return h.removeprefix("*.")


class PlatformRegistry:
    """Lenders and organisations, their names, official hotlines and domains.

    Build one with `PlatformRegistry.default()` (shipped data, cached),
    `PlatformRegistry.load(paths)` or `registry.merged_with(path)`. Instances are
    immutable; every index, including the name automaton, is built once in the
    constructor.
    """

    def __init__(
        self,
        lenders: Iterable[LenderEntry] = (),
        organizations: Iterable[Organization] = (),
        product_aliases: Iterable[ProductAlias] = (),
        *,
        origins: Mapping[str, str] | None = None,
        alias_origins: Mapping[str, str] | None = None,
    ) -> None:
        """Index the given entries; `origins` (id → file) names files in error messages."""
        origins = origins or {}
        alias_origins = alias_origins or {}
        self._entries: dict[str, RegistryEntry] = {}
        self._origins: dict[str, str] = {}
        given: list[RegistryEntry] = [*lenders, *organizations]
        for entry in given:
            where = origins.get(entry.id, _NO_FILE)
            if entry.id in self._entries:
                raise RegistryError(f"{where}: id {entry.id!r}: duplicate id")
            self._entries[entry.id] = entry
            self._origins[entry.id] = where
        self._aliases: tuple[ProductAlias, ...] = tuple(product_aliases)
        self._alias_origins = {a.alias: alias_origins.get(a.alias, _NO_FILE) for a in self._aliases}
        self._check_references()
        self._index_numbers_and_domains()
        self._matcher = NameMatcher(self._name_candidates())
        self._search_rows = [(e, self._search_texts(e)) for e in self._entries.values()]

    # ----------------------------------------------------------------- construction

    @classmethod
    def default(cls) -> PlatformRegistry:
        """The shipped registry (lenders + organisations), loaded once per process."""
        return _default_registry()

    @classmethod
    def load(cls, paths: Iterable[RegistrySource], *, override: bool = False) -> PlatformRegistry:
        """A registry from files, in order.

        With ``override=False`` an id defined in two files is an error; with
        ``override=True`` a later file replaces earlier entries (and aliases) by id.
        """
        layers = [load_registry_file(p) for p in paths]
        return cls._from_layers(layers, override=override)

    def merged_with(self, path: RegistrySource) -> PlatformRegistry:
        """A new registry where the entries of `path` add to or replace (by id) these ones.

        A replaced entry is replaced whole (fields are not merged) and keeps its position;
        an alias with the same name replaces the old alias. This registry is unchanged.
        """
        return self._combine(
            list(self._entries.values()),
            list(self._aliases),
            dict(self._origins),
            dict(self._alias_origins),
            [load_registry_file(path)],
            override=True,
        )

    @classmethod
    def _from_layers(cls, layers: Sequence[RegistryData], *, override: bool) -> PlatformRegistry:
        return cls._combine([], [], {}, {}, layers, override=override)

    @classmethod
    def _combine(
        cls,
        entries_in: list[RegistryEntry],
        aliases_in: list[ProductAlias],
        origins: dict[str, str],
        alias_origins: dict[str, str],
        layers: Sequence[RegistryData],
        *,
        override: bool,
    ) -> PlatformRegistry:
        entries = {e.id: e for e in entries_in}
        aliases = {a.alias: a for a in aliases_in}
        for layer in layers:
            layer_entries: list[RegistryEntry] = [*layer.lenders, *layer.organizations]
            for entry in layer_entries:
                if entry.id in entries and not override:
                    raise RegistryError(
                        f"{layer.label}: id {entry.id!r}: already defined in "
                        f"{origins.get(entry.id, _NO_FILE)}"
                    )
                entries[entry.id] = entry
                origins[entry.id] = layer.label
            for alias in layer.product_aliases:
                if alias.alias in aliases and not override:
                    raise RegistryError(
                        f"{layer.label}: alias {alias.alias!r}: already defined in "
                        f"{alias_origins.get(alias.alias, _NO_FILE)}"
                    )
                aliases[alias.alias] = alias
                alias_origins[alias.alias] = layer.label
        return cls(
            [e for e in entries.values() if isinstance(e, LenderEntry)],
            [e for e in entries.values() if isinstance(e, Organization)],
            aliases.values(),
            origins=origins,
            alias_origins=alias_origins,
        )

    def _check_references(self) -> None:
        for entry in self._entries.values():
            for rid in entry.related_ids:
                if rid not in self._entries:
                    raise RegistryError(
                        f"{self._origins[entry.id]}: id {entry.id!r}: related_ids: "
                        f"unknown entry id {rid!r}"
                    )
        for alias in self._aliases:
            if alias.entry_id not in self._entries:
                raise RegistryError(
                    f"{self._alias_origins[alias.alias]}: alias {alias.alias!r}: entry_id: "
                    f"unknown entry id {alias.entry_id!r}"
                )

    def _index_numbers_and_domains(self) -> None:
        self._by_digits: dict[str, list[tuple[RegistryEntry, Hotline]]] = {}
        self._by_service_tail: dict[str, list[tuple[RegistryEntry, Hotline]]] = {}
        self._by_port: dict[str, list[tuple[RegistryEntry, SmsPort]]] = {}
        self._by_domain: dict[str, list[tuple[RegistryEntry, OfficialDomain]]] = {}
        for entry in self._entries.values():
            for hotline in entry.hotlines:
                self._by_digits.setdefault(hotline.digits, []).append((entry, hotline))
                if _SERVICE_NUMBER_RE.match(hotline.digits):
                    self._by_service_tail.setdefault(hotline.digits, []).append((entry, hotline))
            if isinstance(entry, LenderEntry):
                for port in entry.sms_ports_observed:
                    self._by_port.setdefault(port.port, []).append((entry, port))
            for domain in entry.domains:
                self._by_domain.setdefault(domain.domain, []).append((entry, domain))

    def _name_candidates(self) -> Iterator[NameCandidate]:
        designated = {(name_key(a.alias), a.entry_id) for a in self._aliases}
        position = {eid: i for i, eid in enumerate(self._entries)}

        def candidate(
            entry: RegistryEntry, name: str, kind: str, confidence: Confidence | None = None
        ) -> NameCandidate:
            preferred = 0 if (name_key(name), entry.id) in designated else 1
            rank = (preferred, 0 if entry.is_lender else 1, _FIELD_RANK[kind], position[entry.id])
            return NameCandidate(name, entry.id, _PUBLIC_FIELD[kind], rank, confidence)

        for entry in self._entries.values():
            if isinstance(entry, Organization):
                for name in entry.names:
                    yield candidate(entry, name, "organization")
                continue
            for i, name in enumerate(entry.registered_names):
                primary = i == 0 and name == entry.legal_name
                yield candidate(entry, name, "legal_name" if primary else "registered_name")
            for name in entry.short_registered_names:
                yield candidate(entry, name, "registered_name")
            for brand in entry.brands:
                yield candidate(entry, brand.name, "brand", brand.confidence)
            for sig in entry.sms_signatures:
                yield candidate(entry, sig.name, "signature", sig.confidence)
            for product in entry.products:
                if product.matchable:
                    yield candidate(entry, product.name, "product", product.confidence)
        for alias in self._aliases:
            yield candidate(self._entries[alias.entry_id], alias.alias, "product", alias.confidence)

    @staticmethod
    def _search_texts(entry: RegistryEntry) -> tuple[str, ...]:
        texts: list[str] = [entry.id]
        if isinstance(entry, LenderEntry):
            texts += [entry.legal_name, *entry.registered_names]
            texts += [b.name for b in entry.brands]
            texts += [p.name for p in entry.products]
            texts += [s.name for s in entry.sms_signatures]
        else:
            texts += list(entry.names)
        texts += [d.domain for d in entry.domains]
        return tuple(normalize(t).text.lower() for t in texts)

    # ----------------------------------------------------------------- collection

    def __iter__(self) -> Iterator[RegistryEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._entries

    def __repr__(self) -> str:
        return (
            f"<PlatformRegistry {len(self.lenders)} lenders, "
            f"{len(self.organizations)} organizations, {len(self._aliases)} aliases>"
        )

    @property
    def lenders(self) -> tuple[LenderEntry, ...]:
        return tuple(e for e in self._entries.values() if isinstance(e, LenderEntry))

    @property
    def organizations(self) -> tuple[Organization, ...]:
        return tuple(e for e in self._entries.values() if isinstance(e, Organization))

    @property
    def product_aliases(self) -> tuple[ProductAlias, ...]:
        return self._aliases

    def get(self, entry_id: str) -> RegistryEntry | None:
        """The entry with this id, or None."""
        return self._entries.get(entry_id)

    def _require(self, entry_id: str) -> RegistryEntry:
        try:
            return self._entries[entry_id]
        except KeyError:
            raise KeyError(f"unknown registry entry id {entry_id!r}") from None

    def related(self, entry_id: str) -> list[RegistryEntry]:
        """Entries linked to `entry_id` by `related_ids`, in either direction."""
        entry = self._require(entry_id)
        ids = list(entry.related_ids)
        ids += [e.id for e in self._entries.values() if entry_id in e.related_ids]
        return [self._entries[i] for i in dict.fromkeys(ids) if i != entry_id]

    def search(self, query: str) -> list[RegistryEntry]:
        """Entries whose id, names, brands, products, legal name, signatures, domains or
        hotline digits contain `query` (case-, width- and 繁/简-insensitive).

        Entries where the query equals a name come first; otherwise registry order.
        """
        q = normalize(query).text.strip().lower()
        if not q:
            return []
        q_digits = clean_digits(query) if sum(c.isdigit() for c in q) >= 3 else ""
        exact: list[RegistryEntry] = []
        partial: list[RegistryEntry] = []
        for entry, texts in self._search_rows:
            if q in texts:
                exact.append(entry)
            elif any(q in t for t in texts) or (
                q_digits and any(q_digits in h.digits for h in entry.hotlines)
            ):
                partial.append(entry)
        return exact + partial

    # ----------------------------------------------------------------- names

    def match_names(self, compact_text: str) -> list[NameHit]:
        """Registry names in already-normalized compact text (see `collectguard.normalize`).

        Leftmost-longest, non-overlapping; a name several entries share yields one hit
        for its preferred owner with the others in `NameHit.shared_with`.
        """
        return self._matcher.match(compact_text)

    # ----------------------------------------------------------------- numbers

    def match_hotline(self, number: str) -> list[HotlineMatch]:
        """Every way `number` (a hotline, caller id or SMS sender) relates to an entry."""
        digits = clean_digits(number)
        if len(digits) < 3:
            return []
        out = [HotlineMatch(e, h, "exact") for e, h in self._by_digits.get(digits, ())]
        if digits.startswith("106"):
            for tail_len in (6, 5):
                if len(digits) > tail_len + 3:
                    for e, h in self._by_service_tail.get(digits[-tail_len:], ()):
                        out.append(HotlineMatch(e, h, "port_suffix_match"))
        for e, port in self._by_port.get(digits, ()):
            out.append(HotlineMatch(e, None, "observed_port", port))
        return out

    def hotline_owner(self, digits: str) -> list[tuple[RegistryEntry, Hotline]]:
        """Entries whose hotline equals `digits` (separators ignored), then entries whose
        95xxx/96xxx hotline ends a ``106…`` SMS port (``port_suffix_match``; use
        `match_hotline` to tell the two apart)."""
        return [(m.entry, m.hotline) for m in self.match_hotline(digits) if m.hotline]

    def is_official_hotline(
        self, entry_id: str, digits: str, *, allow_port_suffix: bool = False
    ) -> Hotline | None:
        """The entry's hotline equal to `digits` (any confidence; check `.confidence`).

        With ``allow_port_suffix`` a ``106…`` port ending in the entry's 95xxx number counts.
        """
        self._require(entry_id)
        for m in self.match_hotline(digits):
            if m.entry.id == entry_id and m.hotline is not None:
                if m.kind == "exact" or allow_port_suffix:
                    return m.hotline
        return None

    def callable_hotlines(self, entry_id: str) -> list[Hotline]:
        """Numbers that may be offered as "call this": ``high`` confidence only."""
        return [h for h in self._require(entry_id).hotlines if h.confidence == "high"]

    def cautioned_hotlines(self, entry_id: str) -> list[Hotline]:
        """``medium`` numbers: show only with a caution to confirm in the official app."""
        return [h for h in self._require(entry_id).hotlines if h.confidence == "medium"]

    # ----------------------------------------------------------------- domains

    def domain_owner(self, registered_domain: str) -> list[tuple[RegistryEntry, OfficialDomain]]:
        """Entries with an official domain equal to the given domain or a parent of it.

        Accepts a registered domain, a host or a URL; most specific official domain first
        (``jr.jd.com`` before ``jd.com``).
        """
        host = clean_host(registered_domain)
        labels = host.split(".")
        out: list[tuple[RegistryEntry, OfficialDomain]] = []
        for i in range(len(labels) - 1):
            out.extend(self._by_domain.get(".".join(labels[i:]), ()))
        return out

    def is_official_domain(self, entry_id: str, host: str) -> OfficialDomain | None:
        """The entry's official domain covering `host` (any confidence; check
        `.confidence`), the most specific one first; None if none does."""
        self._require(entry_id)
        for entry, domain in self.domain_owner(host):
            if entry.id == entry_id:
                return domain
        return None


@functools.cache
def _default_registry() -> PlatformRegistry:
    data = files("collectguard.registry").joinpath("data")
    return PlatformRegistry.load([data.joinpath(name) for name in DEFAULT_FILES])
