"""The engine: reference data, per-enterprise state and open windows behind one facade.

Still pure: records in, findings out, time taken from the records (and from the watermark the
caller passes). Replay drives it over files; the stream agents drive it over Kafka.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from pipeline.config import RulesConfig
from pipeline.rules.findings import EvaluatedFinding
from pipeline.rules.prefixes import Address
from pipeline.rules.reconcile import WindowAggregate, WindowKey, evaluate_window
from pipeline.rules.reference import ReferenceIndex
from pipeline.rules.state import EnterpriseState
from pipeline.rules.transfers import evaluate_transfer
from pipeline.rules.years import window_start
from schemas.models import EgressFlow, TransferLog
from schemas.types import HOME_COUNTRY

CountryResolver = Callable[[Address], str | None]


def _no_geoip(_: Address) -> str | None:
    return None


class Engine:
    """Evaluates transfers as they come and reconciles them with flows per window."""

    def __init__(
        self,
        reference: ReferenceIndex,
        config: RulesConfig,
        resolve_country: CountryResolver = _no_geoip,
    ) -> None:
        self.reference = reference
        self.config = config
        self.resolve_country = resolve_country
        self.states: dict[str, EnterpriseState] = {}
        self.windows: dict[WindowKey, WindowAggregate] = {}
        self.flow_outcomes: Counter[str] = Counter()
        self._window = timedelta(minutes=config.reconciliation.window_minutes)
        self._grace = timedelta(hours=config.declaration_deadline_hours)

    def state(self, enterprise_id: str) -> EnterpriseState:
        found = self.states.get(enterprise_id)
        if found is None:
            found = self.states[enterprise_id] = EnterpriseState()
        return found

    def transfer(self, log: TransferLog) -> list[EvaluatedFinding]:
        """Evaluate a declared transfer (event-time order) and declare it to its window."""
        result = evaluate_transfer(log, self.reference, self.state(log.enterprise_id), self.config)
        if not result.duplicate:
            key = (log.enterprise_id, log.country, window_start(log.ts, self._minutes))
            self._aggregate(key).declare(log.bytes, log.categories)
        return result.findings

    def flow(self, flow: EgressFlow) -> str:
        """Attribute a probe flow and add it to its window; returns what became of it."""
        enterprise_id = flow.enterprise_id or self.reference.attribute(flow.src_ip)
        country = flow.dst_country or self.resolve_country(flow.dst_ip)
        if enterprise_id is None:
            outcome = "unattributed"
        elif country is None:
            outcome = "unresolved_country"
        elif country == HOME_COUNTRY:
            outcome = "domestic"
        else:
            key = (enterprise_id, country, window_start(flow.ts_start, self._minutes))
            self._aggregate(key).observe(flow.bytes_out, flow.dlp_categories)
            outcome = "reconciled"
        self.flow_outcomes[outcome] += 1
        return outcome

    def close_windows(self, watermark: datetime) -> list[EvaluatedFinding]:
        """Close every window whose end plus the grace period is at or before `watermark`."""
        due = [k for k in self.windows if k[2] + self._window + self._grace <= watermark]
        return self._close(due)

    def close_all(self) -> list[EvaluatedFinding]:
        """Close every open window (end of input in replay)."""
        return self._close(list(self.windows))

    @property
    def _minutes(self) -> int:
        return self.config.reconciliation.window_minutes

    def _aggregate(self, key: WindowKey) -> WindowAggregate:
        found = self.windows.get(key)
        if found is None:
            found = self.windows[key] = WindowAggregate()
        return found

    def _close(self, keys: list[WindowKey]) -> list[EvaluatedFinding]:
        findings: list[EvaluatedFinding] = []
        for key in sorted(keys):
            findings.extend(evaluate_window(key, self.windows.pop(key), self.config))
        return findings
