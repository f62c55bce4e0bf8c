"""Hyperscan prefilter: which of a pack's regular expressions can match a text at all.

A pack has a few hundred patterns and a typical message matches a handful. Hyperscan scans
the text once for all of them (in PREFILTER mode, which may report a pattern that does not
really match but never misses one that does); only the reported patterns then run through
Python's `re`, so the matches and spans are exactly what `re` gives. Where hyperscan is not
installed (it ships wheels for x86-64 Linux and macOS) or cannot compile a pattern, that
pattern simply always runs.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_hs: Any
try:  # optional accelerator
    _hs = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    _hs = None

_FLAGS = 0
if _hs is not None:
    _FLAGS = _hs.HS_FLAG_UTF8 | _hs.HS_FLAG_UCP | _hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_SINGLEMATCH


_GAP = re.compile(r"\.\{\d*,\d+\}")


def _compile(exprs: dict[int, bytes]) -> Any:
    assert _hs is not None
    db = _hs.Database()
    db.compile(
        expressions=list(exprs.values()),
        ids=list(exprs),
        elements=len(exprs),
        flags=[_FLAGS] * len(exprs),
    )
    return db


def _cache_path(exprs: dict[int, bytes]) -> Path:
    digest = hashlib.sha256()
    digest.update(f"{getattr(_hs, '__version__', '?')}|{platform.machine()}|{_FLAGS}".encode())
    for key, expr in sorted(exprs.items()):
        digest.update(b"%d\0%s\0" % (key, expr))
    root = os.environ.get("COLLECTGUARD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "collectguard"
    )
    return Path(root) / f"prefilter-{digest.hexdigest()[:32]}.hsdb"


def _load_cached(exprs: dict[int, bytes]) -> Any:
    """A database compiled earlier on this machine (compiling takes ~0.5 s a pack)."""
    assert _hs is not None
    try:
        raw = _cache_path(exprs).read_bytes()
        digest, blob = raw[:32], raw[32:]
        if hashlib.sha256(blob).digest() != digest:  # torn or corrupted: compile again
            return None
        return _hs.loadb(blob, _hs.HS_MODE_BLOCK)
    except (OSError, _hs.error, TypeError, ValueError):
        return None


def _store_cached(exprs: dict[int, bytes], db: Any) -> None:
    assert _hs is not None
    path = _cache_path(exprs)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        blob = _hs.dumpb(db)
        tmp.write_bytes(hashlib.sha256(blob).digest() + blob)
        tmp.replace(path)  # atomic: a concurrent reader sees the old or the new file
    except OSError:
        pass  # a read-only home only costs the compile time on the next start


class Prefilter:
    """Built from (key, regex source) pairs; `candidates(text)` → keys that may match."""

    def __init__(self, patterns: Sequence[tuple[int, str]]) -> None:
        self.always: frozenset[int]
        self.keys = frozenset(k for k, _ in patterns)
        self._db: Any = None
        self._local = threading.local()
        if _hs is None or not patterns:
            self.always = frozenset(k for k, _ in patterns)
            return
        # Bounded gaps (`.{0,30}`) cost hyperscan much compile time in UTF-8 mode; an
        # unbounded gap only widens the prefilter, which stays a superset of the matches.
        exprs = {k: _GAP.sub(".*", src).encode("utf-8") for k, src in patterns}
        self.always = frozenset()
        self._db = _load_cached(exprs)
        if self._db is not None:
            return
        try:
            self._db = _compile(exprs)
        except _hs.error:  # find the patterns hyperscan refuses; they always run
            refused = set()
            for key, expr in exprs.items():
                try:
                    _compile({key: expr})
                except _hs.error:
                    refused.add(key)
            self.always = frozenset(refused)
            rest = {k: e for k, e in exprs.items() if k not in refused}
            self._db = _compile(rest) if rest else None
            return
        _store_cached(exprs, self._db)

    @property
    def accelerated(self) -> bool:
        return self._db is not None

    def candidates(self, text: str) -> set[int]:
        found = set(self.always)
        if self._db is None or not text:
            return found

        def on_match(key: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
            found.add(key)

        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: not valid UTF-8, run every pattern
            return set(self.keys)
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:  # hyperscan scratch space is per thread
            scratch = self._local.scratch = _hs.Scratch(self._db)
        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return found
