"""Tests of the shipped capacity model and of reproducible training.

Accuracy is measured only on the held-out test IDs stored with the shipped model, never
on training rows. Tests that need the Taiwan data skip when ../shared/data is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from collectguard.repayment import CapacityModel, PaymentHistory
from collectguard.repayment.capacity import META_FILE, MODEL_FILE, shipped_model_dir
from collectguard.repayment.features import FEATURE_NAMES, RAW_COLUMNS, build_features
from collectguard.repayment.training import (
    age_band,
    evaluate,
    expected_calibration_error,
    load_taiwan,
    resolve_taiwan_csv,
    split_ids,
    train_capacity_model,
    write_model,
)

SKIP_MSG = "needs ../shared/data/taiwan_credit_default (see its PROVENANCE.md)"


@pytest.fixture(scope="module")
def taiwan() -> Any:
    try:
        return load_taiwan()
    except FileNotFoundError:
        pytest.skip(SKIP_MSG)


@pytest.fixture(scope="module")
def shipped() -> CapacityModel:
    return CapacityModel.load()


def test_shipped_model_is_small_and_documented() -> None:
    folder = shipped_model_dir()
    size = sum((folder / name).stat().st_size for name in (MODEL_FILE, META_FILE, "split.json"))
    assert size < 2_000_000
    assert (folder / "MODEL_CARD.md").is_file()
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    assert meta["features"] == list(FEATURE_NAMES)
    assert {"SEX", "AGE", "MARRIAGE"} <= set(meta["excluded_sensitive_attributes"])
    assert meta["split"]["seed"] == 20240607


def test_history_scoring_and_base_rate(shipped: CapacityModel) -> None:
    good = PaymentHistory(
        credit_limit=200_000,
        statuses=[-1] * 6,
        bills=[5_000] * 6,
        payments=[5_000] * 6,
    )
    bad = PaymentHistory(
        credit_limit=20_000,
        statuses=[3, 2, 2, 2, 2, 2],
        bills=[19_000] * 6,
        payments=[0] * 6,
    )
    p_good, src = shipped.default_probability(good)
    p_bad, _ = shipped.default_probability(bad)
    assert src == "model"
    assert 0 < p_good < 0.2 < 0.5 < p_bad < 1
    assert shipped.default_probability(None) == (shipped.base_rate, "base_rate")
    assert 0.2 < shipped.base_rate < 0.25


def test_build_features_rejects_wrong_width() -> None:
    with pytest.raises(ValueError, match="19 raw values"):
        build_features([[1.0, 2.0]])
    assert build_features([[1.0] * len(RAW_COLUMNS)]).shape == (1, len(FEATURE_NAMES))


def test_missing_model_folder_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="collectguard model train"):
        CapacityModel.load(tmp_path)


def test_missing_data_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"PROVENANCE\.md"):
        resolve_taiwan_csv(tmp_path / "nowhere")


def test_env_var_points_at_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "taiwan_credit_default"
    folder.mkdir()
    (folder / "UCI_Credit_Card.csv").write_text("ID\n", encoding="utf-8")
    monkeypatch.setenv("COLLECTGUARD_DATA", str(tmp_path))
    assert resolve_taiwan_csv() == folder / "UCI_Credit_Card.csv"


def test_ece_and_age_band() -> None:
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0
    assert expected_calibration_error([0, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert age_band([22, 30, 45, 70]).tolist() == ["<30", "30-39", "40-49", "50+"]


def test_shipped_model_on_held_out_split(taiwan: Any, shipped: CapacityModel) -> None:
    split = json.loads((shipped_model_dir() / "split.json").read_text(encoding="utf-8"))
    assert not set(split["test"]) & set(split["train"])
    assert not set(split["test"]) & set(split["calibration"])
    metrics = evaluate(shipped, taiwan.set_index("ID").loc[split["test"]])
    assert metrics["n_test"] == 6000
    assert metrics["auc_test"] >= 0.78
    assert metrics["ece_after"] <= 0.02
    for rows in metrics["fairness"].values():
        for row in rows:
            assert abs(row["mean_predicted"] - row["actual_rate"]) < 0.05


def test_split_is_reproducible(taiwan: Any) -> None:
    split = json.loads((shipped_model_dir() / "split.json").read_text(encoding="utf-8"))
    assert split_ids(taiwan) == split


def test_training_on_a_subsample_round_trips(taiwan: Any, tmp_path: Path) -> None:
    sample = taiwan.sample(n=3000, random_state=1)
    result = train_capacity_model(sample, num_boost_round=40)
    assert result.metrics["n_test"] == 600
    assert 0.6 < result.metrics["auc_test"] < 0.9
    write_model(result, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {
        MODEL_FILE,
        META_FILE,
        "split.json",
        "metrics.json",
        "reliability.json",
        "reliability.svg",
    }
    loaded = CapacityModel.load(tmp_path)
    rows = sample[list(RAW_COLUMNS)].to_numpy()[:50]
    np.testing.assert_allclose(loaded.predict_proba(rows), result.model.predict_proba(rows))
    iso = train_capacity_model(sample, num_boost_round=20, calibration="isotonic")
    assert iso.model.calibration["method"] == "isotonic"
    with pytest.raises(ValueError, match="platt"):
        train_capacity_model(sample, num_boost_round=5, calibration="beta")
