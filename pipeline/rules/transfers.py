"""Evaluate one declared transfer: path, filings, declared basis, thresholds, notices."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

from pipeline.config import RulesConfig
from pipeline.rules.filings import FilingVerdict, judge_filings
from pipeline.rules.findings import EvaluatedFinding, make_finding
from pipeline.rules.procedure import PathDecision, apply_counts, decide_path
from pipeline.rules.reference import ReferenceIndex
from pipeline.rules.state import EnterpriseState, YearCounters
from pipeline.rules.years import calendar_year
from schemas.models import Filing, TransferLog
from schemas.types import RuleId, format_datetime


class TransferResult(NamedTuple):
    findings: list[EvaluatedFinding]
    duplicate: bool  # a repeated transfer_id: ignored entirely
    decision: PathDecision | None = None


def evaluate_transfer(
    log: TransferLog, ref: ReferenceIndex, state: EnterpriseState, config: RulesConfig
) -> TransferResult:
    """Evaluate `log` against the reference data, booking it into the enterprise's `state`.

    Transfers must arrive in event-time order for yearly counts to follow the contract.
    """
    if state.seen(log.transfer_id):
        return TransferResult(findings=[], duplicate=True)
    state.seen_transfers.add(log.transfer_id)

    enterprise = ref.enterprise(log.enterprise_id)
    counters = state.year(calendar_year(log.ts, config.zone))
    decision = decide_path(log, enterprise, ref.entries_for(enterprise), counters, config)
    crossed = apply_counts(decision, log, counters, config)
    verdict: FilingVerdict | None = None
    if decision.needs_procedure:
        assert decision.path in ("security_assessment", "contract_or_certification")
        verdict = judge_filings(
            log,
            decision.path,
            ref.filings_of(log.enterprise_id),
            counters,
            config.zone,
            config.assessment_validity_years,
            decision.from_negative_list,
        )

    emit = _Emitter(log, decision, verdict, counters, config, ref)
    if verdict is not None:
        for rule in verdict.rules:
            emit.filing_rule(rule)
        emit.declared_basis()
        emit.expiring(state)
    for measure, threshold in crossed:
        emit.threshold(measure, threshold)
    emit.late()
    return TransferResult(findings=emit.findings, duplicate=False, decision=decision)


class _Emitter:
    """Builds the findings of one transfer, sharing its evidence skeleton."""

    def __init__(
        self,
        log: TransferLog,
        decision: PathDecision,
        verdict: FilingVerdict | None,
        counters: YearCounters,
        config: RulesConfig,
        ref: ReferenceIndex,
    ) -> None:
        self.log, self.decision, self.verdict = log, decision, verdict
        self.counters, self.config, self.ref = counters, config, ref
        self.findings: list[EvaluatedFinding] = []
        self.examined: list[Filing] = list(verdict.examined) if verdict else []
        self._transfer_json: dict[str, Any] | None = None  # shared by the log's findings

    def _evidence(self, detail: dict[str, Any], filings: list[Filing]) -> dict[str, Any]:
        ref = self.ref
        enterprise = ref.enterprises.get(self.log.enterprise_id)
        if self._transfer_json is None:
            self._transfer_json = self.log.model_dump(mode="json")
        d = self.decision
        return {
            "transfer": self._transfer_json,
            "enterprise": ref.json_of(enterprise) if enterprise else None,
            "decision": {
                "path": d.path,
                "step": d.step,
                "reason": d.reason,
                "subjects_total": d.subjects_total,
                "sensitive_total": d.sensitive_total,
                "negative_list_items": [
                    {
                        "list_id": a.entry.list_id,
                        "item_id": a.entry.item_id,
                        "required_path": a.entry.required_path,
                        "min_subjects": a.entry.min_subjects,
                        "count": a.count,
                    }
                    for a in d.active_items
                ],
            },
            "filings_examined": [ref.json_of(f) for f in filings],
            "detail": detail,
        }

    def _emit(
        self,
        rule: RuleId,
        about: tuple[str | int, ...] | None = None,
        detail: dict[str, Any] | None = None,
        filings: list[Filing] | None = None,
        **context: Any,
    ) -> None:
        log = self.log
        filings = self.examined if filings is None else filings
        ids = [f.filing_id for f in filings]
        self.findings.append(
            make_finding(
                self.config,
                rule,
                log.enterprise_id,
                about if about is not None else (log.transfer_id,),
                log.ts,
                transfer_id=log.transfer_id,
                required_path=self.decision.path,
                filing_ids=ids,
                context={
                    "transfer_id": log.transfer_id,
                    "recipient": log.recipient,
                    "country": log.country,
                    "purpose": log.purpose,
                    "categories": ", ".join(log.categories),
                    "path": self.decision.path,
                    "filings": ", ".join(ids) or "-",
                    "items": ", ".join(
                        f"{a.entry.list_id}/{a.entry.item_id}" for a in self.decision.active_items
                    ),
                    **context,
                },
                evidence=self._evidence(detail or {}, filings),
            )
        )

    def filing_rule(self, rule: RuleId) -> None:
        verdict = self.verdict
        assert verdict is not None
        if rule == "XB-VOLUME-EXCEEDED" and verdict.charged is not None:
            filing = verdict.charged
            used = self.counters.filing_used.get(filing.filing_id, 0)
            limit = filing.max_subjects or 0
            self._emit(rule, detail={"used": used, "max_subjects": limit}, used=used, limit=limit)
            return
        self._emit(rule, detail={"scope_failed": list(verdict.scope_failed)})

    def declared_basis(self) -> None:
        log, verdict = self.log, self.verdict
        assert verdict is not None
        covering = verdict.covering
        reasons: list[str] = []
        declared: list[Filing] = []
        if log.filing_ref is not None:
            referenced = self.ref.filing(log.filing_ref)
            if referenced is None:
                reasons.append("filing_ref_unknown")
            elif referenced.enterprise_id != log.enterprise_id:
                reasons.append("filing_ref_other_enterprise")
            else:
                declared.append(referenced)
                if covering is not None and referenced.filing_id != covering.filing_id:
                    reasons.append("filing_ref_not_covering")
        if log.legal_basis == "exempt":
            reasons.append("claims_exempt")
        if covering is not None and log.legal_basis != covering.kind:
            reasons.append("legal_basis_differs_from_covering_kind")
        if not reasons:
            return
        filings = self.examined + [f for f in declared if f not in self.examined]
        self._emit(
            "XB-DECLARED-BASIS-INVALID",
            detail={"reasons": reasons, "covering": covering.filing_id if covering else None},
            filings=filings,
            legal_basis=log.legal_basis,
            filing_ref=log.filing_ref or "-",
            reasons=", ".join(reasons),
        )

    def expiring(self, state: EnterpriseState) -> None:
        verdict = self.verdict
        assert verdict is not None
        covering, end = verdict.covering, verdict.end
        if covering is None or end is None or covering.filing_id in state.expiring_notified:
            return
        if end - self.log.ts > timedelta(days=self.config.expiring_notice_days):
            return
        state.expiring_notified.add(covering.filing_id)
        self._emit(
            "XB-FILING-EXPIRING",
            about=("filing", covering.filing_id),
            detail={"validity_end": format_datetime(end)},
            filings=[covering],
            end=format_datetime(end),
        )

    def threshold(self, measure: str, threshold: int) -> None:
        total = self.counters.subjects if measure == "subjects" else self.counters.sensitive
        self._emit(
            "XB-THRESHOLD-CROSSED",
            about=(self.log.transfer_id, measure, threshold),
            detail={"measure": measure, "threshold": threshold, "total": total},
            measure=measure,
            threshold=threshold,
            total=total,
        )

    def late(self) -> None:
        log = self.log
        if log.received_at is None:
            return
        delay = log.received_at - log.ts
        if delay <= self.config.declaration_deadline:
            return
        self._emit(
            "XB-LATE-DECLARATION",
            detail={"delay_seconds": delay.total_seconds()},
            delay_hours=delay.total_seconds() / 3600,
            deadline_hours=self.config.declaration_deadline_hours,
        )
