"""Benchmark of the evidence locker: importing a 100,000-message Android backup, verifying
its ledger, and rendering a PDF letter. Prints a Markdown table.

    .venv/bin/python bench/bench_evidence.py [--n 100000] [--workers 1,2] [--repeat 1]
        [--shared ../shared] [--tmp DIR] [--photos-gb 1] [--huge-body-mb 300] [--big-case 3000]

The backup is generated from real texts in ``../shared/data`` (mudou_spam_zh, the normal
class of telecom_fraud_texts_5, spam_sms_zh samples) with the collection messages of
``../shared/eval/dev.jsonl`` sprinkled in (5 %) from a few lenders' 106 ports, over 90
days, at any hour (night-time included). It is written to a temporary folder and deleted.

Each import runs as its own process, the way a user runs it (`collectguard evidence import
FILE --db sqlite:///… --workers N`, through the entry point's own `main`, which also notes
that process's CPU); its wall time includes start-up, and its peak memory is the kernel's
figure (`wait4` ru_maxrss) of the largest process. "CPU (all processes)" adds the analysis
workers; "of it the importer" is the importing process alone — reading, keys, rows, hashes
and SQLite, the serial part that more cores do not spread. Verify (`collectguard evidence
verify`), the PDF letter, the export of the largest case's bundle and `verify-bundle` run in
processes of their own too (wall, CPU, peak memory). Nothing from the data is kept.

`--photos-gb 1` also imports a photo backup of that size (MMS with a 250 KiB photo each,
random bytes) and reports its wall time and peak memory: attachments bound each batch's
bytes, so the peak should not grow with the file. `--huge-body-mb 300` imports 1,000 real
messages with one SMS body of that size among them (a corrupt or hostile file): the long
record is rejected without being parsed. `--big-case 3000` exports the bundle of one
lender's case of that many messages (time and peak memory of the export: report.pdf lists
at most 1,000 timeline rows). `--n 0` skips the 100,000-message steps.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import quoteattr

csv.field_size_limit(10_000_000)
EXE = Path(sys.executable).parent / "collectguard"
LENDER_PORTS = ["1069012345", "10690000888", "1065502010", "95188", "106980095533"]


def _rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:  # type: ignore[operator]
        yield from csv.DictReader(f)


def corpus(shared: Path) -> tuple[list[str], list[str]]:
    """(ordinary texts, collection texts) from the shared data and the dev set."""
    data = shared / "data"
    ordinary: list[str] = []
    for path, col in [
        (data / "mudou_spam_zh" / "mudou_spam_train.csv", "text"),
        (data / "telecom_fraud_texts_5" / "label00-last.csv", "content"),
        (data / "spam_sms_zh_800k_subsets" / "spam_10k_sample.csv", "text"),
    ]:
        if path.exists():
            ordinary.extend(r[col] for r in _rows(path) if r.get(col))
    dev = shared / "eval" / "dev.jsonl"
    collection = []
    if dev.exists():
        for line in dev.open(encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                if row.get("labels", {}).get("is_collection"):
                    collection.append(row["text"])
    if not ordinary:
        raise SystemExit(f"no corpus under {data}: see its PROVENANCE.md files")
    return ordinary, collection or ordinary[:10]


def write_backup(path: Path, n: int, shared: Path, seed: int = 20261129) -> None:
    """An SMS Backup & Restore XML of `n` messages from real texts."""
    rng = random.Random(seed)
    ordinary, collection = corpus(shared)
    start_ms = 1_767_196_800_000  # 2026-01-01T00:00:00+08:00
    span_ms = 90 * 86_400_000
    with path.open("w", encoding="utf-8") as f:
        f.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
        f.write(f'<smses count="{n}">\n')
        for i in range(n):
            if rng.random() < 0.05:
                text = rng.choice(collection)
                sender = rng.choice(LENDER_PORTS)
            else:
                text = rng.choice(ordinary)
                sender = f"1{rng.randint(30, 99)}{rng.randint(0, 99_999_999):08d}"
            when = start_ms + rng.randrange(span_ms)
            f.write(
                f'  <sms protocol="0" address={quoteattr(sender)} date="{when}" type="1" '
                f'body={quoteattr(text)} read="1" status="-1" '
                f'readable_date="" contact_name="(Unknown)" />\n'
            )
            if i % 1000 == 0 and i:
                f.flush()
        f.write("</smses>\n")


def write_photo_backup(path: Path, size_bytes: int, shared: Path, seed: int = 20261129) -> int:
    """An SMS Backup & Restore XML of about `size_bytes`: MMS with one 250 KiB photo each
    (random bytes, as incompressible as a JPEG) and a real collection or ordinary text, and
    an SMS after every tenth. Returns the number of records."""
    import base64

    rng = random.Random(seed)
    ordinary, collection = corpus(shared)
    ms = 1_767_196_800_000
    n = written = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses>\n")
        while written < size_bytes:
            ms += rng.randrange(60_000, 3_600_000)
            port = rng.choice(LENDER_PORTS)
            text = rng.choice(collection if rng.random() < 0.3 else ordinary)
            photo = base64.b64encode(rng.randbytes(250 * 1024)).decode()
            row = (
                f'  <mms date="{ms}" msg_box="1" address="{port}" m_type="132">\n'
                f'    <parts><part seq="0" ct="text/plain" text={quoteattr(text)} />\n'
                f'      <part seq="1" ct="image/jpeg" cl="IMG_{n}.jpg" data="{photo}" /></parts>\n'
                f'    <addrs><addr address="{port}" type="137" /></addrs>\n  </mms>\n'
            )
            n += 1
            if n % 10 == 0:
                row += (
                    f'  <sms protocol="0" address="{port}" date="{ms + 1000}" type="1" '
                    f"body={quoteattr(rng.choice(ordinary))} />\n"
                )
                n += 1
            f.write(row)
            written += len(row)
        f.write("</smses>\n")
    return n


def bench_photos(size_gb: float, workers: int, shared: Path, tmp: Path) -> None:
    """Import a photo backup of `size_gb` (the 'a 1 GB backup' of issue 3): wall, peak RSS."""
    env = dict(os.environ, COLUMNS="200")
    backup = tmp / "photos.xml"
    n = write_photo_backup(backup, int(size_gb * 1e9), shared)
    size = backup.stat().st_size
    db = tmp / "photos.db"
    res = _measure(
        [*_cli("import", str(backup), "--db", f"sqlite:///{db}", "--json"), "-w", str(workers)],
        env,
    )
    report = json.loads(res["stdout"].strip().splitlines()[-1])
    if report.get("new") != n:
        raise SystemExit(f"photo import stored {report.get('new')} of {n}: {report}")
    print(
        f"| import a {size / 1e9:.2f} GB photo backup ({n:,} records, "
        f"{report['new_by_kind']['attachment']:,} photos) | {workers} | {res['wall']:.1f} s "
        f"| {size / 1e6 / res['wall']:.0f} MB/s | {res['cpu']:.1f} s | "
        f"| {res['maxrss_kib'] / 1024:.0f} MiB (largest process) | 1 |"
    )
    backup.unlink()
    shutil.rmtree(tmp / "attachments", ignore_errors=True)
    db.unlink()


def bench_huge_body(size_mb: int, shared: Path, tmp: Path) -> None:
    """Import a backup of 1,000 real messages with one SMS body of `size_mb` MB among them (a
    corrupt or hostile file): the long record is rejected, the rest imported."""
    env = dict(os.environ, COLUMNS="200")
    ordinary, _ = corpus(shared)
    rng = random.Random(7)
    backup = tmp / "huge-body.xml"
    with backup.open("w", encoding="utf-8") as f:
        f.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses>\n")
        for i in range(1001):
            sender = f"1{rng.randint(30, 99)}{rng.randint(0, 99_999_999):08d}"
            head = (
                f'  <sms protocol="0" address="{sender}" date="{1_767_196_800_000 + i}" type="1" '
            )
            if i != 500:
                f.write(f"{head}body={quoteattr(rng.choice(ordinary))} />\n")
                continue
            f.write(f'{head}body="')
            piece = "逾期" * 50_000  # 300,000 bytes
            for _ in range(size_mb * 1_000_000 // len(piece.encode())):
                f.write(piece)
            f.write('" />\n')
        f.write("</smses>\n")
    db = tmp / "huge-body.db"
    res = _measure([*_cli("import", str(backup), "--db", f"sqlite:///{db}", "--json")], env)
    report = json.loads(res["stdout"].strip().splitlines()[-1])
    if (report.get("new"), report.get("rejected")) != (1000, 1):
        raise SystemExit(f"expected 1,000 new and 1 rejected: {report}")
    print(
        f"| import 1,000 messages and one {backup.stat().st_size / 1e6:,.0f} MB body (rejected) "
        f"| 1 | {res['wall']:.1f} s | | {res['cpu']:.1f} s | "
        f"| {res['maxrss_kib'] / 1024:.0f} MiB (largest process) | 1 |"
    )
    backup.unlink()
    db.unlink()


def bench_big_case(n: int, shared: Path, tmp: Path) -> None:
    """One lender's case of `n` collection messages (real texts of eval/dev.jsonl, their own
    【signature】 replaced by one lender's, from one port 40 minutes apart): import, then export
    its bundle — the report's timeline and the letter grow with the case, and WeasyPrint's
    memory with them."""
    env = dict(os.environ, COLUMNS="200")
    _, texts = corpus(shared)
    collection = ["【招联金融】" + re.sub(r"^\s*【[^】]*】", "", t) for t in texts]
    rng = random.Random(11)
    backup = tmp / "big-case.xml"
    with backup.open("w", encoding="utf-8") as f:
        f.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses>\n")
        for i in range(n):
            when = 1_767_196_800_000 + i * 2_400_000
            f.write(
                f'  <sms protocol="0" address="1069012345" date="{when}" type="1" '
                f"body={quoteattr(rng.choice(collection) + f' #{i}')} />\n"
            )
        f.write("</smses>\n")
    url = f"sqlite:///{tmp / 'big-case.db'}"
    _measure([*_cli("import", str(backup), "--db", url, "--workers", "2", "--json")], env)
    res = _measure([*_cli("cases", "--db", url, "--json")], env)
    case = max(json.loads(res["stdout"]), key=lambda c: c.get("messages", 0))
    bundle = tmp / "big-case.zip"
    res = _measure([*_cli("export", case["key"], "--db", url), "-o", str(bundle)], env)
    print(
        f"| export a case of {case['messages']:,} messages ({n:,} imported) | 1 "
        f"| {res['wall']:.1f} s | | {res['cpu']:.1f} s | "
        f"| {res['maxrss_kib'] / 1024:.0f} MiB | 1 |"
    )
    for f in (backup, bundle, tmp / "big-case.db"):
        f.unlink(missing_ok=True)


def _cli(command: str, *args: str) -> list[str]:
    return [str(EXE), "evidence", command, *args]


# The `collectguard` entry point's own code, plus a note of the CPU of that one process (the
# importer: reading, keys, rows, hashes, SQLite — the serial part) beside its workers'.
_CLI_WITH_OWN_CPU = (
    "import atexit,os,resource,sys\n"
    "def _own():\n"
    "    u=resource.getrusage(resource.RUSAGE_SELF)\n"
    "    with open(os.environ['CG_BENCH_OWN_CPU'],'w') as f: f.write(str(u.ru_utime+u.ru_stime))\n"
    "atexit.register(_own)\n"
    "sys.argv=['collectguard',*sys.argv[1:]]\n"
    "from collectguard.cli import main\n"
    "main()\n"
)


def _measure(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run `cmd` from a fresh Python process so RUSAGE_CHILDREN is its own peak."""
    code = (
        "import json,resource,subprocess,sys,time\n"
        "t0=time.perf_counter()\n"
        "p=subprocess.run(sys.argv[1:],capture_output=True)\n"
        "w=time.perf_counter()-t0\n"
        "sys.stderr.write(p.stderr.decode()[-3000:])\n"
        "print(json.dumps({'rc':p.returncode,'wall':w,"
        "'maxrss_kib':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        "'cpu':resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime"
        "+resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,"
        "'stdout':p.stdout.decode()}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *cmd], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"measuring {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res['rc']}):\n{proc.stderr[-2000:]}")
    return res  # type: ignore[no-any-return]


