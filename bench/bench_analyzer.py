"""Benchmarks of the analyzer: accuracy on real messages, public data sets, and speed.

Usage:
    .venv/bin/python bench/bench_analyzer.py [--shared ../shared] [--only accuracy,public,speed]

Prints Markdown tables (paste them into docs/benchmarks.md with the command). Data is read
from ../shared (override with --shared or COLLECTGUARD_SHARED); nothing is copied.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from collectguard import Analyzer, CheckInput
from collectguard.findings import VIOLATION_CODES

csv.field_size_limit(10_000_000)
CODES = [c for c in VIOLATION_CODES if c != "other"]


def _rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:  # type: ignore[operator]
        yield from csv.DictReader(f)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def accuracy(shared: Path) -> None:
    dev = shared / "eval" / "dev.jsonl"
    tool = shared / "tools" / "eval_check.py"
    exe = Path(sys.executable).parent / "collectguard"
    print("\n## Accuracy on real messages (`eval/dev.jsonl`, official metrics)\n")
    proc = subprocess.run(
        [sys.executable, str(tool), str(dev), "--cg", str(exe)],
        capture_output=True,
        text=True,
        check=False,
    )
    print("```\n" + proc.stdout.strip() + "\n```")
    rows = [json.loads(line) for line in dev.open(encoding="utf-8") if line.strip()]
    analyzer = Analyzer.default()
    counts = {c: [0, 0, 0] for c in CODES}
    for r in rows:
        out = analyzer.check(
            CheckInput(text=r["text"], sender=r.get("sender"), received_at=r.get("received_at"))
        )
        want = set(r["labels"].get("violations") or []) & set(CODES)
        got = {v.code for v in out.violations} & set(CODES)
        for c in CODES:
            counts[c][0] += c in want and c in got
            counts[c][1] += c in got and c not in want
            counts[c][2] += c in want and c not in got
    print("\n| violation code | support | precision | recall | F1 |\n|---|---|---|---|---|")
    for c in CODES:
        tp, fp, fn = counts[c]
        if tp + fp + fn == 0:
            continue
        p, rc, f = _prf(tp, fp, fn)
        print(f"| {c} | {tp + fn} | {p:.2f} | {rc:.2f} | {f:.2f} |")


def public(shared: Path) -> None:
    data = shared / "data"
    analyzer = Analyzer.default()
    print("\n## Public data sets\n")
    print("| set | class | n | flagged scam | flagged collection | any violation |")
    print("|---|---|---|---|---|---|")

    def line(name: str, cls: str, texts: list[str]) -> None:
        scam = coll = vio = 0
        for t in texts:
            r = analyzer.check(CheckInput(text=t, jurisdiction="cn"))
            scam += r.authenticity == "scam"
            coll += r.is_collection
            vio += bool([v for v in r.violations if v.code != "other"])
        n = len(texts)
        print(f"| {name} | {cls} | {n} | {scam / n:.3f} | {coll / n:.3f} | {vio / n:.3f} |")

    tf = data / "telecom_fraud_texts_5"
    if tf.exists():
        for fname, cls in [
            ("label00-last.csv", "normal (false-positive rate)"),
            ("label01-last.csv", "impersonating police/government"),
            ("label02-last.csv", "loan / credit-card fraud (recall)"),
            ("label03-last.csv", "fake customer service (recall)"),
            ("label04-last.csv", "fake boss / acquaintance"),
        ]:
            line("telecom_fraud_texts_5", cls, [r["content"] for r in _rows(tf / fname)])
    md = data / "mudou_spam_zh" / "mudou_spam_test.csv"
    if md.exists():
        rows = list(_rows(md))
        line(
            "mudou_spam_zh test",
            "ham (false-positive rate)",
            [r["text"] for r in rows if r["label"] == "0"],
        )
        line("mudou_spam_zh test", "spam", [r["text"] for r in rows if r["label"] == "1"])
    sp = data / "spam_sms_zh_800k_subsets" / "spam_6class_subset.csv"
    if sp.exists():
        by: dict[str, list[str]] = {}
        for r in _rows(sp):
            by.setdefault(r["category"], []).append(r["text"])
        for cat, texts in sorted(by.items()):
            line("spam_6class_subset", cat, texts)
    cold = data / "COLD" / "test.csv"
    if cold.exists():
        rows = list(_rows(cold))
        tp = fp = fn = tn = 0
        for r in rows:
            out = analyzer.check(CheckInput(text=r["TEXT"], jurisdiction="cn"))
            got = any(v.code == "insult" for v in out.violations)
            want = r["label"] == "1"
            tp += got and want
            fp += got and not want
            fn += want and not got
            tn += not got and not want
        p, rc, f = _prf(tp, fp, fn)
        acc = (tp + tn) / len(rows)
        print(
            f"\nCOLD test through the full analyzer (insult violation, collection context "
            f"required for the model rule): n={len(rows)}, accuracy {acc:.3f}, precision {p:.3f}, "
            f"recall {rc:.3f}, F1 {f:.3f}. The model alone: see bench/bench_insult.py."
        )


def _speed_corpus(shared: Path, n: int) -> list[str]:
    data = shared / "data"
    texts: list[str] = []
    sources = [
        (data / "mudou_spam_zh" / "mudou_spam_train.csv", "text"),
        (data / "telecom_fraud_texts_5" / "label00-last.csv", "content"),
        (data / "spam_sms_zh_800k_subsets" / "spam_10k_sample.csv", "text"),
        (data / "telecom_fraud_texts_5" / "label02-last.csv", "content"),
    ]
    for path, col in sources:
        if path.exists():
            texts.extend(r[col] for r in _rows(path) if r.get(col))
        if len(texts) >= n:
            break
    return texts[:n]


def speed(shared: Path, n: int) -> None:
    texts = _speed_corpus(shared, n)
    analyzer = Analyzer.default()
    inputs = [CheckInput(text=t) for t in texts]
    for m in inputs[:200]:  # warm caches
        analyzer.check(m)
    runs, cpu_runs = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        for m in inputs:
            analyzer.check(m)
        runs.append(len(inputs) / (time.perf_counter() - t0))
        cpu_runs.append(len(inputs) / (time.process_time() - c0))
    lat = []
    for m in inputs[:5000]:
        t0 = time.perf_counter_ns()
        analyzer.check(m)
        lat.append((time.perf_counter_ns() - t0) / 1e6)
    lat.sort()
    mean_len = statistics.mean(len(t) for t in texts)
    print("\n## Speed (one core, in-process `Analyzer.check`)\n")
    print(f"corpus: {len(texts)} real messages from ../shared/data, mean {mean_len:.0f} chars\n")
    load = os.getloadavg()[0]
    print(f"load average at the start: {load:.1f} on {os.cpu_count()} CPUs\n")
    print("| measure | value | target |\n|---|---|---|")
    print(
        f"| batch throughput, median of 3 runs (wall clock) | {statistics.median(runs):,.0f} "
        "msg/s | ≥ 5,000 msg/s |"
    )
    print(
        f"| batch throughput, median of 3 runs (this process's CPU time) "
        f"| {statistics.median(cpu_runs):,.0f} msg/s | ≥ 5,000 msg/s |"
    )
    print(f"| single check p50 | {lat[len(lat) // 2]:.3f} ms | |")
    print(f"| single check p99 | {lat[int(len(lat) * 0.99)]:.3f} ms | < 2 ms |")
    print(f"| single check max | {lat[-1]:.3f} ms | |")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", default=os.environ.get("COLLECTGUARD_SHARED", "../shared"))
    ap.add_argument("--only", default="accuracy,public,speed")
    ap.add_argument("--speed-n", type=int, default=20_000)
    a = ap.parse_args()
    shared = Path(a.shared)
    if not (shared / "eval").exists():
        print(
            f"no shared data at {shared}: pass --shared (see shared/data/README.md)",
            file=sys.stderr,
        )
        return 2
    parts = set(a.only.split(","))
    if "accuracy" in parts:
        accuracy(shared)
    if "public" in parts:
        public(shared)
    if "speed" in parts:
        speed(shared, a.speed_n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
