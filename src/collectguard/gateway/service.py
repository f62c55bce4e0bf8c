"""The gateway service: ties the pure core to a state store and the decision log.

Owns the order of a decision (idempotency → profile → rules → atomic check-and-reserve →
log), fail-closed handling (`state_unavailable`), dry-run mode, and outcome reporting;
`build_gateway` wires a gateway from its settings (SQLite or Redis state, the log's database,
policy, packs).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from collectguard.gateway.core import (
    CapCheck,
    ContentChecker,
    Plan,
    after_caps,
    cap_not_before,
    cap_reason,
    plan,
    system_reason,
)
from collectguard.gateway.log import DecisionLog
from collectguard.gateway.models import (
    ContactProfile,
    Decision,
    DecisionRequest,
    Outcome,
    Reason,
    Verdict,
)
from collectguard.gateway.policy import Policy, default_policy
from collectguard.gateway.store import (
    Attempt,
    Journal,
    ProfileChanged,
    ProfileSeen,
    StateStore,
    StoreUnavailable,
    UnknownAttempt,
)

log = logging.getLogger("collectguard.gateway")

__all__ = ["Gateway", "StoreUnavailable", "UnknownAttempt"]


class JournalError(RuntimeError):
    """The decision log could not be written."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Gateway:
    """Decide whether a contact attempt may go out now.

    `store`: the state (SQLite or Redis); `decision_log`: the ledger-backed log (None: not
    logged — tests and benchmarks only); `dry_run`: answer allow, but log what would have been
    denied or deferred.
    """

    def __init__(
        self,
        store: StateStore,
        decision_log: DecisionLog | None,
        *,
        policy: Policy | None = None,
        content: ContentChecker | None = None,
        templates: Mapping[str, str] | None = None,
        dry_run: bool = False,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.log = decision_log
        self.policy = policy or default_policy()
        self.content = content or ContentChecker()
        self.templates = dict(templates or {})
        self.dry_run = dry_run
        self.clock = clock

    # ------------------------------------------------------------------ decisions
    def decide(self, req: DecisionRequest) -> Decision:
        now = self.clock()
        try:
            return self._decide(req, now)
        except StoreUnavailable as exc:
            log.warning("state store unavailable: %s", exc)
            decision = self._deny_system(
                req,
                now,
                "state_unavailable",
                "状态存储不可用，无法核对频次与幂等，按失败即拒绝处理",
                f"state store unavailable ({str(exc)[:120]}); caps cannot be checked, "
                "failing closed",
            )
        except JournalError as exc:  # the log is part of the answer: fail closed
            log.error("decision log unavailable: %s", exc.__cause__)
            return self._deny_system(
                req,
                now,
                "decision_log_unavailable",
                "决策日志不可写，拒绝以保证可审计",
                "the decision log cannot be written; denied so every send stays auditable",
            )
        except Exception:  # a bug or a broken rule pack must never turn into an allow
            log.exception("decision failed for %s", req.idempotency_key)
            decision = self._deny_system(
                req,
                now,
                "internal_error",
                "网关内部错误，按失败即拒绝处理",
                "internal error in the gateway; failing closed",
            )
        journal = self._journal(req)
        if journal is not None:
            try:
                journal(decision.model_dump(mode="json"), None)
            except JournalError as exc:
                log.error("decision log unavailable: %s", exc.__cause__)
        return decision

    def _journal(self, req: DecisionRequest) -> Journal | None:
        """Appends the decision to the log; inside the store's transaction when the log lives
        in the same database (so a reservation never commits without its log entry)."""
        dlog = self.log
        if dlog is None:
            return None

        def write(decision: dict[str, Any], conn: Any) -> None:
            try:
                same_db = conn is not None and conn.engine is dlog.engine
                dlog.decision(req, decision, conn=conn if same_db else None)
            except Exception as exc:
                raise JournalError(str(exc)) from exc

        return write

    PLAN_ATTEMPTS = 3
    """Plans per decision when the debtor's profile changes meanwhile (`ProfileChanged`)."""

    def _decide(self, req: DecisionRequest, now: dt.datetime) -> Decision:
        for _ in range(self.PLAN_ATTEMPTS):
            try:
                return self._decide_once(req, now)
            except ProfileChanged:
                continue  # another replica saved a new profile: plan again with it
        raise StoreUnavailable("the debtor's profile kept changing during the decision")

    def _decide_once(self, req: DecisionRequest, now: dt.datetime) -> Decision:
        loaded = self.store.load(req.idempotency_key, req.debtor_id)
        if loaded.decision is not None:
            return _replay(loaded.decision)
        profile = loaded.profile or ContactProfile()
        seen = (req.debtor_id, loaded.version)
        p = plan(req, profile, self.policy, self.content, now, self.templates)
        decision_id = uuid.uuid4().hex
        if p.verdict == "allow":
            return self._reserve(req, p, profile, decision_id, now, seen)
        decision = self._make(req, p, p.verdict, p.reasons, p.not_before, decision_id, now)
        if self.dry_run:
            return self._force_allow(req, p, decision, decision_id, seen)
        return self._remember(req, decision, seen)

    def _reserve(
        self,
        req: DecisionRequest,
        p: Plan,
        profile: ContactProfile,
        decision_id: str,
        now: dt.datetime,
        seen: ProfileSeen,
    ) -> Decision:
        allow = self._make(req, p, "allow", (), None, decision_id, now, attempt=True)
        attempt = Attempt(decision_id, p.at.timestamp(), p.keys)
        deferred: list[Decision] = []

        def defer(failed: CapCheck, scores: tuple[float, ...]) -> dict[str, Any]:
            """The deferral when a cap is full; the store keeps it in the same round."""
            assert p.tz is not None
            jp = p.policy or self.policy.for_(req.jurisdiction)
            nb = cap_not_before(failed, scores, p.tz)
            nb = after_caps(jp, p.tz, profile, req.recipient.role, nb)
            d = self._make(req, p, "defer", (cap_reason(failed, jp, nb),), nb, decision_id, now)
            deferred.append(d)
            return d.model_dump(mode="json")

        res = self.store.reserve(
            req.idempotency_key,
            allow.model_dump(mode="json"),
            p.checks,
            attempt,
            journal=self._journal(req),
            on_cap=None if self.dry_run else defer,
            profile=seen,
        )
        if res.status == "replay":
            assert res.decision is not None
            return _replay(res.decision)
        if res.status == "reserved":
            return allow
        assert res.failed is not None
        if not self.dry_run:
            assert res.decision is not None and deferred
            if res.decision.get("decision_id") != decision_id:  # another request won the key
                return _replay(res.decision)
            return deferred[0]
        defer(res.failed, res.scores)
        return self._force_allow(req, p, deferred[0], decision_id, seen)

    def _force_allow(
        self, req: DecisionRequest, p: Plan, would: Decision, decision_id: str, seen: ProfileSeen
    ) -> Decision:
        """Dry run: the sender goes ahead, so the attempt is counted, without any cap check."""
        allow = would.model_copy(
            update={
                "decision": "allow",
                "would_have": would.decision,
                "dry_run": True,
                "attempt_id": decision_id,
                "not_before": None,
            }
        )
        attempt = Attempt(decision_id, p.at.timestamp(), p.keys)
        res = self.store.reserve(
            req.idempotency_key,
            allow.model_dump(mode="json"),
            p.checks,
            attempt,
            force=True,
            journal=self._journal(req),
            profile=seen,
        )
        if res.status == "replay":
            assert res.decision is not None
            return _replay(res.decision)
        log.info("dry run: would have answered %s for %s", would.decision, req.idempotency_key)
        return allow

    def _remember(self, req: DecisionRequest, decision: Decision, seen: ProfileSeen) -> Decision:
        stored = self.store.remember(
            req.idempotency_key,
            decision.model_dump(mode="json"),
            journal=self._journal(req),
            profile=seen,
        )
        if stored.get("decision_id") != decision.decision_id:
            return _replay(stored)
        return decision

    def _make(
        self,
        req: DecisionRequest,
        p: Plan,
        verdict: Verdict,
        reasons: tuple[Reason, ...] | list[Reason],
        not_before: dt.datetime | None,
        decision_id: str,
        now: dt.datetime,
        *,
        attempt: bool = False,
    ) -> Decision:
        return Decision(
            decision=verdict,
            not_before=not_before,
            reasons=list(reasons),
            rule_pack=p.rule_pack,
            policy_version=self.policy.version,
            overlays=list(p.overlays),
            notes=list(p.notes),
            decision_id=decision_id,
            attempt_id=decision_id if attempt else None,
            dry_run=self.dry_run,
            evaluated_at=now,
        )

    def _deny_system(
        self, req: DecisionRequest, now: dt.datetime, code: str, zh: str, en: str
    ) -> Decision:
        return Decision(
            decision="deny",
            reasons=[system_reason(code, zh, en, "稍后重试 / retry later")],
            rule_pack=self.content.rule_pack(req.jurisdiction),
            policy_version=self.policy.version,
            decision_id=uuid.uuid4().hex,
            dry_run=self.dry_run,
            evaluated_at=now,
        )

    # ------------------------------------------------------------------ outcomes, profiles
    def record_outcome(self, attempt_id: str, outcome: Outcome) -> dict[str, Any]:
        """Feed an attempt's outcome into the counters. Raises `UnknownAttempt`,
        `StoreUnavailable`."""
        att = self.store.record_outcome(attempt_id, outcome)
        if self.log is not None:
            self.log.outcome(attempt_id, outcome)
        return {"attempt_id": att.attempt_id, "outcome": att.outcome}

    def set_profile(self, debtor_id: str, profile: ContactProfile) -> None:
        self.store.put_profile(debtor_id, profile)
        if self.log is not None:
            self.log.profile(debtor_id, profile)

    def set_preferences(self, debtor_id: str, prefs: ContactProfile) -> ContactProfile:
        """Apply what the debtor chose themselves (`BORROWER_FIELDS`: preferred hours,
        channels opted out, cease communication) to the stored profile, keeping what the
        lender holds on file (consents, attorney, unreachable, third parties' objections).
        Returns the profile now stored."""
        current = self.get_profile(debtor_id)
        merged = current.model_copy(update={f: getattr(prefs, f) for f in BORROWER_FIELDS})
        self.set_profile(debtor_id, merged)
        return merged

    def get_profile(self, debtor_id: str) -> ContactProfile:
        return self.store.get_profile(debtor_id) or ContactProfile()


BORROWER_FIELDS = ("preferred_hours", "opted_out_channels", "cease_communication")
"""The profile fields a debtor sets themselves (the borrower portal's preferences)."""


def _replay(stored: dict[str, Any]) -> Decision:
    d = Decision.model_validate(stored)
    return d.model_copy(update={"replayed": True})


def build_gateway(
    *,
    db: str | Path = "gateway.db",
    redis_url: str | None = None,
    ledger_url: str | None = None,
    policy_path: str | Path | None = None,
    dry_run: bool = False,
    templates: dict[str, str] | None = None,
    packs: list[str] | None = None,
) -> Gateway:
    """A gateway on SQLite (`db`: state and decision log in one file), or on Redis
    (`redis_url`) for several replicas, with the decision log in `ledger_url` (e.g. a shared
    PostgreSQL, so all replicas append to one chain) or else in `db`. `packs`: rule-pack files or
    overlays (`extends: cn`) used for the content rules instead of the shipped packs.

    Here rather than in `http`: the CLI's one-off commands (`gateway check`, `profile`)
    build a gateway without importing the web framework."""
    from sqlalchemy import create_engine

    from collectguard.analyze.analyzer import Analyzer
    from collectguard.gateway.policy import load_policy
    from collectguard.gateway.store import SqlStateStore, sqlite_engine

    engine = sqlite_engine(f"sqlite:///{db}")
    log_engine = create_engine(ledger_url) if ledger_url else engine
    store: Any
    if redis_url:
        from collectguard.gateway.redis_store import RedisStateStore

        store = RedisStateStore(redis_url)
    else:
        store = SqlStateStore(engine)
    return Gateway(
        store,
        DecisionLog(log_engine),
        policy=load_policy(policy_path),
        content=ContentChecker(Analyzer.from_options(packs)) if packs else None,
        dry_run=dry_run,
        templates=templates,
    )
