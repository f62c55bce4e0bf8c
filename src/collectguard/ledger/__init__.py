"""Append-only, hash-chained ledger shared by the evidence locker and the gateway's
decision log.

`chain` is pure (canonical encoding, entry hashes, verification that names the broken entry);
`store` keeps streams in a SQL table. An exported chain head lets a third party check that
nothing was removed from the end.
"""

from collectguard.ledger.chain import (
    GENESIS,
    ChainProblem,
    ChainReport,
    LedgerEntry,
    canonical_json,
    make_entry,
    sha256_hex,
    sha256_stream,
    verify_chain,
)
from collectguard.ledger.store import LedgerBusyError, SqlLedger, ledger_entries, ledger_metadata

__all__ = [
    "GENESIS",
    "ChainProblem",
    "ChainReport",
    "LedgerBusyError",
    "LedgerEntry",
    "SqlLedger",
    "canonical_json",
    "ledger_entries",
    "ledger_metadata",
    "make_entry",
    "sha256_hex",
    "sha256_stream",
    "verify_chain",
]
