"""`xbmon replay DIR --stream`: the replay files through a broker and the real workers.

Prints exactly what offline replay prints when the stream is right: the offline engine is the
stream's oracle. Order of feeding: reference data (waited for), flows (waited for), transfer
logs in event-time order (waited for), then a watermark at the end of time on every partition
so the stream, like replay, closes every window at the end of input.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from pipeline.embedded import Stack, all_partitions, wait_until
from pipeline.flow_aggregates import watermark_message
from pipeline.replay import ReplayResult, load_dir, sort_findings
from pipeline.topics import EGRESS_FLOWS, FLOW_AGGREGATES, TRANSFER_LOGS
from pipeline.wire import encode_batch
from schemas.models import EgressFlow, Finding, TransferLog

END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)
RECORDS_PER_MESSAGE = 50

Message = tuple[str, bytes | None, bytes | None, int | None]


def batched(records: Sequence[BaseModel], size: int) -> Iterator[bytes]:
    for start in range(0, len(records), size):
        yield encode_batch(list(records[start : start + size]))


def log_messages(logs: list[TransferLog], per_message: int = RECORDS_PER_MESSAGE) -> list[Message]:
    """Logs in event-time order, batched per enterprise (its order is all that matters)."""
    per_enterprise: dict[str, list[TransferLog]] = defaultdict(list)
    for log in sorted(logs, key=lambda log: (log.ts, log.transfer_id)):
        per_enterprise[log.enterprise_id].append(log)
    return [
        (TRANSFER_LOGS.name, enterprise.encode(), value, None)
        for enterprise, records in sorted(per_enterprise.items())
        for value in batched(records, per_message)
    ]


def flow_messages(flows: list[EgressFlow]) -> list[Message]:
    per_probe: dict[str, list[EgressFlow]] = defaultdict(list)
    for flow in flows:
        per_probe[flow.probe_id].append(flow)
    return [
        (EGRESS_FLOWS.name, probe.encode(), value, None)
        for probe, records in sorted(per_probe.items())
        for value in batched(records, RECORDS_PER_MESSAGE)
    ]


def stream_replay(
    directory: Path,
    rules_path: Path | None = None,
    partitions: int = 4,
    timeout: float = 120.0,
    work_dir: Path | None = None,
) -> ReplayResult:
    loaded, errors = load_dir(directory)
    with tempfile.TemporaryDirectory(prefix="xbmon-stream-") as scratch:
        stack = Stack(
            work_dir or Path(scratch),
            partitions=partitions,
            store=False,
            rules_path=rules_path,
            # Replay closes windows at the end of input, not as event time passes.
            extra_env={"XBMON_WINDOWS_CLOSE": "end_of_input"},
        )
        with stack:
            stack.start(workers=1)
            findings = _run(stack, loaded, partitions, timeout)
    return ReplayResult(findings=findings, errors=errors)


def _run(
    stack: Stack, loaded: dict[str, list[BaseModel]], partitions: int, timeout: float
) -> list[Finding]:
    stack.publish_reference(
        loaded["enterprises.jsonl"] + loaded["filings.jsonl"] + loaded["negative_list.jsonl"],
        timeout,
    )

    flows = [f for f in loaded["flows.jsonl"] if isinstance(f, EgressFlow)]
    stack.produce(flow_messages(flows))
    wait_until(
        lambda: (
            stack.metric("xbmon_events_total", topic=EGRESS_FLOWS.name) >= len(flows)
            and stack.metric("xbmon_events_total", topic=FLOW_AGGREGATES.name, outcome="evaluated")
            >= stack.metric("xbmon_flow_aggregates_sent_total")
        ),
        timeout,
        "flows to be attributed and aggregated",
    )

    logs = [log for log in loaded["transfer_logs.jsonl"] if isinstance(log, TransferLog)]
    stack.produce(log_messages(logs))
    wait_until(
        lambda: stack.metric("xbmon_events_total", topic=TRANSFER_LOGS.name) >= len(logs),
        timeout,
        "transfer logs to be evaluated",
    )

    stack.produce(all_partitions(FLOW_AGGREGATES.name, partitions, watermark_message(END_OF_TIME)))
    wait_until(
        lambda: (
            stack.metric("xbmon_events_total", topic=FLOW_AGGREGATES.name, outcome="watermark")
            >= partitions
            and stack.metric("xbmon_open_windows") == 0
        ),
        timeout,
        "every window to close",
    )
    expected = int(stack.metric("xbmon_findings_total"))
    return sort_findings(stack.wait_for_findings(expected, timeout))
