"""The local engine: DuckDB window functions over the validated events, content rules by
the analyzer over the distinct texts (process pool with `workers`).

Events come as an Arrow table (registered, zero copy) or as an `EventStore` (a DuckDB table,
on disk for large logs: DuckDB spills to its temp directory under the store's memory limit).
Distinct texts are streamed out of DuckDB in batches and their content rows written to a
Parquet file beside the store, so neither the events nor the texts are ever held in Python
all at once; only the violations table (one row per finding) is.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from collectguard.audit.content import BATCH, CONTENT_SCHEMA, _init, _run, rows_to_table
from collectguard.audit.readers import EventStore
from collectguard.audit.rules import AuditParams, catalogue, violations_sql
from collectguard.audit.violations import finalize
from collectguard.gateway.policy import Policy

TEXTS_SQL = (
    "SELECT DISTINCT text, jurisdiction FROM events "
    "WHERE text IS NOT NULL AND direction = 'outbound'"
)
STREAM_ROWS = 32_768
"""Distinct texts fetched from DuckDB at a time (then analysed in batches of `BATCH`)."""


def _batches(con: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[str, str]]]:
    reader = con.sql(TEXTS_SQL).to_arrow_reader(STREAM_ROWS)
    for rb in reader:
        pairs = list(zip(rb.column(0).to_pylist(), rb.column(1).to_pylist(), strict=True))
        for i in range(0, len(pairs), BATCH):
            yield pairs[i : i + BATCH]


def content_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    workers: int = 1,
    packs: tuple[str, ...] = (),
    spill: Path | None = None,
) -> pa.Table | Path:
    """Content rows of every distinct outbound (text, jurisdiction) in `events`.

    With `spill`, rows are written there as Parquet as they come (and the path returned);
    otherwise returned as one Arrow table."""
    writer: Any = pq.ParquetWriter(spill, CONTENT_SCHEMA) if spill is not None else None
    parts: list[pa.Table] = []

    def sink(rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        table = rows_to_table(rows)
        if writer is not None:
            writer.write_table(table)
        else:
            parts.append(table)

    try:
        if workers <= 1:
            for batch in _batches(con):
                sink(_run((batch, packs)))
        else:
            with ProcessPoolExecutor(
                max_workers=workers, initializer=_init, initargs=(packs,)
            ) as ex:
                window: list[Any] = []
                for batch in _batches(con):
                    window.append(ex.submit(_run, (batch, packs)))
                    if len(window) >= 4 * workers:  # bounded: a few batches in flight
                        sink(window.pop(0).result())
                for fut in window:
                    sink(fut.result())
    finally:
        if writer is not None:
            writer.close()
    if spill is not None:
        return spill
    return pa.concat_tables(parts) if parts else CONTENT_SCHEMA.empty_table()


def run_local(
    events: pa.Table | EventStore,
    policy: Policy,
    params: AuditParams,
    *,
    workers: int = 1,
    packs: tuple[str, ...] = (),
    threads: int | None = None,
) -> pd.DataFrame:
    """Audit validated events; return the finished violations table (`violations.COLUMNS`)."""
    if isinstance(events, EventStore):
        events.finish()
        con = events.con
        own = False
        spill = events.dir / "content.parquet" if events.dir is not None else None
    else:
        con = duckdb.connect()
        own = True
        spill = None
        con.register("events", events)
    try:
        if threads:
            con.execute(f"SET threads TO {int(threads)}")
        content = content_rows(con, workers=workers, packs=packs, spill=spill)
        con.execute("DROP TABLE IF EXISTS content")
        if isinstance(content, Path):
            target = content.as_posix().replace("'", "''")
            con.execute(f"CREATE TABLE content AS SELECT * FROM read_parquet('{target}')")
        else:
            con.register("_content", content)
            con.execute("CREATE TEMP TABLE content AS SELECT * FROM _content")
            con.unregister("_content")
        df = con.sql(violations_sql(policy, params)).df()
        con.execute("DROP TABLE IF EXISTS content")
    finally:
        if own:
            con.close()
    return finalize(df, catalogue(policy, params, packs))
