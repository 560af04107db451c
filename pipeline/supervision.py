"""Credit + risk supervision in the stream: profiles, scores, tier changes and alerts.

Framework-free like the batch processor: after each batch the worker context hands the batch
output here; the enterprise profiles (kept in the enterprise state) are updated, touched
enterprises are re-scored, every finding becomes an alert whose severity and route follow the
enterprise's tier policy, and the results travel with the batch output.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson

from pipeline.alerts import Alert, Raised, alert_day, alert_id, raise_alerts
from pipeline.config import RulesConfig
from pipeline.rules.categories import classes_of
from pipeline.rules.engine import ClosedWindow, Engine
from pipeline.rules.filings import is_valid, validity_end
from pipeline.rules.state import EnterpriseState, KeptFinding, ScoringProfile, kept_ts
from pipeline.rules.years import calendar_year
from pipeline.scoring.config import ScoringConfig
from pipeline.scoring.model import CountryScores, FindingRecord, Score, ScoringInputs, score
from pipeline.scoring.tiers import alert_for
from schemas.models import Finding, TransferLog
from schemas.types import RuleId, format_datetime
from schemas.types import Severity as SeverityName

FINDINGS_KEPT_DAYS = 730  # the scoring half-life is far shorter; older findings weigh ~0
FINDINGS_KEPT_MAX = 500
ALERTS_KEPT = timedelta(days=2)  # alerts group by day; the store keeps them all
ALERTS_PRUNE_EVERY = timedelta(hours=1)  # so an alert may outlive ALERTS_KEPT by this much


@dataclass(frozen=True)
class ScoreEvent:
    enterprise_id: str
    score: Score
    previous_tier: str | None
    trigger: str  # batch | activity | filing | daily
    computed_at: datetime

    @property
    def tier_changed(self) -> bool:
        return self.previous_tier is not None and self.previous_tier != self.score.tier

    def as_json(self) -> dict[str, Any]:
        return {
            "enterprise_id": self.enterprise_id,
            "credit": self.score.credit,
            "risk": self.score.risk,
            "tier": self.score.tier,
            "previous_tier": self.previous_tier,
            "trigger": self.trigger,
            "computed_at": format_datetime(self.computed_at),
            "config_version": self.score.config_version,
            "contributions": [c.model_dump() for c in self.score.contributions],
        }


# --- the profile ---------------------------------------------------------------------------
def record_transfer(profile: ScoringProfile, log: TransferLog, config: RulesConfig) -> None:
    year = calendar_year(log.ts, config.zone)
    if profile.year is None or year > profile.year:
        _new_year(profile, year)
    if profile.monitored_since is None or log.ts < profile.monitored_since:
        profile.monitored_since = log.ts
    if year < (profile.year or year):
        return  # a late log of a past year: its yearly figures are closed
    profile.logs += 1
    if log.received_at is not None and log.received_at - log.ts > config.declaration_deadline:
        profile.late_logs += 1
    if classes_of(log.categories).important:
        profile.important_transfers += 1
    profile.bytes_by_country[log.country] = profile.bytes_by_country.get(log.country, 0) + log.bytes


def _new_year(profile: ScoringProfile, year: int) -> None:
    profile.year = year
    profile.logs = profile.late_logs = profile.important_transfers = 0
    profile.bytes_by_country = {}
    profile.declared_bytes = profile.observed_bytes = 0


def record_window(profile: ScoringProfile, window: ClosedWindow, config: RulesConfig) -> None:
    if profile.year is None or calendar_year(window.start, config.zone) == profile.year:
        profile.declared_bytes += window.aggregate.declared_bytes
        profile.observed_bytes += window.aggregate.observed_bytes


def record_findings(profile: ScoringProfile, findings: Sequence[Finding]) -> None:
    """Remember a batch's findings of one enterprise (each once), then prune once."""
    kept = profile.findings  # oldest first
    known = {k[0] for k in kept}
    new: list[KeptFinding] = []
    for finding in findings:
        if finding.finding_id not in known:
            known.add(finding.finding_id)
            new.append((finding.finding_id, finding.rule_id, finding.severity, finding.ts))
    if not new:  # the kept ones are already ordered and pruned
        profile.resolved &= known
        return
    if not kept or min(n[3] for n in new) >= kept[-1][3]:
        kept.extend(sorted(new, key=kept_ts))  # the usual case: stably, as a full sort would
    else:
        kept.extend(new)
        kept.sort(key=kept_ts)
    horizon = kept[-1][3] - timedelta(days=FINDINGS_KEPT_DAYS)
    start = max(bisect_left(kept, horizon, key=kept_ts), len(kept) - FINDINGS_KEPT_MAX)
    if start > 0:
        profile.findings = kept[start:]
    if profile.resolved:
        profile.resolved &= {k[0] for k in profile.findings}


