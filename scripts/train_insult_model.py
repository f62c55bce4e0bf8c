"""Train the shipped offensive-language scorer on COLD and export it as dependency-free JSON.

    .venv/bin/python scripts/train_insult_model.py [--data ../shared/data] [--out PATH] [--seed 0]

Data: COLD (Apache-2.0, https://github.com/thu-coai/COLDataset), read from
``<data>/COLD/{train,dev,test}.csv``; ``<data>`` is --data, else $COLLECTGUARD_DATA, else
``../shared/data`` beside the repository. Only COLD may train this model (ToxiCN is
CC BY-NC-ND: evaluation only, see bench/bench_insult.py).

Procedure: texts are normalized with ``collectguard.normalize.normalize(text).text``;
features are the distinct character 1–3-grams (``collectguard.detect.insult_model.char_ngrams``)
scaled by ``1/sqrt(#distinct n-grams)``; an L2 logistic regression (liblinear) is fitted on
COLD train. C, min_df, the number of kept features and the decision threshold are chosen on
COLD dev only; COLD test is scored once, with the exported model itself, and reported.

Output is deterministic for a given seed and data, except ``metadata.trained_on`` (today's
date, or the date of $SOURCE_DATE_EPOCH when set).

Needs the ``model`` extra (scikit-learn, numpy, scipy); the exported model does not.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from collectguard.detect.insult_model import MODEL_FORMAT, InsultModel, char_ngrams
from collectguard.normalize import normalize

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "collectguard" / "detect" / "models" / "insult_cold.json"

C_GRID = (1.0, 3.0, 10.0, 30.0)
MIN_DF_GRID = (2, 3, 5)
KEEP_GRID = (5_000, 10_000, 20_000, 40_000)  # kept features, smallest within tolerance wins
KEEP_TOLERANCE = 0.002  # dev accuracy a pruned model may lose against the unpruned one
THRESHOLD_GRID = [round(0.30 + 0.01 * i, 2) for i in range(41)]  # 0.30 .. 0.70
WEIGHT_DECIMALS = 4


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("COLLECTGUARD_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data"


def read_cold(path: Path) -> tuple[list[str], list[int]]:
    """(normalized texts, 0/1 labels) of one COLD csv file."""
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(normalize(row["TEXT"]).text)
            labels.append(int(row["label"]))
    return texts, labels


def metrics(y: Sequence[int], pred: Sequence[int]) -> dict[str, float]:
    """Accuracy, offensive-class P/R/F1 and macro F1."""
    tp = sum(1 for a, b in zip(y, pred, strict=True) if a == 1 and b == 1)
    tn = sum(1 for a, b in zip(y, pred, strict=True) if a == 0 and b == 0)
    fp = sum(1 for a, b in zip(y, pred, strict=True) if a == 0 and b == 1)
    fn = sum(1 for a, b in zip(y, pred, strict=True) if a == 1 and b == 0)

    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    p1 = tp / (tp + fp) if tp + fp else 0.0
    r1 = tp / (tp + fn) if tp + fn else 0.0
    p0 = tn / (tn + fn) if tn + fn else 0.0
    r0 = tn / (tn + fp) if tn + fp else 0.0
    out = {
        "accuracy": (tp + tn) / len(y),
        "precision_offensive": p1,
        "recall_offensive": r1,
        "f1_offensive": f1(p1, r1),
        "f1_macro": (f1(p1, r1) + f1(p0, r0)) / 2,
    }
    return {k: round(v, 4) for k, v in out.items()}


def scaled_matrix(vec: CountVectorizer, texts: list[str]) -> sp.csr_matrix:
    x = vec.transform(texts)
    inv = np.array([1.0 / math.sqrt(max(1, len(char_ngrams(t)))) for t in texts])
    return sp.csr_matrix(sp.diags(inv) @ x)


def accuracy(y: np.ndarray, z: np.ndarray) -> float:
    return float(np.mean((z > 0).astype(int) == y))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="shared data folder (contains COLD/)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    cold = data_dir(args.data) / "COLD"
    if not (cold / "train.csv").is_file():
        print(f"COLD not found at {cold} (see --data / COLLECTGUARD_DATA)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    x_train, y_train_l = read_cold(cold / "train.csv")
    x_dev, y_dev_l = read_cold(cold / "dev.csv")
    x_test, y_test_l = read_cold(cold / "test.csv")
    y_train, y_dev = np.array(y_train_l), np.array(y_dev_l)
    print(f"COLD train {len(x_train)} / dev {len(x_dev)} / test {len(x_test)}")

    # 1. C and min_df on dev.
    best: tuple[float, int, float] | None = None  # (dev acc, min_df, C)
    fitted: dict[int, tuple[CountVectorizer, sp.csr_matrix, sp.csr_matrix]] = {}
    for min_df in sorted(MIN_DF_GRID, reverse=True):
        vec = CountVectorizer(analyzer=char_ngrams, binary=True, min_df=min_df, dtype=np.float64)
        vec.fit(x_train)
        xa, xd = scaled_matrix(vec, x_train), scaled_matrix(vec, x_dev)
        fitted[min_df] = (vec, xa, xd)
        for c in sorted(C_GRID):
            lr = LogisticRegression(C=c, solver="liblinear", max_iter=5000, random_state=args.seed)
            lr.fit(xa, y_train)
            acc = accuracy(y_dev, xd @ lr.coef_[0] + lr.intercept_[0])
            print(f"  min_df={min_df} C={c:<4} vocab={xa.shape[1]:>6} dev acc={acc:.4f}")
            # Strictly better only: ties keep the larger min_df, then the smaller C.
            if best is None or acc > best[0] + 1e-12:
                best = (acc, min_df, c)
    assert best is not None
    dev_acc_full, min_df, c = best
    vec, xa, xd = fitted[min_df]
    lr = LogisticRegression(C=c, solver="liblinear", max_iter=5000, random_state=args.seed)
    lr.fit(xa, y_train)
    w = lr.coef_[0]
    b = float(lr.intercept_[0])
    print(f"chosen min_df={min_df} C={c}: dev acc {dev_acc_full:.4f}, {len(w)} features")

    # 2. Prune: the fewest largest-|w| features within KEEP_TOLERANCE of the full model on dev.
    order = np.argsort(-np.abs(w), kind="stable")
    keep_n = len(w)
    for k in KEEP_GRID:
        if k >= len(w):
            break
        idx = order[:k]
        acc = accuracy(y_dev, xd[:, idx] @ w[idx] + b)
        print(f"  keep {k:>6}: dev acc {acc:.4f}")
        if acc >= dev_acc_full - KEEP_TOLERANCE:
            keep_n = k
            break
    vocab = vec.get_feature_names_out()
    weights = {
        str(vocab[i]): round(float(w[i]), WEIGHT_DECIMALS)
        for i in sorted(order[:keep_n].tolist(), key=lambda i: str(vocab[i]))
    }
    weights = {g: v for g, v in weights.items() if v != 0.0}
    bias = round(b, 6)

    # 3. Threshold on dev, with the exported (pruned, rounded) model itself.
    model = InsultModel(weights, bias)
    dev_scores = [model.score(t) for t in x_dev]
    thr_best = max(
        THRESHOLD_GRID,
        key=lambda th: (
            sum((s >= th) == (y == 1) for s, y in zip(dev_scores, y_dev_l, strict=True)),
            -abs(th - 0.5),
        ),
    )
    dev_m = metrics(y_dev_l, [int(s >= thr_best) for s in dev_scores])
    test_m = metrics(y_test_l, [int(model.score(t) >= thr_best) for t in x_test])
    print(f"threshold {thr_best}; dev {dev_m}")
    print(f"test {test_m}")

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    day = (
        dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
        if epoch
        else dt.datetime.now(tz=dt.UTC).date()
    )
    out: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "metadata": {
            "task": "offensive language (辱骂 / insult) score, 0 safe .. 1 offensive",
            "training_data": (
                "COLD train split (25,726 texts), thu-coai/COLDataset commit "
                "a0c55a945497ab58e94aef491180e1cf88ffb864; dev split for model selection"
            ),
            "data_licence": "Apache-2.0",
            "citation": (
                "Deng et al. 2022. COLD: A Benchmark for Chinese Offensive Language "
                "Detection. EMNLP 2022."
            ),
            "domain_caution": (
                "COLD is social-media offence about race, region and gender; "
                "debtor-directed insults in collection SMS differ"
            ),
            "script": "scripts/train_insult_model.py",
            "seed": args.seed,
            "trained_on": day.isoformat(),
            "features": {
                "input": "collectguard.normalize.normalize(text).text",
                "ngrams": "distinct character n-grams, n = 1..3",
                "value": "1/sqrt(number of distinct n-grams in the text), binary",
                "min_df": min_df,
                "vocabulary_before_pruning": len(w),
                "kept_features": len(weights),
            },
            "classifier": {
                "kind": "logistic regression (scikit-learn liblinear, L2)",
                "C": c,
                "weight_decimals": WEIGHT_DECIMALS,
            },
            "threshold_chosen_on": "COLD dev, max accuracy",
            "metrics": {"dev": dev_m, "test": test_m},
        },
        "bias": bias,
        "threshold": thr_best,
        "weights": weights,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1024:.0f} KiB) in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
