"""The decision log: every decision, with its inputs (phone numbers masked), rule-pack and
policy versions and reasons, appended to the shared hash-chained ledger
(`collectguard.ledger`, stream ``gateway``). Owns the payload shape, the audit export
(JSONL entries followed by one line with the verified chain head).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import Connection, Engine

from collectguard.gateway.models import (
    ContactProfile,
    Decision,
    DecisionRequest,
    mask_phone,
    mask_text,
)
from collectguard.gateway.store import KeptConnections
from collectguard.ledger import ChainReport, LedgerEntry, SqlLedger

STREAM = "gateway"


def masked_request(req: DecisionRequest, text: str | None = None) -> dict[str, Any]:
    """The request as logged: phone numbers masked, in the recipient and in the text."""
    data = req.model_dump(mode="json")
    data["recipient"]["phone"] = mask_phone(req.recipient.phone)
    if data.get("text"):
        data["text"] = mask_text(data["text"])
    if text is not None and req.template_id is not None:
        data["rendered_text"] = mask_text(text)
    if data.get("variables"):
        data["variables"] = {
            k: mask_text(v) if isinstance(v, str) else v for k, v in data["variables"].items()
        }
    return data


class DecisionLog:
    def __init__(self, engine: Engine, *, stream: str = STREAM) -> None:
        self.engine = engine
        # entries outside a store transaction (outcomes, profiles, every decision on Redis)
        # append on kept connections: a pool checkout costs more than the append
        self.ledger = SqlLedger(engine, stream, connect=KeptConnections(engine).connection)
        self.ledger.create_table()  # safe when replicas start together (advisory lock)

    def decision(
        self,
        req: DecisionRequest,
        decision: Decision | dict[str, Any],
        *,
        conn: Connection | None = None,
    ) -> LedgerEntry:
        """Append one decision; with `conn`, inside the caller's transaction."""
        data = decision.model_dump(mode="json") if isinstance(decision, Decision) else decision
        return self.ledger.append(
            "decision", {"request": masked_request(req), "decision": data}, conn=conn
        )

    def outcome(self, attempt_id: str, outcome: str) -> LedgerEntry:
        return self.ledger.append("outcome", {"attempt_id": attempt_id, "outcome": outcome})

    def profile(self, debtor_id: str, profile: ContactProfile) -> LedgerEntry:
        data = profile.model_dump(mode="json")
        data["objected_contacts"] = [mask_phone(p) for p in profile.objected_contacts]
        return self.ledger.append("profile", {"debtor_id": debtor_id, "profile": data})

    def entries(self) -> Iterator[LedgerEntry]:
        return self.ledger.entries()

    def verify(self, expected_head: str | None = None) -> ChainReport:
        return self.ledger.verify(expected_head=expected_head)

    def export_jsonl(self, out: IO[str]) -> ChainReport:
        """Write every entry as one JSON line, then `{"chain_head": …, "count": …, "ok": …}`."""
        n = 0
        for e in self.entries():
            out.write(json.dumps(_entry_dict(e), ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
        report = self.verify()
        out.write(
            json.dumps(
                {
                    "chain_head": report.head,
                    "count": n,
                    "ok": report.ok,
                    "stream": STREAM,
                    "problems": [p.__dict__ for p in report.problems],
                },
                ensure_ascii=False,
                sort_keys=True,
            )
            + "\n"
        )
        return report


def _entry_dict(e: LedgerEntry) -> dict[str, Any]:
    return {
        "stream": e.stream,
        "seq": e.seq,
        "kind": e.kind,
        "payload": e.payload,
        "payload_sha256": e.payload_sha256,
        "prev_hash": e.prev_hash,
        "entry_hash": e.entry_hash,
        "recorded_at": e.recorded_at,
    }
