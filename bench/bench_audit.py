"""Benchmark of the batch audit: time and peak memory of the local engine (DuckDB) on
generated logs of 100k, 1M and 10M events, Spark local mode beside it on the same input, and
precision / recall against the injected ground truth. Prints a Markdown table.

    .venv/bin/python bench/bench_audit.py [--sizes 100000,1000000,10000000]
        [--spark-sizes 1000000] [--repeat 3] [--repeat-large 1] [--spark-repeat 1]
        [--large 5000000]
        [--workers 2] [--fmt csv] [--memory-limit 2GB] [--corpus ../shared/data]
        [--tmp DIR] [--us-share 0.2]

Every step runs as its own process, the way a user runs it: `collectguard audit generate`
(streaming) and `collectguard audit LOG --out DIR`. "CLI wall" is that process's whole
life, start-up (imports) included; "audit" is the time inside `audit()` (read + engine +
report, from summary.json). Peak memory is sampled every 0.1 s
over the whole process tree (the CLI, its content workers and, for Spark, the JVM and its
Python workers): the sum of their resident sets (`/proc/PID/status` VmRSS); "largest
process" is the kernel's peak of the largest single process (`wait4` ru_maxrss). Times are
medians over `--repeat` runs (`--repeat-large` for sizes ≥ `--large`, `--spark-repeat` for
Spark); per-stage times come
from the run's summary.json. Each log is deleted once measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("collectguard"))


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    """Resident set of `root` and all its descendants, summed."""
    kids = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo.extend(kids.get(pid, ()))
    return total


def measure(cmd: list[str], log: Path) -> dict[str, Any]:
    """Run `cmd`; wall time, peak tree RSS (sampled), largest single-process peak."""
    peak = 0
    t0 = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_kb(proc.pid))
                done.wait(0.1)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        th.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); see {log}")
    return {
        "wall_s": wall,
        "peak_tree_mb": peak / 1024,
        "largest_proc_mb": usage.ru_maxrss / 1024,
    }


def score_run(out: Path, truth: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from collectguard.audit.generate import read_truth, score

    v = pq.read_table(out / "violations.parquet", columns=["event_id", "rule_id"]).to_pandas()
    s = score(read_truth(truth), zip(v["event_id"], v["rule_id"], strict=True))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {
        "timings": summary["timings"],
        "rows": summary["log"]["input_rows"],
        "violations": summary["violations"],
        "precision": s["precision"],
        "recall": s["recall"],
        "per_kind": s["per_kind"],
        "false_positives": s["false_positives"],
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--spark-sizes", default="1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-large", type=int, default=1)
    ap.add_argument("--spark-repeat", type=int, default=1)
    ap.add_argument("--large", type=int, default=5_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fmt", default="csv", choices=["csv", "jsonl", "parquet"])
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    ap.add_argument("--tmp", default=None, help="folder for logs and outputs (default TMPDIR)")
    ap.add_argument("--us-share", type=float, default=0.0, help="share of US debtors (0-1)")
    args = ap.parse_args()
    corpus = args.corpus if Path(args.corpus).is_dir() else None
    sizes = [int(s) for s in args.sizes.split(",") if s]
    spark_sizes = {int(s) for s in args.spark_sizes.split(",") if s}
    rows: list[tuple[str, int, list[dict[str, Any]], dict[str, Any]]] = []
    gens: list[tuple[int, dict[str, Any], int]] = []
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-audit-", dir=args.tmp))
    try:
        for n in sorted(set(sizes) | spark_sizes):
            log, truth = tmp / f"log{n}.{args.fmt}", tmp / f"truth{n}.jsonl"
            gen_cmd = [CLI, "audit", "generate", str(log), "--events", str(n)]
            gen_cmd += ["--truth", str(truth)] + (["--corpus-dir", corpus] if corpus else [])
            gen_cmd += ["--us-share", str(args.us_share)] if args.us_share else []
            g = measure(gen_cmd, tmp / f"gen{n}.txt")
            gens.append((n, g, log.stat().st_size))
            print(f"generated {n:,}: {g['wall_s']:.1f} s, {g['peak_tree_mb']:.0f} MB", flush=True)
            engines = (["local"] if n in sizes else []) + (["spark"] if n in spark_sizes else [])
            for engine in engines:
                runs = []
                reps = args.repeat_large if n >= args.large else args.repeat
                if engine == "spark":
                    reps = min(reps, args.spark_repeat)
                for r in range(reps):
                    out = tmp / f"out-{engine}-{n}-{r}"
                    cmd = [CLI, "audit", str(log), "--out", str(out), "--engine", engine]
                    cmd += ["--workers", str(args.workers), "--work-dir", str(tmp)]
                    if args.memory_limit:
                        cmd += ["--memory-limit", args.memory_limit]
                    m = measure(cmd, tmp / f"run-{engine}-{n}-{r}.txt")
                    m.update(score_run(out, truth))
                    shutil.rmtree(out)
                    runs.append(m)
                    print(
                        f"  {engine} {n:,} run {r + 1}: {m['wall_s']:.1f} s, "
                        f"{m['peak_tree_mb']:.0f} MB tree, {m['largest_proc_mb']:.0f} MB largest",
                        flush=True,
                    )
                rows.append((engine, n, runs, {}))
            log.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"\nAudit benchmark — Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (1/5/15 min) at the end, "
        f"input {args.fmt}, content workers {args.workers}, DuckDB memory limit "
        f"{args.memory_limit or 'default'}, corpus {'yes' if corpus else 'no'}, "
        f"US debtors {args.us_share:.0%}\n"
    )
    print("| step | events | file MB | wall s | peak RSS MB (tree) |")
    print("|---|---:|---:|---:|---:|")
    for n, g, size in gens:
        print(
            f"| generate ({args.fmt}) | {n:,} | {size / 2**20:,.0f} | {g['wall_s']:.1f} "
            f"| {g['peak_tree_mb']:,.0f} |"
        )
    print(
        "\n| engine | events | runs | CLI wall s | audit s | read s | engine s | report s "
        "| events/s | peak RSS MB (tree) | largest process MB | violations | precision "
        "| recall |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for engine, n, runs, _ in rows:
        wall = _median(runs, "wall_s")
        t = {k: statistics.median(r["timings"][k] for r in runs) for k in runs[0]["timings"]}
        inside = statistics.median(sum(r["timings"].values()) for r in runs)
        name = "local (DuckDB)" if engine == "local" else "Spark local[2]"
        r0 = runs[0]
        print(
            f"| {name} | {n:,} | {len(runs)} | {wall:.1f} | {inside:.1f} | {t['read_s']:.1f} "
            f"| {t['engine_s']:.1f} | {t['report_s']:.1f} | {n / wall:,.0f} "
            f"| {_median(runs, 'peak_tree_mb'):,.0f} | {_median(runs, 'largest_proc_mb'):,.0f} "
            f"| {r0['violations']:,} | {r0['precision']:.3f} | {r0['recall']:.3f} |"
        )
    for engine, n, runs, _ in rows:
        kinds = runs[0]["per_kind"]
        print(
            f"\nRecall by injected kind ({engine}, {n:,}): "
            + ", ".join(f"{k} {v['found']}/{v['truth']}" for k, v in kinds.items())
        )
        if runs[0]["false_positives"]:
            print(f"False positives ({engine}, {n:,}): {runs[0]['false_positives']}")
        walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs)
        print(f"Runs ({engine}, {n:,}): wall s {walls}")


if __name__ == "__main__":
    main()
