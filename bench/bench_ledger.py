"""Benchmark of reading and verifying one ledger stream as it grows (SQLite).

Builds a ledger of N entries in a temporary SQLite file (appended 5,000 at a time, with a
second stream interleaved every 50,000 so pages have other rows to pass over), then times
`SqlLedger.entries()` (every entry, parsed) and `SqlLedger.verify()` (the whole chain).
Reading should grow linearly with N: each 1,000-entry page is a range of the primary key.

    .venv/bin/python bench/bench_ledger.py [--n 100000,400000] [--tmp DIR]

Prints a Markdown table (paste into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from collectguard.ledger import SqlLedger


def build(db: Path, n: int) -> None:
    engine = create_engine(f"sqlite:///{db}")
    main, other = SqlLedger(engine, "gateway"), SqlLedger(engine, "evidence")
    main.create_table()
    for start in range(0, n, 5000):
        main.append_many(
            [("decision", {"i": i, "decision": "allow"}) for i in range(start, start + 5000)]
        )
        if start % 50_000 == 0:
            other.append("message", {"i": start})
    engine.dispose()


def measure(db: Path, n: int) -> tuple[float, float, float]:
    engine = create_engine(f"sqlite:///{db}")
    led = SqlLedger(engine, "gateway")
    t0 = time.perf_counter()
    count = sum(1 for _ in led.entries())
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = led.verify()
    verify = time.perf_counter() - t0
    engine.dispose()
    if count != n or not report.ok or report.checked != n:
        raise SystemExit(f"expected {n} intact entries, read {count}: {report.describe()}")
    return read, verify, n / read


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="100000,400000", help="comma-separated ledger sizes")
    ap.add_argument("--tmp", type=Path, default=None)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-ledger-", dir=a.tmp))
    try:
        print("| entries | read every entry | verify the chain | entries/s read |")
        print("|---|---|---|---|")
        for n in (int(x) for x in a.n.split(",")):
            db = tmp / f"ledger-{n}.db"
            build(db, n)
            read, verify, rate = measure(db, n)
            print(f"| {n:,} | {read:.1f} s | {verify:.1f} s | {rate:,.0f} |")
            db.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