def finding_records(profile: ScoringProfile) -> tuple[FindingRecord, ...]:
    """The kept findings as the model sees them, each built once (again once resolved)."""
    cache, resolved = profile.records, profile.resolved
    records = []
    for finding_id, rule_id, severity, ts in profile.findings:
        record = cache.get(finding_id)
        is_resolved = finding_id in resolved
        if record is None or record.resolved != is_resolved:
            record = cache[finding_id] = FindingRecord.model_construct(  # our own findings:
                rule_id=cast(RuleId, rule_id),  # validated once already
                severity=cast(SeverityName, severity),
                ts=ts,
                resolved=is_resolved,
            )
        records.append(record)
    if len(cache) > 2 * len(records) + 64:  # pruned findings: let their records go
        profile.records = {f[0]: cache[f[0]] for f in profile.findings}
    return tuple(records)


def scoring_inputs(
    enterprise_id: str, state: EnterpriseState, engine: Engine, now: datetime
) -> ScoringInputs:
    """The model's inputs from the enterprise's state, its reference data and its filings."""
    profile = state.profile
    config = engine.config
    enterprise = engine.reference.enterprise(enterprise_id)
    valid = [
        f
        for f in engine.reference.filings_of(enterprise_id)
        if is_valid(f, now, validity_end(f, config.zone, config.assessment_validity_years))
    ]
    exported = set(profile.bytes_by_country)
    covered: set[str] = set()
    for filing in valid:
        covered |= set(filing.countries) if filing.countries else exported
    counters = state.years.get(profile.year) if profile.year is not None else None
    return ScoringInputs(
        enterprise_id=enterprise_id,
        is_ciio=enterprise.is_ciio,
        findings=finding_records(profile),
        valid_filings=len(valid),
        has_certification=any(f.kind == "certification" for f in valid),
        covered_destinations=frozenset(covered),
        logs=profile.logs,
        late_logs=profile.late_logs,
        subjects=counters.subjects if counters else 0,
        sensitive_subjects=counters.sensitive if counters else 0,
        important_transfers=profile.important_transfers,
        bytes_by_country=dict(profile.bytes_by_country),
        declared_bytes=profile.declared_bytes,
        observed_bytes=profile.observed_bytes,
        monitored_since=profile.monitored_since,
    )


