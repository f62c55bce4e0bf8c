"""Run every benchmark in turn and print their Markdown tables (`make bench`).

Usage:
    .venv/bin/python bench/run_all.py [--shared ../shared] [--only analyzer,insult,repayment]

Each part is its own script (run one alone while you work on it):

    bench/bench_analyzer.py   accuracy on eval/dev.jsonl and public sets, speed of a check
    bench/bench_insult.py     the offensive-language model on COLD / ToxiCN, its speed
    bench/bench_repayment.py  capacity-model AUC and calibration, plan computation time

The output is what docs/benchmarks.md quotes; paste a fresh run there with the date.
A part that fails is reported and the others still run; the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {
    "analyzer": lambda shared: ["bench_analyzer.py", "--shared", str(shared)],
    "insult": lambda shared: ["bench_insult.py", "--data", str(shared / "data")],
    "repayment": lambda shared: ["bench_repayment.py", "--data", str(shared / "data")],
}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", default=os.environ.get("COLLECTGUARD_SHARED", "../shared"))
    ap.add_argument("--only", default=",".join(PARTS), help="comma-separated parts to run")
    a = ap.parse_args()
    shared = Path(a.shared).resolve()
    if not (shared / "data").is_dir():
        print(
            f"no shared data at {shared} (it holds data/ and eval/): pass --shared",
            file=sys.stderr,
        )
        return 2
    wanted = [p.strip() for p in a.only.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        print(
            f"unknown part(s): {', '.join(unknown)}; choose from {', '.join(PARTS)}",
            file=sys.stderr,
        )
        return 2
    failed: list[str] = []
    for name in wanted:
        script, *args = PARTS[name](shared)
        print(f"\n# {name}  (`python bench/{script} {' '.join(args)}`)\n", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script), *args])
        print(f"\n_{name}: {time.perf_counter() - t0:.0f} s, exit {rc}_", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
