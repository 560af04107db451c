"""The live terminal view of `xbmon up`: rates, findings by rule, dead letters, lag, latency."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from pipeline.metrics_client import Samples, by_label, histogram_buckets, total
from pipeline.topics import EGRESS_FLOWS, TRANSFER_LOGS
from pipeline.views import SEVERITY_ORDER, SEVERITY_STYLE


def histogram_quantile(samples: Samples, name: str, q: float) -> float | None:
    """Prometheus-style quantile from cumulative buckets (linear within a bucket)."""
    buckets = histogram_buckets(samples, name)
    if not buckets:
        return None
    bounds = sorted(buckets)
    count = buckets[bounds[-1]]
    if count == 0:
        return None
    rank = q * count
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower
            span = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / span if span else 1.0)
        lower, below = bound, buckets[bound]
    return lower


@dataclass
class LiveState:
    started: float = field(default_factory=time.monotonic)
    last: dict[str, float] = field(default_factory=dict)
    last_at: float = field(default_factory=time.monotonic)
    rates: dict[str, float] = field(default_factory=dict)

    def update_rates(self, current: dict[str, float]) -> None:
        now = time.monotonic()
        elapsed = max(now - self.last_at, 1e-6)
        self.rates = {k: (v - self.last.get(k, 0.0)) / elapsed for k, v in current.items()}
        self.last, self.last_at = dict(current), now


def summary_counts(samples: Samples) -> dict[str, float]:
    return {
        "transfers": total(
            samples, "xbmon_events_total", topic=TRANSFER_LOGS.name, outcome="evaluated"
        ),
        "flows": total(samples, "xbmon_events_total", topic=EGRESS_FLOWS.name, outcome="evaluated"),
        "findings": total(samples, "xbmon_findings_total"),
        "deadletter": total(samples, "xbmon_deadletters_total"),
    }


def render(samples: Samples, produced: dict[str, int], state: LiveState, workers: int) -> Group:
    counts = summary_counts(samples)
    state.update_rates(counts)
    consumed_logs = total(samples, "xbmon_events_total", topic=TRANSFER_LOGS.name)
    consumed_flows = total(samples, "xbmon_events_total", topic=EGRESS_FLOWS.name)

    flow = Table(title="Stream", expand=True)
    for column in ("", "produced", "processed", "per second", "lag (records)"):
        flow.add_column(column, justify="right" if column else "left")
    flow.add_row(
        "transfer logs",
        f"{produced.get(TRANSFER_LOGS.name, 0):,}",
        f"{counts['transfers']:,.0f}",
        f"{state.rates.get('transfers', 0):,.0f}",
        f"{max(0, produced.get(TRANSFER_LOGS.name, 0) - consumed_logs):,.0f}",
    )
    flow.add_row(
        "probe flows",
        f"{produced.get(EGRESS_FLOWS.name, 0):,}",
        f"{counts['flows']:,.0f}",
        f"{state.rates.get('flows', 0):,.0f}",
        f"{max(0, produced.get(EGRESS_FLOWS.name, 0) - consumed_flows):,.0f}",
    )
    flow.add_row(
        "findings", "", f"{counts['findings']:,.0f}", f"{state.rates.get('findings', 0):,.1f}", ""
    )
    flow.add_row("dead letters", "", f"{counts['deadletter']:,.0f}", "", "")

    rules = Table(title="Findings by rule", expand=True)
    rules.add_column("severity")
    rules.add_column("rule")
    rules.add_column("count", justify="right")
    by_rule: dict[tuple[str, str], float] = {}
    for (name, labels), value in samples.items():
        if name == "xbmon_findings_total":
            d = dict(labels)
            by_rule[(d["severity"], d["rule"])] = value
    for (severity, rule), value in sorted(
        by_rule.items(), key=lambda kv: (SEVERITY_ORDER.index(kv[0][0]), kv[0][1])
    ):
        rules.add_row(f"[{SEVERITY_STYLE[severity]}]{severity}[/]", rule, f"{value:,.0f}")

    p50 = histogram_quantile(samples, "xbmon_processing_latency_seconds", 0.5)
    p99 = histogram_quantile(samples, "xbmon_processing_latency_seconds", 0.99)
    dead = by_label(samples, "xbmon_deadletters_total", "reason")
    footer = (
        f"workers {workers} · open windows {total(samples, 'xbmon_open_windows'):,.0f} · "
        f"latency p50 {_ms(p50)} p99 {_ms(p99)} · dead letters "
        + (", ".join(f"{k} {v:,.0f}" for k, v in sorted(dead.items()) if v) or "none")
        + f" · up {time.monotonic() - state.started:,.0f} s · Ctrl-C stops"
    )
    return Group(flow, rules, Panel(footer, expand=True))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f} ms"
