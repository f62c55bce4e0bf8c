"""Features of the capacity model, computed the same way for training and for a borrower.

Owns: the mapping from six months of card behaviour (credit limit, repayment statuses,
bills, payments) to the model's feature matrix. Sensitive attributes (sex, age, marriage,
education) are deliberately *not* features; they are only used to report fairness.
Pure numpy; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from collectguard.repayment.models import PaymentHistory

__all__ = ["FEATURE_NAMES", "RAW_COLUMNS", "build_features", "history_row"]

#: Taiwan credit-default columns the features are built from, in this order.
RAW_COLUMNS: tuple[str, ...] = (
    "LIMIT_BAL",
    "PAY_0",
    "PAY_2",
    "PAY_3",
    "PAY_4",
    "PAY_5",
    "PAY_6",
    *(f"BILL_AMT{i}" for i in range(1, 7)),
    *(f"PAY_AMT{i}" for i in range(1, 7)),
)

FEATURE_NAMES: tuple[str, ...] = (
    *RAW_COLUMNS,
    "util_last",
    "util_mean",
    "pay_ratio_last",
    "pay_ratio_mean",
    "max_delay",
    "months_delayed",
    "pay_mean",
    "bill_trend",
)


def history_row(history: PaymentHistory) -> list[float]:
    """One borrower's history as a raw row in :data:`RAW_COLUMNS` order."""
    return [
        float(history.credit_limit),
        *map(float, history.statuses),
        *map(float, history.bills),
        *map(float, history.payments),
    ]


def build_features(raw: npt.ArrayLike | Sequence[Sequence[float]]) -> npt.NDArray[np.float64]:
    """Feature matrix (n, len(FEATURE_NAMES)) from raw rows (n, len(RAW_COLUMNS))."""
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(RAW_COLUMNS):
        raise ValueError(f"expected rows of {len(RAW_COLUMNS)} raw values, got shape {x.shape}")
    limit = np.maximum(x[:, 0], 1.0)
    status, bill, paid = x[:, 1:7], x[:, 7:13], x[:, 13:19]
    # PAY_AMTk settles the statement of the month before BILL_AMTk, i.e. BILL_AMT(k+1).
    ratio = np.clip(paid[:, :5] / np.maximum(bill[:, 1:], 1.0), 0.0, 5.0)
    extra = np.column_stack(
        [
            bill[:, 0] / limit,
            bill.mean(axis=1) / limit,
            ratio[:, 0],
            ratio.mean(axis=1),
            status.max(axis=1),
            (status > 0).sum(axis=1),
            paid.mean(axis=1),
            (bill[:, 0] - bill[:, 5]) / limit,
        ]
    )
    return np.hstack([x, extra])
