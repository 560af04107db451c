"""Flows attributed and pre-aggregated per enterprise, country and window, for re-keying.

Probes key flows by probe; reconciliation needs them where the enterprise's state lives. The
flow agent folds a batch of flows into one share per enterprise (this module's format,
internal to xbmon) and sends `egress.flows.attributed` the shares of each partition packed in
one message (a JSON array of shares naming their enterprise), to the partition their
`enterprise_id`s hash to. One message per enterprise cost the agent most of its time at half
load: a paced batch touches most enterprises, and a Faust send is ~50 µs; the consumer paid
per message again. A share alone (an object, its enterprise the message key) is read too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from pipeline.fast_decode import FlowFacts
from pipeline.rules.engine import Engine
from pipeline.wire import json_arrays
from schemas.types import format_datetime

KIND_OBSERVED = "observed"
KIND_WATERMARK = "watermark"


@dataclass
class Observed:
    nbytes: int = 0
    flows: int = 0
    dlp: set[str] = field(default_factory=set)


Source = tuple[int, int]  # partition and offset of the probe message the flows came in


@dataclass
class EnterpriseFlows:
    """One enterprise's share of a flow batch, kept apart per source message.

    A worker that takes over a partition re-reads the probe messages its predecessor had not
    committed, and re-sends their aggregates; the receiver applies each source message once
    (offsets only grow within a source partition), however the batches were cut.
    """

    units: dict[Source, dict[tuple[str, datetime], Observed]] = field(default_factory=dict)
    max_ts: datetime | None = None

    def encode(self, enterprise_id: str | None = None) -> bytes:
        """The share as a message of its own (keyed by its enterprise), or named for a pack."""
        named = {"enterprise_id": enterprise_id} if enterprise_id is not None else {}
        return orjson.dumps(
            {
                **named,
                "kind": KIND_OBSERVED,
                "max_ts": format_datetime(self.max_ts) if self.max_ts else None,
                "units": [
                    [
                        partition,
                        offset,
                        [
                            [country, format_datetime(start), o.nbytes, o.flows, sorted(o.dlp)]
                            for (country, start), o in sorted(windows.items())
                        ],
                    ]
                    for (partition, offset), windows in sorted(self.units.items())
                ],
            }
        )


def aggregate_flows(
    engine: Engine, flows: list[tuple[FlowFacts, Source]]
) -> tuple[dict[str, EnterpriseFlows], Counter[str]]:
    """Attribute and fold flows; returns per-enterprise aggregates and outcome counts."""
    by_enterprise: dict[str, EnterpriseFlows] = {}
    outcomes: Counter[str] = Counter()
    for flow, source in flows:
        placed = engine.attribute(flow)
        outcomes[placed.outcome] += 1
        if placed.outcome != "reconciled":
            continue
        assert placed.enterprise_id and placed.country and placed.window_start
        share = by_enterprise.setdefault(placed.enterprise_id, EnterpriseFlows())
        windows = share.units.setdefault(source, {})
        observed = windows.setdefault((placed.country, placed.window_start), Observed())
        observed.nbytes += flow.bytes_out
        observed.flows += 1
        observed.dlp.update(flow.dlp_categories)
        if share.max_ts is None or flow.ts_end > share.max_ts:
            share.max_ts = flow.ts_end
    return by_enterprise, outcomes


def packed_messages(
    by_enterprise: dict[str, EnterpriseFlows], partition_of: Callable[[str], int]
) -> Iterator[tuple[int, bytes, bytes]]:
    """(partition, key, value): each partition's shares in as few messages as fit the limit.

    Shares keep the enterprises' sorted order within a partition; the key is the partition's
    first enterprise (it hashes to that partition; a pack names each share's enterprise).
    """
    by_partition: dict[int, list[tuple[str, bytes]]] = {}
    for enterprise_id, share in sorted(by_enterprise.items()):
        encoded = share.encode(enterprise_id)
        by_partition.setdefault(partition_of(enterprise_id), []).append((enterprise_id, encoded))
    for partition, shares in sorted(by_partition.items()):
        key = shares[0][0].encode()
        for value in json_arrays([encoded for _, encoded in shares]):
            yield partition, key, value


def watermark_message(ts: datetime) -> bytes:
    """A control record: event time has reached `ts` (closes due windows; replay's flush)."""
    return orjson.dumps({"kind": KIND_WATERMARK, "max_ts": format_datetime(ts)})


WindowShare = tuple[str, datetime, int, int, list[str]]  # country, start, bytes, flows, dlp


@dataclass(frozen=True)
class AggregateMessage:
    kind: str
    max_ts: datetime | None
    units: list[tuple[int, int, list[WindowShare]]]  # source partition, offset, windows
    enterprise_id: str | None = None  # named in a pack; alone, the message key names it


def decode_aggregates(raw: bytes) -> list[AggregateMessage]:
    """Parse an internal aggregate message (a share, a pack, a watermark); ValueError if bad."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid flow aggregate message: {exc!r}") from exc
    if isinstance(document, list):
        shares = [_aggregate(item) for item in document]
        if any(share.enterprise_id is None for share in shares):
            raise ValueError("invalid flow aggregate message: a packed share without enterprise_id")
        return shares
    return [_aggregate(document)]


def _aggregate(document: object) -> AggregateMessage:
    try:
        if not isinstance(document, dict):
            raise TypeError("not a JSON object")
        enterprise_id = document.get("enterprise_id")
        if enterprise_id is not None and not isinstance(enterprise_id, str):
            raise TypeError("enterprise_id is not a string")
        kind = document["kind"]
        max_ts = datetime.fromisoformat(document["max_ts"]) if document.get("max_ts") else None
        units = [
            (
                int(partition),
                int(offset),
                [
                    (str(c), datetime.fromisoformat(s), int(b), int(n), [str(x) for x in d])
                    for c, s, b, n, d in windows
                ],
            )
            for partition, offset, windows in document.get("units", [])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"invalid flow aggregate message: {exc!r}") from exc
    if kind not in (KIND_OBSERVED, KIND_WATERMARK):
        raise ValueError(f"invalid flow aggregate message: kind {kind!r}")
    return AggregateMessage(kind, max_ts, units, enterprise_id)
