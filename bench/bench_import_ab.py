"""A/B benchmark of the evidence import: this checkout against another revision, runs
alternated so that both see the same machine. Prints a Markdown table.

    .venv/bin/python bench/bench_import_ab.py --base REV [--n 100000] [--rounds 3]
        [--workers 2] [--shared ../shared] [--tmp DIR]

The shared 2-vCPU machines swing by a fifth and more within minutes (the same build's import
took 39 s of CPU at one moment and 47 s an hour later), so a figure from one run says little
about a change of a few per cent. Here each round imports the same generated backup
(`bench_evidence.write_backup`: real texts from ``../shared/data``) once with `--base` and
once with this checkout, in alternating order, each into a new SQLite store, each through
the entry point as a user runs it (`collectguard evidence import FILE --db … -w N`, start-up
included); the table gives every run and the medians of wall time and CPU (all processes)
and their ratios. `--base` is checked out into a temporary git worktree (removed after);
both use this checkout's virtual environment, so only the package's own code differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evidence import write_backup

ROOT = Path(__file__).resolve().parent.parent

_IMPORT = (
    "import sys\n"
    "sys.argv = ['collectguard', *sys.argv[1:]]\n"
    "from collectguard.cli import main\n"
    "main()\n"
)

_MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "wall = time.perf_counter() - t0\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "sys.stderr.write(p.stderr.decode()[-2000:])\n"
    "print(json.dumps({'rc': p.returncode, 'wall': wall, 'cpu': u.ru_utime + u.ru_stime}))\n"
)


def run_import(src: Path, backup: Path, db: Path, workers: int) -> tuple[float, float]:
    """(wall, CPU of all processes) of one import with the package at `src`."""
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, "-c", _IMPORT, "evidence", "import", str(backup)]
    cmd += ["--db", f"sqlite:///{db}", "--json", "-w", str(workers)]
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd],
        capture_output=True,
        text=True,
        env=env,
        cwd=db.parent,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"measuring failed:\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise SystemExit(f"import with {src} failed ({res['rc']}):\n{proc.stderr[-2000:]}")
    return float(res["wall"]), float(res["cpu"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="git revision to compare against (e.g. HEAD~3)")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--shared", type=Path, default=Path(os.environ.get("COLLECTGUARD_SHARED", "../shared"))
    )
    ap.add_argument("--tmp", type=Path, default=None)
    a = ap.parse_args()
    if a.rounds < 1 or a.n < 1:
        ap.error("--rounds and --n must be positive")
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-ab-", dir=a.tmp))
    tree = tmp / "base"
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", a.base],
            capture_output=True,
            text=True,
            check=False,
        )
        if rev.returncode != 0:
            raise SystemExit(f"unknown revision {a.base!r}: {rev.stderr.strip()}")
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), a.base],
            check=True,
        )
        backup = tmp / "backup.xml"
        write_backup(backup, a.n, a.shared)
        sides = {f"base {rev.stdout.strip()}": tree / "src", "this checkout": ROOT / "src"}
        load = os.getloadavg()[0]
        print(f"# Import A/B ({os.cpu_count()} CPUs, load {load:.1f}, {a.n:,} messages)\n")
        print("| round | side | wall | CPU (all processes) |")
        print("|---|---|---|---|")
        got: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        names = list(sides)
        for r in range(a.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                wall, cpu = run_import(sides[name], backup, tmp / "ab.sqlite3", a.workers)
                got[name].append((wall, cpu))
                print(f"| {r + 1} | {name} | {wall:.1f} s | {cpu:.1f} s |", flush=True)
        print("\n| side | median wall | median CPU |")
        print("|---|---|---|")
        med = {
            n: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
            for n, v in got.items()
        }
        for n, (w, c) in med.items():
            print(f"| {n} | {w:.1f} s | {c:.1f} s |")
        (bw, bc), (tw, tc) = med[names[0]], med[names[1]]
        print(f"\nthis checkout / base: wall {tw / bw:.2f}×, CPU {tc / bc:.2f}×")
    finally:
        if tree.exists():
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
            )
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
