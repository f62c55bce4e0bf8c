"""`Analyzer`: one message in, one explained verdict out.

normalize → choose pack (jurisdiction) → compact → extract → attribute → scan the pack
(terms, patterns) → signals give the collection and scam scores → rules give violations
(built-ins after the scores, since some depend on them) → authenticity → advice.

Scores are logistic: sigmoid(bias + Σ weights of the signals that fired, once each). Every
score contribution and every violation is a `Finding` with its span in the original text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from collectguard.analyze.advice import advise
from collectguard.analyze.attribution import Attribution, attribute, platform_kind
from collectguard.analyze.result import (
    Advice,
    Authenticity,
    CheckInput,
    CheckResult,
    Platform,
    Violation,
)
from collectguard.detect.builtins import BUILTINS, MessageContext
from collectguard.errors import InputError
from collectguard.extract import classify_sender, extract_lazy
from collectguard.findings import Finding, FindingKind
from collectguard.normalize import NormalizedText, compact, normalize
from collectguard.registry import LenderEntry, Organization, PlatformRegistry
from collectguard.rules import Hit, Rule, RulePack, Signal, load_builtin

_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_TWO_CJK = re.compile(r"[\u4e00-\u9fff][^\u4e00-\u9fff]*[\u4e00-\u9fff]", re.S)


Detector = Callable[[MessageContext, dict[str, object]], list[tuple[tuple[int, int] | None, str]]]
_Detectors = tuple[
    tuple[tuple[Signal, Detector, dict[str, object]], ...],
    tuple[tuple[Rule, Detector, dict[str, object]], ...],
]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def infer_jurisdiction(text: str, sender: str | None) -> str:
    """`cn` for Chinese text, `us` for English text or a +1 sender; `cn` when unsure."""
    if _TWO_CJK.search(text, 0, 2000):
        return "cn"
    if sender and sender.strip().startswith("+1"):
        return "us"
    if len(_LATIN_WORD.findall(text[:2000])) >= 2:
        return "us"
    return "cn"


@lru_cache(maxsize=4096)
def _brand(name: str) -> str:
    return normalize(name).text


class Analyzer:
    """Checks messages against rule packs and a platform registry.

    `Analyzer.default()` uses the shipped `cn` and `us` packs and registry. Pass your own
    packs (`{"cn": pack}`) or registry to override; build one Analyzer and reuse it — all
    compilation happens in the constructor.
    """

    def __init__(
        self,
        packs: dict[str, RulePack] | None = None,
        registry: PlatformRegistry | None = None,
        lang: str = "zh",
    ) -> None:
        self.packs = packs or {"cn": load_builtin("cn"), "us": load_builtin("us")}
        self.registry = registry or PlatformRegistry.default()
        self.lang = lang
        self._prepared: dict[int, tuple[RulePack, _Detectors]] = {}
        self._advice_memo: dict[tuple[Any, ...], list[Advice]] = {}

    def _detectors(self, pack: RulePack) -> _Detectors:
        """A pack's built-in detectors with their params, looked up once per pack.

        History-aware builtins (frequency) have no single-message detector: the locker,
        gateway and audit judge them, so they are left out here."""
        got = self._prepared.get(id(pack))
        if got is not None and got[0] is pack:
            return got[1]
        signals: list[tuple[Signal, Detector, dict[str, object]]] = []
        rules: list[tuple[Rule, Detector, dict[str, object]]] = []
        for item in pack.builtin_items():
            detector = BUILTINS.get(item.detect.builtin or "")
            if detector is None:
                continue
            params: dict[str, object] = dict(item.detect.params)
            if isinstance(item, Signal):
                signals.append((item, detector, params))
            elif isinstance(item, Rule):
                rules.append((item, detector, params))
        prepared = (tuple(signals), tuple(rules))
        self._prepared[id(pack)] = (pack, prepared)
        return prepared

    @classmethod
    @lru_cache(maxsize=1)
    def default(cls) -> Analyzer:
        return cls()

    @classmethod
    def from_options(
        cls,
        packs: Iterable[str] = (),
        registry_files: Iterable[Path] = (),
    ) -> Analyzer:
        """An analyzer with user pack files (or overlays) and registry files merged in."""
        from collectguard.rules import resolve_pack

        chosen = {"cn": load_builtin("cn"), "us": load_builtin("us")}
        for spec in packs:
            pack = resolve_pack(spec)
            chosen[pack.jurisdiction.lower().split("-")[0]] = pack
        registry = PlatformRegistry.default()
        for path in registry_files:
            registry = registry.merged_with(path)
        return cls(chosen, registry)

    # ------------------------------------------------------------------ public API
    def check(
        self, message: CheckInput | str, /, *, echo: bool = True, **fields: Any
    ) -> CheckResult:
        """Analyse one message (a `CheckInput`, or text plus keyword fields).

        `echo=False` leaves the result's `input` empty, for a caller that keeps the input
        itself (the evidence locker stores it in its own columns and drops the echo)."""
        if isinstance(message, str):
            try:
                message = CheckInput(text=message, **fields)
            except ValidationError as exc:
                raise InputError(describe_input_error(exc)) from None
        return self._check(message, echo=echo)

    def check_many(self, messages: Iterable[CheckInput]) -> Iterator[CheckResult]:
        for m in messages:
            yield self._check(m)

    # ------------------------------------------------------------------ pipeline
    def pack_for(self, message: CheckInput) -> RulePack:
        key = message.jurisdiction or infer_jurisdiction(message.text, message.sender)
        key = key.split("-")[0]
        if key not in self.packs:
            raise InputError(
                f"no rule pack for jurisdiction {key!r}; available: {', '.join(sorted(self.packs))}"
            )
        return self.packs[key]

    def _check(self, message: CheckInput, *, echo: bool = True) -> CheckResult:
        pack = self.pack_for(message)
        norm = normalize(message.text)
        comp = compact(norm, pack.evasions)
        ext = extract_lazy(norm)
        sender = classify_sender(message.sender) if message.sender else None
        names = self.registry.match_names(comp.text)
        attribution = attribute(norm, comp, ext, sender, message.sender, self.registry, names)
        hits = pack.scan(comp)

        ctx = MessageContext(
            norm=norm,
            comp=comp,
            ext=ext,
            sender=sender,
            received_at=message.received_at,
            timezone=message.timezone,
            pack_timezone=pack.timezone,
            registry=self.registry,
            entry=attribution.entry if attribution else None,
            claimed_name=attribution.claimed_name if attribution else None,
            claimed_span=attribution.span if attribution else None,
            conflicts=attribution.conflicts if attribution else [],
            consistency=attribution.consistency if attribution else [],
            body_names=names,
        )
        findings: list[Finding] = []

        # --- signals → scores
        fired: dict[str, Finding] = {}
        for hit in hits:
            if isinstance(hit.item, Signal) and hit.item.id not in fired:
                fired[hit.item.id] = self._signal_finding(hit.item, hit, comp, pack)
        signal_detectors, rule_detectors = self._detectors(pack)
        for item, detector, params in signal_detectors:
            if item.id not in fired:
                ev = detector(ctx, params)
                if ev:
                    span, cue = ev[0]
                    if item.detect.builtin == "lookalike_link":
                        ctx.lookalike_fired = True
                    fired[item.id] = self._finding_from_evidence(item, span, cue, norm, pack)
        if "sender_official_hotline" in ctx.consistency or "official_domain" in ctx.consistency:
            cue = ", ".join(ctx.consistency)
            fired["registry.consistent"] = Finding(
                kind="genuine_cue",
                rule_id="registry.consistent",
                cue=f"与登记的官方渠道一致 / consistent with the registry ({cue})",
                score=1.5,
                jurisdiction=pack.jurisdiction,
            )
        collection_raw = pack.thresholds.collection_bias + sum(
            f.score for f in fired.values() if f.kind == "collection_cue"
        )
        scam_raw = (
            pack.thresholds.scam_bias
            + sum(f.score for f in fired.values() if f.kind == "scam_cue")
            - sum(f.score for f in fired.values() if f.kind == "genuine_cue")
        )
        collection_score = _sigmoid(collection_raw)
        scam_score = _sigmoid(scam_raw)
        is_collection = collection_score >= pack.thresholds.collection
        findings.extend(fired.values())
        ctx.is_collection = is_collection
        ctx.scam_score = scam_score
        ctx.lures = [(f.rule_id, f.span, f.evidence or f.cue) for f in fired.values()]

        # --- rules → violations
        violations: list[Violation] = []
        seen: set[tuple[str, int | None]] = set()

        def add(rule: Rule, span: tuple[int, int] | None, cue: str) -> None:
            if rule.detect.context == "collection" and not is_collection:
                return
            if rule.detect.context == "scam" and scam_score < pack.thresholds.scam:
                return
            if (
                rule.detect.context == "collection_or_scam"
                and not is_collection
                and scam_score < pack.thresholds.suspicious
            ):
                return  # e.g. 上门安装 or 好友 in an ordinary marketing text
            key = (rule.code, span[0] if span else None)
            if key in seen:
                return
            seen.add(key)
            finding = self._finding_from_evidence(rule, span, cue, norm, pack)
            findings.append(finding)
            violations.append(
                Violation(
                    code=rule.code,
                    rule_id=rule.id,
                    title=rule.title.zh if self.lang == "zh" else rule.title.en,
                    span=finding.span,
                    evidence=finding.evidence,
                    citation="；".join(rule.citation),
                    binding=rule.binding,
                    severity=rule.severity,
                )
            )

        for hit in hits:
            if isinstance(hit.item, Rule):
                add(hit.item, comp.to_original(hit.start, hit.end), hit.cue)
        for rule, detector, params in rule_detectors:
            if rule.detect.context == "collection" and not is_collection:
                continue  # `add` would drop it: skip the (possibly costly) detector
            for span, cue in detector(ctx, params):
                add(rule, span, cue)
        violations.sort(key=lambda v: (v.span[0] if v.span else -1, v.code))

        authenticity = self._authenticity(attribution, scam_score, pack, fired)
        if authenticity != "scam" and any(v.code == "impersonates_authority" for v in violations):
            # No lender or collector may speak as a court, police or ministry: whoever
            # sent it, the message is not what it claims to be.
            authenticity = "scam"
        platform = self._platform(attribution)
        advice = self._advice(
            pack.name,
            is_collection,
            authenticity,
            frozenset(v.code for v in violations),
            attribution.entry if attribution else None,
        )
        return CheckResult(
            input=_echo(message) if echo else {},
            jurisdiction=pack.jurisdiction.lower(),
            language="zh" if pack.name == "cn" else "en",
            rule_pack=f"{pack.name}@{pack.version}",
            is_collection=is_collection,
            collection_score=round(collection_score, 4),
            platform=platform,
            authenticity=authenticity,
            scam_score=round(scam_score, 4),
            violations=violations,
            findings=findings,
            advice=advice,
        )

    # ------------------------------------------------------------------ helpers
    def _advice(
        self,
        jurisdiction: str,
        is_collection: bool,
        authenticity: str,
        codes: frozenset[str],
        entry: LenderEntry | Organization | None,
    ) -> list[Advice]:
        """`advise`, remembered: the steps depend only on these arguments and the registry,
        which is fixed for an analyzer. A new list each time; the (frozen) items shared."""
        key = (
            jurisdiction,
            is_collection,
            authenticity,
            codes,
            None if entry is None else (type(entry), entry.id),
        )
        got = self._advice_memo.get(key)
        if got is None:
            got = advise(
                jurisdiction=jurisdiction,
                is_collection=is_collection,
                authenticity=authenticity,
                codes=set(codes),
                entry=entry,
                registry=self.registry,
            )
            if len(self._advice_memo) >= _ADVICE_MEMO_SIZE:
                self._advice_memo.clear()
            self._advice_memo[key] = got
        return list(got)

    def _signal_finding(
        self, sig: Signal, hit: Hit, comp: NormalizedText, pack: RulePack
    ) -> Finding:
        span = comp.to_original(hit.start, hit.end)
        return self._finding_from_evidence(sig, span, hit.cue, comp, pack)

    def _finding_from_evidence(
        self,
        item: Rule | Signal,
        span: tuple[int, int] | None,
        cue: str,
        text: NormalizedText,
        pack: RulePack,
    ) -> Finding:
        evidence = text.original[span[0] : span[1]] if span else cue
        if isinstance(item, Signal):
            kind = _SIGNAL_KIND[item.kind]
            return Finding(
                kind=kind,
                rule_id=item.id,
                span=span,
                evidence=evidence,
                cue=f"{cue} — {item.explain.zh}",
                score=item.weight,
                jurisdiction=pack.jurisdiction,
            )
        return Finding(
            kind="violation",
            rule_id=item.id,
            code=item.code,
            span=span,
            evidence=evidence,
            cue=cue,
            citation="；".join(item.citation),
            binding=item.binding,
            severity=item.severity,
            jurisdiction=pack.jurisdiction,
        )

    @staticmethod
    def _authenticity(
        attribution: Attribution | None,
        scam_score: float,
        pack: RulePack,
        fired: dict[str, Finding],
    ) -> Authenticity:
        if scam_score >= pack.thresholds.scam:
            return "scam"
        if attribution is not None and attribution.conflicts:
            return "suspicious"
        if scam_score >= pack.thresholds.suspicious:
            return "suspicious"
        if attribution is not None:
            return "genuine"
        return "unknown"

    @staticmethod
    def _platform(attribution: Attribution | None) -> Platform | None:
        if attribution is None:
            return None
        entry = attribution.entry
        legal = None
        license_type = None
        if isinstance(entry, LenderEntry):
            names = entry.registered_names
            legal = names[0] if names else entry.legal_name
            license_type = entry.license_type
        confidence = attribution.confidence
        if attribution.consistency:
            confidence = min(0.99, confidence + 0.08)
        if attribution.conflicts:
            confidence = max(0.1, confidence - 0.3)
        return Platform(
            claimed_name=attribution.claimed_name,
            brand=_brand(attribution.claimed_name),
            registry_name=entry.display_name if entry is not None else None,
            id=entry.id if entry is not None else None,
            legal_name=legal,
            kind=platform_kind(entry),
            license_type=license_type,
            confidence=round(confidence, 2),
            matched_by=list(dict.fromkeys(attribution.matched_by)),
            span=attribution.span,
        )


def _echo(message: CheckInput) -> dict[str, Any]:
    """The input as a result repeats it (the contract's ``input``)."""
    out: dict[str, Any] = {
        "text": message.text,
        "sender": message.sender,
        "received_at": message.received_at.isoformat() if message.received_at else None,
        **(message.model_extra or {}),
    }
    if message.timezone:
        out["timezone"] = message.timezone
    if message.jurisdiction:
        out["jurisdiction"] = message.jurisdiction
    return out


_ADVICE_MEMO_SIZE = 4096
"""Situations whose advice an analyzer remembers (a few hundred occur: verdict × violation
codes × lender); beyond it the memo starts again."""

_SIGNAL_KIND: dict[str, FindingKind] = {
    "collection": "collection_cue",
    "scam": "scam_cue",
    "genuine": "genuine_cue",
}


def describe_input_error(exc: ValidationError) -> str:
    """One line per invalid field of a `CheckInput`, without pydantic's boilerplate."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
    )