def bench(n: int, workers: list[int], repeat: int, shared: Path, tmp: Path) -> None:
    env = dict(os.environ, COLUMNS="200")
    backup = tmp / "backup.xml"
    t0 = time.perf_counter()
    write_backup(backup, n, shared)
    gen = time.perf_counter() - t0
    size_mb = backup.stat().st_size / 1e6
    print(f"\nbackup: {n:,} messages, {size_mb:.1f} MB, generated in {gen:.1f} s\n")
    print(
        "| step | workers | median wall | rate | CPU (all processes) | of it the importer "
        "| peak RSS | runs |"
    )
    print("|---|---|---|---|---|---|---|---|")
    db_for_rest: Path | None = None
    own_cpu_file = tmp / "importer-cpu.txt"
    for w in workers:
        walls, peaks, cpus, owns = [], [], [], []
        for r in range(repeat):
            db = tmp / f"locker-w{w}-{r}.db"
            res = _measure(
                [
                    sys.executable,
                    "-c",
                    _CLI_WITH_OWN_CPU,
                    "evidence",
                    "import",
                    str(backup),
                    "--db",
                    f"sqlite:///{db}",
                    "--json",
                    "-w",
                    str(w),
                ],
                dict(env, CG_BENCH_OWN_CPU=str(own_cpu_file)),
            )
            owns.append(float(own_cpu_file.read_text()))
            report = json.loads(res["stdout"].strip().splitlines()[-1])
            if report.get("new") != n:
                raise SystemExit(f"import stored {report.get('new')} of {n}: {report}")
            walls.append(res["wall"])
            peaks.append(res["maxrss_kib"] / 1024)
            cpus.append(res["cpu"])
            if db_for_rest is None:
                db_for_rest = db
            else:
                db.unlink()
        med = statistics.median(walls)
        print(
            f"| import {n:,} messages | {w} | {med:.1f} s | {n / med:,.0f} msg/s "
            f"| {statistics.median(cpus):.1f} s | {statistics.median(owns):.1f} s "
            f"| {max(peaks):.0f} MiB (largest process) "
            f"| {len(walls)} |"
        )
    assert db_for_rest is not None
    url = f"sqlite:///{db_for_rest}"
    walls = []
    for _ in range(max(repeat, 3)):
        res = _measure([str(EXE), "evidence", "verify", "--db", url, "--json"], env)
        verdict = json.loads(res["stdout"].strip().splitlines()[-1])
        if not verdict.get("ok"):
            raise SystemExit(f"verify failed: {verdict}")
        walls.append(res["wall"])
    med = statistics.median(walls)
    print(f"| verify {n:,} items | 1 | {med:.1f} s | {n / med:,.0f} items/s | | | | {len(walls)} |")

    res = _measure([str(EXE), "evidence", "cases", "--db", url, "--json"], env)
    cases = json.loads(res["stdout"])
    key = max(cases, key=lambda c: c.get("messages", 0))["key"]
    walls = []
    for i in range(3):
        pdf = tmp / f"letter-{i}.pdf"
        res = _measure(
            [*_cli("letter", key, "--kind", "lender_complaint", "--db", url), "-o", str(pdf)],
            env,
        )
        walls.append(res["wall"])
        if not pdf.exists() or pdf.stat().st_size < 1000:
            raise SystemExit("the PDF letter was not written")
    med = statistics.median(walls)
    print(f"| PDF letter (largest case, CLI wall) | 1 | {med:.1f} s | | | | | {len(walls)} |")

    bundle = tmp / "case.zip"
    res = _measure([*_cli("export", key, "--db", url), "-o", str(bundle)], env)
    print(
        f"| export the largest case's bundle | 1 | {res['wall']:.1f} s | | {res['cpu']:.1f} s "
        f"| | {res['maxrss_kib'] / 1024:.0f} MiB | 1 |"
    )
    res = _measure([*_cli("verify-bundle", str(bundle))], env)
    print(
        f"| verify that bundle (no database) | 1 | {res['wall']:.1f} s | | {res['cpu']:.1f} s "
        f"| | {res['maxrss_kib'] / 1024:.0f} MiB | 1 |"
    )
    bundle.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument(
        "--shared", type=Path, default=Path(os.environ.get("COLLECTGUARD_SHARED", "../shared"))
    )
    ap.add_argument("--tmp", type=Path, default=None)
    ap.add_argument(
        "--photos-gb",
        type=float,
        default=0.0,
        help="also import a photo (MMS) backup of this size, e.g. 1 (needs ~2x that on disk)",
    )
    ap.add_argument(
        "--huge-body-mb",
        type=int,
        default=0,
        help="also import 1,000 messages with one SMS body of this many MB, e.g. 300",
    )
    ap.add_argument(
        "--big-case",
        type=int,
        default=0,
        help="also export the bundle of one lender's case of this many messages, e.g. 3000",
    )
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-evidence-", dir=a.tmp))
    try:
        print(f"# Evidence locker benchmark ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
        workers = [int(w) for w in a.workers.split(",")]
        if a.n > 0:
            bench(a.n, workers, a.repeat, a.shared, tmp)
        else:
            print("\n| step | workers | wall | rate | CPU | | peak RSS | runs |")
            print("|---|---|---|---|---|---|---|---|")
        if a.photos_gb > 0:
            bench_photos(a.photos_gb, max(workers), a.shared, tmp)
        if a.huge_body_mb > 0:
            bench_huge_body(a.huge_body_mb, a.shared, tmp)
        if a.big_case > 0:
            bench_big_case(a.big_case, a.shared, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
