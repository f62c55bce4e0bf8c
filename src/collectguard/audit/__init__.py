"""Batch audit of lender communication logs (the lender side, after the fact).

Parts and what each owns:

- `schema`: the documented event schema (`AuditEvent`) and the fast per-row validator.
- `readers`: streaming CSV / JSONL / Parquet readers with per-row rejects, an error budget
  and count reconciliation (input rows = audited + rejected).
- `rules`: the rule catalogue (numbers and citations from the gateway policy and the rule
  packs) and the SQL that both engines run (time windows, frequency caps, third parties).
- `content`: the analyzer's content rules over the distinct texts, in batches and processes.
- `engine_local` (DuckDB) and `engine_spark` (PySpark): the same rules, same answer.
- `scorecard`: per agent / team / agency scorecards and repeat-offender escalation.
- `report`, `svg`: HTML (zh-CN and English, inline SVG charts) and the JSON summary.
- `generate`: synthetic logs with injected, recorded ground-truth violations.
- `run`: the pipeline read → engine → scorecards → reports; `cli`: the `audit` Typer app.

The pure core (`schema`, `rules`, `scorecard`, `svg`) imports no web or CLI code.
"""

from __future__ import annotations

from collectguard.audit.schema import AuditEvent

__all__ = ["AuditEvent"]
