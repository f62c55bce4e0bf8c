"""The local engine: DuckDB window functions over the validated events (Arrow, zero copy),
content rules by the analyzer over the distinct texts (process pool with `workers`)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from collectguard.audit.content import analyze_texts
from collectguard.audit.rules import AuditParams, catalogue, violations_sql
from collectguard.audit.violations import finalize
from collectguard.gateway.policy import Policy


def run_local(
    events: pa.Table,
    policy: Policy,
    params: AuditParams,
    *,
    workers: int = 1,
    packs: tuple[str, ...] = (),
    threads: int | None = None,
) -> pd.DataFrame:
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    con.register("events", events)
    pairs = con.execute(
        "SELECT DISTINCT text, jurisdiction FROM events "
        "WHERE text IS NOT NULL AND direction = 'outbound'"
    ).fetchall()
    content = analyze_texts(pairs, workers=workers, packs=packs)
    con.register("content", content)
    df = con.execute(violations_sql(policy, params)).df()
    con.close()
    return finalize(df, catalogue(policy, params))
