"""Errors of the evidence locker (part of the `collectguard.errors` tree).

CollectguardError
└── EvidenceError              anything the evidence locker refuses on purpose
    ├── ImportFormatError      a source file that cannot be read (malformed XML, wrong
    │                          encoding, not an sms.db); names the line, column or record
    └── StoreError             a database URL or schema the locker cannot use
"""

from __future__ import annotations

from collectguard.errors import CollectguardError


class EvidenceError(CollectguardError):
    """Base of the evidence locker's errors."""


class ImportFormatError(EvidenceError):
    """A source file cannot be read; the message names the position (line, record)."""

    def __init__(self, message: str, *, position: str | None = None) -> None:
        super().__init__(message)
        self.position = position


class StoreError(EvidenceError):
    """The evidence store cannot be opened or migrated."""
