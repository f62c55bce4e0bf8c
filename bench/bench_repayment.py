"""Benchmark of the repayment part: model quality, calibration, fairness and plan speed.

Prints one Markdown table (paste into docs/benchmarks.md):

* Taiwan credit default — the SHIPPED model on its stored held-out test IDs
  (stratified 60/20/20 split, seed 20240607): AUC, ECE before/after calibration, and
  per-group AUC / mean predicted / actual default rate by sex, age band and marriage.
* Give Me Some Credit — a benchmark-only LightGBM trained here on a stratified 80/20
  split (seed 20240607). Its licence is unclear, so this model is never saved or shipped.
* Plan computation time per borrower: ``plan()`` (model scoring + optimizer) on 2,000
  Taiwan test borrowers with synthetic incomes; median and p99.

Usage: .venv/bin/python bench/bench_repayment.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from collectguard.repayment import (
    CN_JUDICIAL_24,
    BorrowerProfile,
    CapacityModel,
    Debt,
    LenderPolicy,
    PaymentHistory,
    PlanRequest,
    plan,
)
from collectguard.repayment.capacity import shipped_model_dir
from collectguard.repayment.training import evaluate, load_taiwan

SEED = 20240607


def gmsc_auc(data_root: Path) -> tuple[float, int, int]:
    """Train and test the benchmark-only Give Me Some Credit model (never saved)."""
    import lightgbm as lgb
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(data_root / "give_me_some_credit" / "cs-training.csv.gz", index_col=0)
    y = df.pop("SeriousDlqin2yrs").to_numpy()
    x = df.astype(float)
    x.columns = [c.replace("-", "_") for c in x.columns]
    x["income_missing"] = x["MonthlyIncome"].isna().astype(float)
    x["debt_amount"] = x["DebtRatio"] * x["MonthlyIncome"]
    x["late_total"] = (
        x["NumberOfTime30_59DaysPastDueNotWorse"]
        + x["NumberOfTime60_89DaysPastDueNotWorse"]
        + x["NumberOfTimes90DaysLate"]
    )
    x["income_per_person"] = x["MonthlyIncome"] / (x["NumberOfDependents"].fillna(0) + 1)
    train, test = train_test_split(np.arange(len(x)), test_size=0.2, stratify=y, random_state=SEED)
    params = {
        "objective": "binary",
        "learning_rate": 0.02,
        "num_leaves": 15,
        "min_data_in_leaf": 400,
        "feature_fraction": 0.5,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "verbosity": -1,
        "seed": 7,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 2,
    }
    booster = lgb.train(params, lgb.Dataset(x.iloc[train], y[train]), num_boost_round=800)
    auc = float(roc_auc_score(y[test], booster.predict(x.iloc[test])))
    return auc, len(train), len(test)


def plan_times(model: CapacityModel, test: Any, n: int = 2000) -> list[float]:
    """Seconds per ``plan()`` call for ``n`` test borrowers with synthetic incomes."""
    rng = np.random.default_rng(SEED)
    policy = LenderPolicy(cost_cap=CN_JUDICIAL_24)
    rows = test.head(n)
    times = []
    for _, r in rows.iterrows():
        history = PaymentHistory(
            credit_limit=int(r["LIMIT_BAL"]),
            statuses=[int(r[c]) for c in ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")],
            bills=[int(r[f"BILL_AMT{i}"]) for i in range(1, 7)],
            payments=[int(r[f"PAY_AMT{i}"]) for i in range(1, 7)],
        )
        request = PlanRequest(
            as_of=dt.date(2026, 3, 1),
            debt=Debt(
                principal_cents=int(rng.integers(100_000, 5_000_000)),
                interest_cents=int(rng.integers(0, 500_000)),
                fees_cents=int(rng.integers(0, 200_000)),
                loan_start=dt.date(2025, 1, 10),
            ),
            borrower=BorrowerProfile(
                history=history,
                monthly_income_cents=int(rng.integers(300_000, 2_000_000)),
                monthly_expenses_cents=int(rng.integers(100_000, 300_000)),
            ),
            policy=policy,
        )
        start = time.perf_counter()
        plan(request, model=model)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("COLLECTGUARD_DATA", "../shared/data"))
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    root: Path = args.data

    model = CapacityModel.load()
    split = json.loads((shipped_model_dir() / "split.json").read_text(encoding="utf-8"))
    taiwan = load_taiwan(root / "taiwan_credit_default")
    test = taiwan.set_index("ID").loc[split["test"]]
    m = evaluate(model, test)
    g_auc, g_train, g_test = gmsc_auc(root)
    times = plan_times(model, test)
    ms = sorted(t * 1000 for t in times)
    median, p99 = statistics.median(ms), ms[int(0.99 * (len(ms) - 1))]

    print("| benchmark | figure | target |")
    print("|---|---|---|")
    print(
        f"| Taiwan credit default, shipped model, test AUC (n={m['n_test']}, stratified "
        f"60/20/20, seed {SEED}) | **{m['auc_test']:.4f}** | ≥ 0.78 |"
    )
    print(
        f"| Give Me Some Credit, bench-only LightGBM, test AUC (train {g_train:,} / test "
        f"{g_test:,}, stratified 80/20, seed {SEED}) | **{g_auc:.4f}** | ≥ 0.865 |"
    )
    print(f"| Taiwan ECE (10 bins) before calibration | {m['ece_before']:.4f} | — |")
    print(f"| Taiwan ECE after Platt calibration | **{m['ece_after']:.4f}** | lower |")
    print(
        f"| Plan computation per borrower, `plan()` incl. model ({len(ms)} borrowers), "
        f"median / p99 | {median:.2f} ms / {p99:.2f} ms | — |"
    )
    print()
    print("| attribute | group | n | AUC | mean predicted | actual default rate |")
    print("|---|---|---|---|---|---|")
    for attr, rows in m["fairness"].items():
        for r in rows:
            auc = "—" if r["auc"] is None else f"{r['auc']:.3f}"
            print(
                f"| {attr} | {r['group']} | {r['n']} | {auc} | "
                f"{r['mean_predicted']:.3f} | {r['actual_rate']:.3f} |"
            )
    if args.json:
        figures = {
            "taiwan": {k: v for k, v in m.items() if not k.startswith("reliability")},
            "gmsc_auc": g_auc,
            "plan_ms_median": median,
            "plan_ms_p99": p99,
        }
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