class Supervisor:
    """Keeps profiles current and turns them into scores and alerts."""

    def __init__(
        self,
        engine: Engine,
        scoring: ScoringConfig,
        countries: CountryScores,
        min_interval: timedelta = timedelta(0),
    ) -> None:
        self.engine = engine
        self.scoring = scoring
        self.countries = countries
        self.min_interval = min_interval
        # Touched by plain activity and scored recently: re-scored by the caller's timer.
        self.deferred: set[str] = set()

    def rescore(self, enterprise_id: str, now: datetime, trigger: str) -> ScoreEvent:
        state = self.engine.state(enterprise_id)
        result = score(
            scoring_inputs(enterprise_id, state, self.engine, now),
            now,
            self.scoring,
            self.countries,
        )
        previous = state.profile.score
        state.profile.score = {
            "credit": result.credit,
            "risk": result.risk,
            "tier": result.tier,
            "computed_at": format_datetime(now),
        }
        return ScoreEvent(
            enterprise_id,
            result,
            str(previous["tier"]) if previous else None,
            trigger,
            now,
        )

    def tier(self, enterprise_id: str) -> str:
        held = self.engine.state(enterprise_id).profile.score
        return str(held["tier"]) if held else "C"  # unscored: neither trusted nor flagged

    def after_batch(
        self,
        transfers: list[TransferLog],
        windows: list[ClosedWindow],
        findings: list[Finding],
        touched: set[str],
        now: datetime,
        resolutions: Sequence[tuple[str, list[str]]] = (),
    ) -> tuple[list[ScoreEvent], list[Alert]]:
        config = self.engine.config
        for enterprise_id, finding_ids in resolutions:
            self.engine.state(enterprise_id).profile.resolved.update(finding_ids)
        for log in transfers:
            record_transfer(self.engine.state(log.enterprise_id).profile, log, config)
        for window in windows:
            record_window(self.engine.state(window.enterprise_id).profile, window, config)
        by_enterprise: dict[str, list[Finding]] = {}
        for finding in findings:
            by_enterprise.setdefault(finding.enterprise_id, []).append(finding)
        for enterprise_id, own in by_enterprise.items():
            record_findings(self.engine.state(enterprise_id).profile, own)
        # A responder's resolution shows at once; findings and windows, like plain activity,
        # at most `min_interval` later (scoring an enterprise with many findings every batch
        # cost more than the batch).
        urgent = {e for e, _ in resolutions}
        due = sorted(e for e in touched if e in urgent or not self._scored_since(e, now))
        self.deferred.update(touched.difference(due))
        self.deferred.difference_update(due)
        events = [self.rescore(e, now, "batch") for e in due]
        return events, self.alerts(findings, now)

    def _scored_since(self, enterprise_id: str, now: datetime) -> bool:
        """Scored within `min_interval` of `now` (so plain activity can wait for the timer)."""
        held = self.engine.state(enterprise_id).profile.score
        if not held or not self.min_interval:
            return False
        return now - datetime.fromisoformat(str(held["computed_at"])) < self.min_interval

    def alerts(self, findings: list[Finding], now: datetime) -> list[Alert]:
        """Raise or bump one alert per (enterprise, rule, day); prune those past ALERTS_KEPT.

        Only the alerts a batch bumps are parsed, and a profile is pruned at most every
        ALERTS_PRUNE_EVERY: after weeks of event time an enterprise holds hundreds of recent
        alerts, and parsing all of them per batch was most of a quiet worker's time.
        """
        raised: dict[str, Alert] = {}
        zone = self.engine.config.zone
        by_enterprise: dict[str, list[Finding]] = {}
        for finding in findings:
            by_enterprise.setdefault(finding.enterprise_id, []).append(finding)
        for enterprise_id, own in by_enterprise.items():
            profile = self.engine.state(enterprise_id).profile
            tier = self.tier(enterprise_id)
            bumps: dict[str, list[Raised]] = {}  # by alert, in the order first bumped
            for finding in own:
                severity, route = alert_for(finding.severity, tier, self.scoring)  # type: ignore[arg-type]
                key = alert_id(enterprise_id, finding.rule_id, alert_day(finding.ts, zone))
                bumps.setdefault(key, []).append((finding, severity, route))
            for key, bump in bumps.items():
                stored = profile.alerts.get(key)
                previous = Alert.model_validate_json(stored) if stored is not None else None
                alert = raised[key] = raise_alerts(previous, bump, tier, now, zone)
                profile.alerts[key] = alert.model_dump_json()
            prune_alerts(profile, now)
        return list(raised.values())


def prune_alerts(profile: ScoringProfile, now: datetime) -> None:
    """Drop the alerts not updated within ALERTS_KEPT, at most once every ALERTS_PRUNE_EVERY."""
    if profile.alerts_pruned_at is not None and now - profile.alerts_pruned_at < ALERTS_PRUNE_EVERY:
        return
    cutoff = now - ALERTS_KEPT
    profile.alerts = {
        key: raw
        for key, raw in profile.alerts.items()
        # our own JSON: the one field pruning needs, without validating the whole alert
        if datetime.fromisoformat(str(orjson.loads(raw)["updated_at"])) >= cutoff
    }
    profile.alerts_pruned_at = now
