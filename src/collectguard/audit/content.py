"""Content rules over the distinct texts of a log, by the analyzer, in batches and processes.

Collection texts are templated, so a log of millions of events has far fewer distinct
(text, jurisdiction) pairs; each is analysed once. Output rows (`CONTENT_FIELDS`): one
`violation` row per analyzer violation (night time excluded: time is judged in the
recipient's zone by the engines) and one `mentions_debt` row per text that speaks of a debt
(the gateway's reading: a collection message, or one that discloses the debt) — the third-party
disclosure rule joins on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from collectguard.analyze.analyzer import Analyzer

BATCH = 512
DISCLOSURE_CODES = ("third_party_disclosure", "contacts_relatives_or_employer")

CONTENT_SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("jurisdiction", pa.string()),
        ("hit", pa.string()),
        ("rule_id", pa.string()),
        ("code", pa.string()),
        ("severity", pa.string()),
        ("binding", pa.string()),
        ("citation", pa.string()),
        ("span_start", pa.int32()),
        ("span_end", pa.int32()),
        ("evidence", pa.string()),
    ]
)
CONTENT_FIELDS = tuple(CONTENT_SCHEMA.names)

_analyzer: Analyzer | None = None
_packs: tuple[str, ...] = ()


def _init(packs: tuple[str, ...]) -> None:
    global _analyzer, _packs
    _analyzer = Analyzer.from_options(packs) if packs else Analyzer.default()
    _packs = packs


def analyze_batch(
    pairs: Sequence[tuple[str, str]], packs: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """Content rows for (text, jurisdiction) pairs (see `CONTENT_FIELDS`)."""
    if _analyzer is None or _packs != packs:
        _init(packs)
    assert _analyzer is not None
    rows: list[tuple[Any, ...]] = []
    for text, jurisdiction in pairs:
        res = _analyzer.check(text, jurisdiction=jurisdiction)
        mentions = res.is_collection
        for v in res.violations:
            if v.code in DISCLOSURE_CODES:
                mentions = True
            if v.code == "night_time":
                continue
            start, end = (v.span[0], v.span[1]) if v.span else (None, None)
            rows.append(
                (
                    text,
                    jurisdiction,
                    "violation",
                    v.rule_id,
                    v.code,
                    str(v.severity),
                    str(v.binding),
                    v.citation,
                    start,
                    end,
                    v.evidence,
                )
            )
        if mentions:
            rows.append((text, jurisdiction, "mentions_debt", "", "", "", "", "", None, None, None))
    return rows


def _run(args: tuple[list[tuple[str, str]], tuple[str, ...]]) -> list[tuple[Any, ...]]:
    return analyze_batch(args[0], args[1])


def analyze_texts(
    pairs: Iterable[tuple[str, str]], *, workers: int = 1, packs: tuple[str, ...] = ()
) -> pa.Table:
    """Analyse distinct (text, jurisdiction) pairs; `workers` > 1 uses a process pool."""
    items = sorted(set(pairs))
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    rows: list[tuple[Any, ...]] = []
    if workers <= 1 or len(batches) <= 1:
        for b in batches:
            rows.extend(analyze_batch(b, packs))
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(packs,)) as ex:
            for part in ex.map(_run, [(b, packs) for b in batches]):
                rows.extend(part)
    return rows_to_table(rows)


def rows_to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in CONTENT_FIELDS]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, CONTENT_SCHEMA, strict=True)],
        schema=CONTENT_SCHEMA,
    )
