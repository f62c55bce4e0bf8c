"""The shipped repayment-capacity model: calibrated probability of default next month.

Owns: loading the small model files that ship in ``collectguard/repayment/model/``
(a LightGBM text model plus JSON metadata holding the isotonic calibration map, the
feature list, the base rate and the split that produced it) and scoring borrowers.
No network, no training code, no web or CLI imports; LightGBM is imported only when a
model is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from collectguard.repayment.features import FEATURE_NAMES, build_features, history_row
from collectguard.repayment.models import PaymentHistory, RiskSource

__all__ = ["META_FILE", "MODEL_FILE", "CapacityModel", "logit", "shipped_model_dir"]

MODEL_FILE = "capacity_model.txt"
META_FILE = "capacity_model.json"


def shipped_model_dir() -> Path:
    """Folder of the model that ships inside the package."""
    return Path(str(resources.files("collectguard.repayment") / "model"))


def logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """log(p / (1 − p)), with p clipped away from 0 and 1."""
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


@dataclass(frozen=True)
class CapacityModel:
    """A LightGBM booster with its calibration map and metadata.

    ``calibration`` is ``{"method": "platt", "a": .., "b": ..}`` (sigmoid of
    ``a·logit(p) + b``; keeps the ranking, so AUC is unchanged) or
    ``{"method": "isotonic", "x": [..], "y": [..]}`` (piecewise-linear map).
    """

    booster: Any
    calibration: dict[str, Any]
    base_rate: float
    metadata: dict[str, Any]

    @classmethod
    def load(cls, folder: Path | None = None) -> CapacityModel:
        """Load the model in ``folder`` (default: the one shipped with the package)."""
        import lightgbm as lgb

        folder = folder or shipped_model_dir()
        meta_path, model_path = folder / META_FILE, folder / MODEL_FILE
        if not meta_path.is_file() or not model_path.is_file():
            raise FileNotFoundError(
                f"no capacity model in {folder} (expected {MODEL_FILE} and {META_FILE}); "
                "train one with `collectguard model train`"
            )
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        if tuple(meta["features"]) != FEATURE_NAMES:
            raise ValueError(
                f"model in {folder} was trained on other features than this code builds; retrain it"
            )
        booster = lgb.Booster(model_str=model_path.read_text(encoding="utf-8"))
        return cls(
            booster=booster,
            calibration=dict(meta["calibration"]),
            base_rate=float(meta["base_rate"]),
            metadata=meta,
        )

    def predict_uncalibrated(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The booster's raw probabilities for raw Taiwan-layout rows."""
        out = self.booster.predict(build_features(raw))
        return np.asarray(out, dtype=np.float64)

    def calibrate(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map raw probabilities through the calibration (see the class docstring)."""
        p = np.asarray(scores, dtype=np.float64)
        cal = self.calibration
        if cal["method"] == "platt":
            z = float(cal["a"]) * logit(p) + float(cal["b"])
            return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)
        if cal["method"] == "isotonic":
            mapped = np.interp(p, np.asarray(cal["x"]), np.asarray(cal["y"]))
            return np.asarray(mapped, dtype=np.float64)
        raise ValueError(f"unknown calibration method {cal['method']!r}")

    def predict_proba(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probabilities of default next month for raw rows."""
        return self.calibrate(self.predict_uncalibrated(raw))

    def default_probability(self, history: PaymentHistory | None) -> tuple[float, RiskSource]:
        """One borrower's calibrated risk, or the base rate when no history is given."""
        if history is None:
            return self.base_rate, "base_rate"
        return float(self.predict_proba([history_row(history)])[0]), "model"
