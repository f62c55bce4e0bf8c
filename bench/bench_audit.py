"""Benchmark of the batch audit: time and peak memory of the local engine (DuckDB) on
generated logs of 100k and 1M events, Spark local mode beside it on the same input, and
precision / recall against the injected ground truth. Prints a Markdown table.

    .venv/bin/python bench/bench_audit.py [--sizes 100000,1000000] [--spark-size 100000]
                                          [--workers 2] [--fmt csv] [--corpus ../shared/data]

Every measurement runs in a fresh process (peak RSS = resource.getrusage of that process;
for Spark the JVM's memory is not included, only the Python driver's).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any


def _gen(n: int, path: str, truth: str, corpus: str | None) -> dict[str, Any]:
    from collectguard.audit.generate import generate, write_log, write_truth

    t = time.perf_counter()
    g = generate(n, seed=7, corpus_dir=corpus)
    write_log(g.events, path)
    write_truth(g.truth, truth)
    return {"gen_s": time.perf_counter() - t, "truth": len(g.truth)}


def _audit(path: str, truth: str, out: str, engine: str, workers: int) -> dict[str, Any]:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from collectguard.audit.generate import read_truth, score
    from collectguard.audit.run import audit

    t = time.perf_counter()
    summary = audit(path, out, engine=engine, workers=workers)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    v = pq.read_table(out + "/violations.parquet", columns=["event_id", "rule_id"]).to_pandas()
    s = score(read_truth(truth), zip(v["event_id"], v["rule_id"], strict=True))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall_s": wall,
        "timings": summary["timings"],
        "rows": summary["log"]["input_rows"],
        "violations": summary["violations"],
        "rss_mb": rss_mb,
        "precision": s["precision"],
        "recall": s["recall"],
        "per_kind": s["per_kind"],
    }


def _fresh(fn: Any, *args: Any) -> Any:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--spark-size", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fmt", default="csv", choices=["csv", "jsonl", "parquet"])
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    args = ap.parse_args()
    corpus = args.corpus if Path(args.corpus).is_dir() else None
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="cg-bench-audit-") as tmp:
        logs: dict[int, tuple[str, str]] = {}
        for n in sorted({*sizes, *([args.spark_size] if args.spark_size else [])}):
            path, truth = f"{tmp}/log{n}.{args.fmt}", f"{tmp}/truth{n}.jsonl"
            _fresh(_gen, n, path, truth, corpus)
            logs[n] = (path, truth)
        for n in sizes:
            path, truth = logs[n]
            rows.append(
                ("local", n, _fresh(_audit, path, truth, f"{tmp}/out{n}", "local", args.workers))
            )
        if args.spark_size:
            path, truth = logs[args.spark_size]
            rows.append(
                (
                    "spark local[2]",
                    args.spark_size,
                    _fresh(_audit, path, truth, f"{tmp}/sp{args.spark_size}", "spark", 1),
                )
            )
    print(
        f"Audit benchmark — {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"input {args.fmt}, content workers {args.workers}, corpus {'yes' if corpus else 'no'}\n"
    )
    print(
        "| engine | events | total s | read s | engine s | report s | events/s | peak RSS MB "
        "| violations | precision | recall |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for engine, n, r in rows:
        t = r["timings"]
        print(
            f"| {engine} | {n:,} | {r['wall_s']:.1f} | {t['read_s']:.1f} | {t['engine_s']:.1f} "
            f"| {t['report_s']:.1f} | {n / r['wall_s']:,.0f} | {r['rss_mb']:,.0f} "
            f"| {r['violations']:,} | {r['precision']:.3f} | {r['recall']:.3f} |"
        )
    last = rows[0][2]["per_kind"]
    print(
        "\nRecall by injected kind (first run): "
        + ", ".join(f"{k} {v['found']}/{v['truth']}" for k, v in last.items())
    )


if __name__ == "__main__":
    main()
