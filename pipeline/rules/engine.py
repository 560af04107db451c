"""The engine: reference data and per-enterprise state behind one facade.

Still pure: records in, findings out, time taken from the records (and from the watermark the
caller passes). Replay drives it over files; the stream agents drive it over Kafka.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pipeline.config import RulesConfig
from pipeline.rules.findings import EvaluatedFinding
from pipeline.rules.prefixes import Address
from pipeline.rules.reconcile import evaluate_window
from pipeline.rules.reference import ReferenceIndex
from pipeline.rules.state import EnterpriseState, WindowAggregate
from pipeline.rules.transfers import TransferResult, evaluate_transfer
from pipeline.rules.years import window_start
from schemas.models import EgressFlow, TransferLog
from schemas.types import HOME_COUNTRY

CountryResolver = Callable[[Address], str | None]


def _no_geoip(_: Address) -> str | None:
    return None


class FlowFields(Protocol):
    """What attribution reads of a flow: an `EgressFlow`, or the fast path's `FlowFacts`."""

    @property
    def enterprise_id(self) -> str | None: ...
    @property
    def src_ip(self) -> Address: ...
    @property
    def dst_ip(self) -> Address: ...
    @property
    def dst_country(self) -> str | None: ...
    @property
    def ts_start(self) -> datetime: ...


@dataclass(frozen=True)
class AttributedFlow:
    """A flow's owner, destination and window, or why it has none (`outcome`)."""

    outcome: str  # reconciled | unattributed | unresolved_country | domestic
    enterprise_id: str | None = None
    country: str | None = None
    window_start: datetime | None = None


@dataclass(frozen=True)
class ClosedWindow:
    enterprise_id: str
    country: str
    start: datetime
    aggregate: WindowAggregate
    findings: list[EvaluatedFinding]


class Engine:
    """Evaluates transfers as they come and reconciles them with flows per window."""

    def __init__(
        self,
        reference: ReferenceIndex,
        config: RulesConfig,
        resolve_country: CountryResolver = _no_geoip,
        states: dict[str, EnterpriseState] | None = None,
    ) -> None:
        self.reference = reference
        self.config = config
        self.resolve_country = resolve_country
        self.states: dict[str, EnterpriseState] = states if states is not None else {}
        self.flow_outcomes: Counter[str] = Counter()
        self._minutes = config.reconciliation.window_minutes
        self._window = timedelta(minutes=self._minutes)
        self._grace = timedelta(hours=config.declaration_deadline_hours)

    def state(self, enterprise_id: str) -> EnterpriseState:
        found = self.states.get(enterprise_id)
        if found is None:
            found = self.states[enterprise_id] = EnterpriseState()
        return found

    def transfer(self, log: TransferLog) -> list[EvaluatedFinding]:
        """Evaluate a declared transfer (event-time order) and declare it to its window."""
        return self.transfer_result(log).findings

    def transfer_result(self, log: TransferLog) -> TransferResult:
        """`transfer`, with the path decision and whether it was a repeated `transfer_id`."""
        state = self.state(log.enterprise_id)
        result = evaluate_transfer(log, self.reference, state, self.config)
        if not result.duplicate:
            key = (log.country, window_start(log.ts, self._minutes))
            state.window(key).declare(log.bytes, log.categories)
        return result

    def attribute(self, flow: FlowFields) -> AttributedFlow:
        """Owner by `enterprise_id` or longest `egress_cidrs` prefix; country by GeoIP if absent."""
        enterprise_id = flow.enterprise_id or self.reference.attribute(flow.src_ip)
        if enterprise_id is None:
            return AttributedFlow("unattributed")
        country = flow.dst_country or self.resolve_country(flow.dst_ip)
        if country is None:
            return AttributedFlow("unresolved_country", enterprise_id)
        if country == HOME_COUNTRY:
            return AttributedFlow("domestic", enterprise_id, country)
        start = window_start(flow.ts_start, self._minutes)
        return AttributedFlow("reconciled", enterprise_id, country, start)

    def observe(
        self,
        enterprise_id: str,
        country: str,
        start: datetime,
        nbytes: int,
        flows: int,
        dlp_categories: Iterable[str],
    ) -> None:
        """Add observed egress (one flow, or a pre-aggregated batch of flows) to a window."""
        self.state(enterprise_id).window((country, start)).observe(nbytes, flows, dlp_categories)

    def flow(self, flow: EgressFlow) -> str:
        """Attribute a probe flow and add it to its window; returns what became of it."""
        placed = self.attribute(flow)
        if placed.outcome == "reconciled":
            assert placed.enterprise_id and placed.country and placed.window_start
            self.observe(
                placed.enterprise_id,
                placed.country,
                placed.window_start,
                flow.bytes_out,
                1,
                flow.dlp_categories,
            )
        self.flow_outcomes[placed.outcome] += 1
        return placed.outcome

    def close_windows(
        self, watermark: datetime, enterprises: Callable[[str], bool] | None = None
    ) -> list[ClosedWindow]:
        """Close every window whose end plus the grace period is at or before `watermark`.

        `enterprises` restricts closing to the enterprises a watermark speaks for (the stream
        keeps one watermark per partition).
        """
        due = watermark - self._window - self._grace
        return self._close(lambda start: start <= due, enterprises)

    def close_all(self) -> list[ClosedWindow]:
        """Close every open window (end of input in replay)."""
        return self._close(lambda _: True)

    def _close(
        self,
        is_due: Callable[[datetime], bool],
        enterprises: Callable[[str], bool] | None = None,
    ) -> list[ClosedWindow]:
        due: list[tuple[str, str, datetime]] = []
        for enterprise_id, state in self.states.items():  # cheap checks first: this is per batch
            earliest = state.earliest()
            if earliest is None or not is_due(earliest):
                continue  # `is_due` is monotonic in the start: nothing later is due either
            if enterprises is not None and not enterprises(enterprise_id):
                continue
            due.extend((enterprise_id, c, start) for c, start in state.windows if is_due(start))
            state.earliest_window = None  # recomputed when next asked
        closed: list[ClosedWindow] = []
        for enterprise_id, country, start in sorted(due):
            aggregate = self.states[enterprise_id].close_window((country, start))
            findings = evaluate_window(enterprise_id, country, start, aggregate, self.config)
            closed.append(ClosedWindow(enterprise_id, country, start, aggregate, findings))
        return closed
