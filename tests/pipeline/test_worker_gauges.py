"""The gauges a worker's timer refreshes from the states it holds."""

from __future__ import annotations

import orjson

from pipeline import metrics
from pipeline.settings import Settings
from pipeline.worker import WorkerContext


def alert(severity: str, tier: str = "B") -> str:
    return orjson.dumps({"severity": severity, "tier": tier, "count": 1}).decode()


def open_alerts(severity: str, tier: str = "B") -> float:
    value: float = metrics.ALERTS_OPEN.labels(severity, tier)._value.get()
    return value


def test_open_alert_gauges_follow_bumps_and_pruning() -> None:
    ctx = WorkerContext(Settings())
    profile = ctx.engine.state("E1").profile
    profile.score = {"tier": "B"}
    profile.alerts = {"a1": alert("low"), "a2": alert("low"), "a3": alert("high")}
    ctx.update_gauges(lambda _: True)
    assert (open_alerts("low"), open_alerts("high")) == (2, 1)
    # A bump replaces an alert's JSON: the gauges read the new one, not what they read before.
    profile.alerts["a2"] = alert("critical")
    ctx.update_gauges(lambda _: True)
    assert (open_alerts("low"), open_alerts("critical")) == (1, 1)
    profile.alerts = {"a3": profile.alerts["a3"]}  # pruned
    ctx.update_gauges(lambda _: True)
    assert (open_alerts("low"), open_alerts("critical"), open_alerts("high")) == (0, 0, 1)
    ctx.update_gauges(lambda enterprise_id: enterprise_id != "E1")  # not ours any more
    assert open_alerts("high") == 0
