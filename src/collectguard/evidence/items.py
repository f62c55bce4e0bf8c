"""What the evidence ledger vouches for about each item: the content that is hashed
(`message_content`, `call_content`, `item_sha256`) and the keys that de-duplicate re-imports
(`message_dedupe_key`, `call_dedupe_key`, `normalise_party`).

Pure functions with no database, analyzer or CLI code, shared by the importer (which writes
the hashes), `verify` and the bundle (which recompute them) and the case history. Changing
anything here changes hashes that stored ledgers vouch for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from collectguard.evidence.sources import CallItem, MessageRecord
from collectguard.ledger import canonical_json, sha256_hex


def iso_utc(t: dt.datetime | None) -> str | None:
    """UTC ISO-8601 with microseconds, as hashed and stored (None stays None)."""
    return None if t is None else t.astimezone(dt.UTC).isoformat(timespec="microseconds")


_NUMBER_NOISE = re.compile(r"[\s\-()]")


def normalise_party(value: str | None) -> str | None:
    """A sender or number in the form used for de-duplication (``+86 106-9000`` → ``1069000``)."""
    if value is None:
        return None
    v = _NUMBER_NOISE.sub("", value)
    for prefix in ("+86", "0086"):
        if v.startswith(prefix) and len(v) > len(prefix) + 4:
            v = v[len(prefix) :]
    return v or None


def message_dedupe_key(rec: MessageRecord, recipient: str, occurrence: int = 1) -> str:
    """The key that tells a message already stored: party, recipient, direction, time to the
    second and text. A source may hold the same text from the same party twice within one
    second (a lender's system sending twice): the importer tells such messages apart by
    their sub-second times and keys the second and later ones with their `occurrence`
    (2, 3 …); the first keeps the plain key, so keys stored before occurrences existed hold."""
    at = rec.received_at.astimezone(dt.UTC).replace(microsecond=0) if rec.received_at else None
    text = rec.text.replace("\r\n", "\n").strip()
    content: dict[str, Any] = {
        "kind": "message",
        "party": normalise_party(rec.sender),
        "recipient": recipient,
        "direction": rec.direction,
        "at": iso_utc(at),
        "text": text,
    }
    if occurrence > 1:
        content["occurrence"] = occurrence
    return sha256_hex(canonical_json(content))


def call_dedupe_key(rec: CallItem, recipient: str) -> str:
    at = rec.started_at.astimezone(dt.UTC).replace(microsecond=0) if rec.started_at else None
    return sha256_hex(
        canonical_json(
            {
                "kind": "call",
                "party": normalise_party(rec.number),
                "recipient": recipient,
                "type": rec.call_type,
                "at": iso_utc(at),
                "duration": rec.duration_s,
            }
        )
    )


MESSAGE_CONTENT = (
    "sender",
    "recipient",
    "direction",
    "received_at",
    "received_at_text",
    "timezone",
    "text",
    "source",
    "source_ref",
)
CALL_CONTENT = (
    "number",
    "recipient",
    "call_type",
    "started_at",
    "duration_s",
    "source",
    "source_ref",
)


def message_content(m: Mapping[Any, Any]) -> dict[str, Any]:
    """What the ledger vouches for about a message (the verdict is derived, not evidence)."""
    return _content("message", MESSAGE_CONTENT, m)


def call_content(c: Mapping[Any, Any]) -> dict[str, Any]:
    """What the ledger vouches for about a call record."""
    return _content("call", CALL_CONTENT, c)


def _content(kind: str, fields: tuple[str, ...], row: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind}
    for k in fields:
        v = row[k]
        out[k] = iso_utc(v) if isinstance(v, dt.datetime) else v
    return out


def item_sha256(content: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(content))
