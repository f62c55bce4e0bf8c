"""Reproducible training and evaluation of the capacity model on Taiwan credit default.

Owns: locating the data (``--data`` > ``$COLLECTGUARD_DATA`` > ``../shared/data``), the
stated split (stratified 60 % train / 20 % calibration / 20 % test, seed
:data:`SPLIT_SEED`, stored as row IDs in ``split.json``), LightGBM training with a fixed
seed, isotonic calibration on the calibration split, and the held-out evaluation:
AUC, expected calibration error (ECE), reliability bins and per-group fairness by sex,
age band and marriage. Writes the model files the package ships.

Only the CC BY 4.0 Taiwan data may train a shipped model; Give Me Some Credit (licence
unclear) is used by ``bench/bench_repayment.py`` alone. Needs pandas and scikit-learn
(the ``model`` extra); no web or CLI imports.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from collectguard.repayment.capacity import META_FILE, MODEL_FILE, CapacityModel, logit
from collectguard.repayment.features import FEATURE_NAMES, RAW_COLUMNS, build_features

__all__ = [
    "DEFAULT_PARAMS",
    "SPLIT_SEED",
    "TAIWAN_CSV",
    "TrainingResult",
    "age_band",
    "evaluate",
    "expected_calibration_error",
    "load_taiwan",
    "reliability_bins",
    "resolve_taiwan_csv",
    "split_ids",
    "train_capacity_model",
    "write_model",
]

TAIWAN_DIR = "taiwan_credit_default"
TAIWAN_CSV = "UCI_Credit_Card.csv"
TARGET = "default.payment.next.month"
SPLIT_SEED = 20240607
MODEL_SEED = 7
NUM_BOOST_ROUND = 450
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_data_in_leaf": 200,
    "feature_fraction": 0.6,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "verbosity": -1,
    "seed": MODEL_SEED,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 2,
}


def resolve_taiwan_csv(data: Path | str | None = None) -> Path:
    """Find ``UCI_Credit_Card.csv``: ``data`` > ``$COLLECTGUARD_DATA`` > ``../shared/data``.

    Each may name the CSV itself, the ``taiwan_credit_default`` folder, or the data root
    holding it. The default is tried relative to the working directory, then to the
    repository this file sits in.
    """
    repo = Path(__file__).resolve().parents[3]
    tries: list[Path] = []
    if data is not None:
        tries = [Path(data)]
    elif os.environ.get("COLLECTGUARD_DATA"):
        tries = [Path(os.environ["COLLECTGUARD_DATA"])]
    else:
        tries = [Path("../shared/data"), repo.parent / "shared" / "data"]
    for base in tries:
        for cand in (base, base / TAIWAN_CSV, base / TAIWAN_DIR / TAIWAN_CSV):
            if cand.is_file():
                return cand
    raise FileNotFoundError(
        f"Taiwan credit-default data not found in {', '.join(map(str, tries))}: expected "
        f"{TAIWAN_DIR}/{TAIWAN_CSV} (UCI dataset 350, CC BY 4.0; see its PROVENANCE.md). "
        "Pass --data or set COLLECTGUARD_DATA."
    )


def load_taiwan(data: Path | str | None = None) -> Any:
    """The Taiwan data as a pandas DataFrame (30,000 rows), checked for needed columns."""
    import pandas as pd

    path = resolve_taiwan_csv(data)
    df = pd.read_csv(path)
    missing = [c for c in ("ID", "SEX", "MARRIAGE", "AGE", TARGET, *RAW_COLUMNS) if c not in df]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    return df


def split_ids(df: Any, seed: int = SPLIT_SEED) -> dict[str, list[int]]:
    """Stratified 60/20/20 split of row IDs into train, calibration and test."""
    from sklearn.model_selection import train_test_split

    ids = df["ID"].to_numpy()
    y = df[TARGET].to_numpy()
    train, rest, _, y_rest = train_test_split(ids, y, test_size=0.4, stratify=y, random_state=seed)
    cal, test = train_test_split(rest, test_size=0.5, stratify=y_rest, random_state=seed)
    return {
        "train": sorted(int(i) for i in train),
        "calibration": sorted(int(i) for i in cal),
        "test": sorted(int(i) for i in test),
    }


def age_band(age: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Age bands for the fairness report: <30, 30-39, 40-49, 50+."""
    a = np.asarray(age)
    return np.select([a < 30, a < 40, a < 50], ["<30", "30-39", "40-49"], "50+")


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> float:
    """ECE with equal-width bins: Σ (n_b / n) · |mean(p_b) − mean(y_b)|."""
    yv, pv = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    idx = np.minimum((pv * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() / len(pv) * abs(pv[mask].mean() - yv[mask].mean())
    return float(total)


def reliability_bins(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> list[dict[str, float]]:
    """Data of the reliability plot: per bin, count, mean predicted, observed rate."""
    yv, pv = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    idx = np.minimum((pv * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            out.append(
                {
                    "bin_low": b / bins,
                    "bin_high": (b + 1) / bins,
                    "count": float(mask.sum()),
                    "mean_predicted": float(pv[mask].mean()),
                    "observed_rate": float(yv[mask].mean()),
                }
            )
    return out


@dataclass(frozen=True)
class TrainingResult:
    model: CapacityModel
    split: dict[str, list[int]]
    metrics: dict[str, Any]


def _auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _fit_calibration(
    scores: npt.NDArray[np.float64], y: npt.NDArray[Any], method: str
) -> dict[str, Any]:
    """Fit the calibration map on the calibration split's raw scores."""
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6).fit(logit(scores)[:, None], y)
        return {
            "method": "platt",
            "fit_on": "calibration split",
            "a": float(lr.coef_[0, 0]),
            "b": float(lr.intercept_[0]),
        }
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        return {
            "method": "isotonic",
            "fit_on": "calibration split",
            "x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_],
        }
    raise ValueError(f"calibration must be 'platt' or 'isotonic', got {method!r}")


def train_capacity_model(
    df: Any,
    *,
    seed: int = SPLIT_SEED,
    num_boost_round: int = NUM_BOOST_ROUND,
    params: dict[str, Any] | None = None,
    calibration: str = "platt",
) -> TrainingResult:
    """Train on the train split, calibrate on the calibration split, evaluate on test.

    ``df`` may be a subsample (tests do that); the split is recomputed from it with ``seed``.
    ``calibration`` is ``"platt"`` (default: keeps the ranking, so AUC is unchanged) or
    ``"isotonic"``.
    """
    import lightgbm as lgb

    split = split_ids(df, seed)
    by_id = df.set_index("ID")
    parts = {k: by_id.loc[v] for k, v in split.items()}
    x = {k: build_features(part[list(RAW_COLUMNS)].to_numpy()) for k, part in parts.items()}
    y = {k: part[TARGET].to_numpy() for k, part in parts.items()}
    full = {**DEFAULT_PARAMS, **(params or {})}
    dataset = lgb.Dataset(x["train"], y["train"], feature_name=list(FEATURE_NAMES))
    booster = lgb.train(full, dataset, num_boost_round=num_boost_round)
    cal_map = _fit_calibration(
        np.asarray(booster.predict(x["calibration"])), y["calibration"], calibration
    )
    base_rate = float(np.mean(y["train"]))
    meta: dict[str, Any] = {
        "name": "collectguard repayment-capacity model",
        "target": "probability of default next month (Taiwan credit default, 2005)",
        "features": list(FEATURE_NAMES),
        "excluded_sensitive_attributes": ["SEX", "AGE", "MARRIAGE", "EDUCATION"],
        "calibration": cal_map,
        "base_rate": base_rate,
        "params": full,
        "num_boost_round": num_boost_round,
        "split": {
            "method": "stratified train_test_split 60/20/20 (train/calibration/test) on ID",
            "seed": seed,
            "n_rows": len(df),
            "ids_file": "split.json",
        },
        "data": {
            "name": "Default of Credit Card Clients (UCI 350), CC BY 4.0",
            "citation": "Yeh & Lien (2009), doi:10.24432/C55S3H",
        },
    }
    model = CapacityModel(
        booster=booster,
        calibration=cal_map,
        base_rate=base_rate,
        metadata=meta,
    )
    test = parts["test"]
    metrics = evaluate(model, test)
    metrics["n_train"], metrics["n_calibration"] = len(split["train"]), len(split["calibration"])
    keys = ("auc_test", "auc_test_calibrated", "ece_before", "ece_after", "n_test")
    meta["metrics"] = {k: metrics[k] for k in keys}
    return TrainingResult(model=model, split=split, metrics=metrics)


def evaluate(model: CapacityModel, test: Any) -> dict[str, Any]:
    """Held-out metrics: AUC (raw and calibrated), ECE before/after, reliability, fairness."""
    y = test[TARGET].to_numpy()
    raw_rows = test[list(RAW_COLUMNS)].to_numpy()
    raw = model.predict_uncalibrated(raw_rows)
    cal = model.calibrate(raw)
    groups = {
        "sex": np.where(test["SEX"].to_numpy() == 1, "male", "female"),
        "age_band": age_band(test["AGE"].to_numpy()),
        "marriage": np.select(
            [test["MARRIAGE"].to_numpy() == 1, test["MARRIAGE"].to_numpy() == 2],
            ["married", "single"],
            "other",
        ),
    }
    fairness: dict[str, list[dict[str, Any]]] = {}
    for attr, labels in groups.items():
        rows = []
        for g in sorted(set(labels.tolist())):
            mask = labels == g
            both = len(set(y[mask].tolist())) == 2
            rows.append(
                {
                    "group": g,
                    "n": int(mask.sum()),
                    "auc": _auc(y[mask], cal[mask]) if both else None,
                    "mean_predicted": float(cal[mask].mean()),
                    "actual_rate": float(y[mask].mean()),
                }
            )
        fairness[attr] = rows
    return {
        "n_test": len(y),
        "test_default_rate": float(y.mean()),
        "auc_test": _auc(y, raw),
        "auc_test_calibrated": _auc(y, cal),
        "ece_before": expected_calibration_error(y, raw),
        "ece_after": expected_calibration_error(y, cal),
        "reliability_before": reliability_bins(y, raw),
        "reliability_after": reliability_bins(y, cal),
        "fairness": fairness,
    }


def _reliability_svg(
    bins_before: list[dict[str, float]], bins_after: list[dict[str, float]]
) -> str:
    size, pad = 320, 40
    span = size - 2 * pad

    def pt(px: float, py: float) -> str:
        return f"{pad + px * span:.1f},{size - pad - py * span:.1f}"

    def line(bins: list[dict[str, float]], colour: str) -> str:
        pts = " ".join(pt(b["mean_predicted"], b["observed_rate"]) for b in bins)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>'

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        'font-family="sans-serif" font-size="11">'
        f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="#999"/>'
        f'<polyline fill="none" stroke="#bbb" stroke-dasharray="4" points="{pt(0, 0)} {pt(1, 1)}"/>'
        f"{line(bins_before, '#d62728')}{line(bins_after, '#1f77b4')}"
        f'<text x="{pad}" y="{pad - 8}">Reliability (test split): red raw, blue calibrated</text>'
        f'<text x="{size / 2 - 40}" y="{size - 8}">mean predicted</text>'
        f'<text x="10" y="{size / 2}" transform="rotate(-90 10,{size / 2})">observed rate</text>'
        "</svg>\n"
    )


def write_model(result: TrainingResult, folder: Path) -> list[Path]:
    """Write model, metadata, split IDs, metrics and reliability plot (+ data) to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        MODEL_FILE: result.model.booster.model_to_string(),
        META_FILE: json.dumps(result.model.metadata, indent=1, ensure_ascii=False) + "\n",
        "split.json": json.dumps(result.split) + "\n",
        "metrics.json": json.dumps(
            {k: v for k, v in result.metrics.items() if not k.startswith("reliability")},
            indent=1,
        )
        + "\n",
        "reliability.json": json.dumps(
            {
                "before": result.metrics["reliability_before"],
                "after": result.metrics["reliability_after"],
            },
            indent=1,
        )
        + "\n",
        "reliability.svg": _reliability_svg(
            result.metrics["reliability_before"], result.metrics["reliability_after"]
        ),
    }
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
