"""Retrain the shipped repayment-capacity model (same as `collectguard model train`).

Usage: .venv/bin/python scripts/train_capacity_model.py [--data PATH] [--out DIR] [--seed N]

Reads ../shared/data/taiwan_credit_default by default (or $COLLECTGUARD_DATA); writes the
model, metadata, split IDs, metrics and reliability plot into the package's model folder.
"""

from __future__ import annotations

import sys

from collectguard.repayment.cli import model_app

if __name__ == "__main__":
    sys.exit(model_app(["train", *sys.argv[1:]]))
