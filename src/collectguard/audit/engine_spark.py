"""The Spark engine: the same SQL as the local engine, run by Spark SQL window functions;
content rules by the analyzer inside `mapInPandas` over the distinct texts. Local mode
(`local[2]`) in tests and on one machine; a cluster by `master`.

Needs pyspark and a Java runtime (17+); `SparkUnavailable` says which is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from collectguard.audit.content import CONTENT_FIELDS, analyze_batch
from collectguard.audit.readers import EventStore
from collectguard.audit.rules import AuditParams, catalogue, violations_sql
from collectguard.audit.violations import finalize
from collectguard.gateway.policy import Policy

CONTENT_DDL = (
    "text STRING, jurisdiction STRING, hit STRING, rule_id STRING, code STRING, "
    "severity STRING, binding STRING, citation STRING, span_start INT, span_end INT, "
    "evidence STRING"
)


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing."""


def check_spark() -> None:
    """Raise `SparkUnavailable` naming what to install when Spark cannot start here."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(
            "pyspark is not installed: pip install pyspark (in the project's .venv)"
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise SparkUnavailable(
            "no Java runtime found (JAVA_HOME or java on PATH); install OpenJDK 17, "
            "e.g. apt-get install openjdk-17-jre-headless"
        )


def spark_session(master: str = "local[2]") -> Any:
    check_spark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName("collectguard-audit")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.python.worker.reuse", "true")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )


def _content(packs: tuple[str, ...]) -> Any:
    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            rows = analyze_batch(list(zip(b["text"], b["jurisdiction"], strict=True)), packs)
            yield pd.DataFrame(rows, columns=list(CONTENT_FIELDS)).astype(
                {"span_start": "Int32", "span_end": "Int32"}
            )

    return fn


def run_spark(
    events: pa.Table | EventStore | str | Path,
    policy: Policy,
    params: AuditParams,
    *,
    packs: tuple[str, ...] = (),
    master: str = "local[2]",
    spark: Any = None,
) -> pd.DataFrame:
    """Audit validated events (an Arrow table, an `EventStore`, or a Parquet path of
    `EVENT_SCHEMA` rows); the first two are handed to Spark as a Parquet file."""
    own = spark is None
    spark = spark or spark_session(master)
    spark.sparkContext.setLogLevel("ERROR")
    tmp = None
    try:
        if isinstance(events, pa.Table):
            tmp = tempfile.mkdtemp(prefix="cg-audit-spark-")
            path = str(Path(tmp) / "events.parquet")
            pq.write_table(events, path)
        elif isinstance(events, EventStore):
            path = str(events.to_parquet())
        else:
            path = str(events)
        sdf = spark.read.parquet(path).cache()
        sdf.createOrReplaceTempView("events")
        texts = spark.sql(
            "SELECT DISTINCT text, jurisdiction FROM events "
            "WHERE text IS NOT NULL AND direction = 'outbound'"
        )
        # materialised once: both the content and the disclosure rules read it
        content = texts.mapInPandas(_content(packs), schema=CONTENT_DDL).cache()
        content.count()
        content.createOrReplaceTempView("content")
        # toArrow (Spark ≥ 4.0) rather than toPandas: our own, warning-free pandas conversion
        out = spark.sql(violations_sql(policy, params)).toArrow().to_pandas()
        content.unpersist()
        sdf.unpersist()
        return finalize(out, catalogue(policy, params, packs))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if own:
            spark.stop()
