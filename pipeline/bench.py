"""`xbmon bench`: the real worker against the transport limit, measured in one run.

Phases, on one embedded broker and the real stack (workers, store writer, chDB):
1. reference data published (the synthesised world's, padded to `--enterprises`/`--filings`);
2. a backlog of probe flows, then one of transfer logs, each drained by the workers: the rate
   is read from the records they have processed (`xbmon_events_total`) between 10 % and 90 %
   of the backlog, so start-up and the producer's own time are left out;
3. the baseline: a bare aiokafka consumer reading and orjson-decoding the same messages;
4. paced load at half and at full measured capacity: latency from each record's production to
   its evidence row being stored (the store writer's trace), into HdrHistograms;
5. off-stream: store inserts per second into chDB, and matching cost with 1k vs 100k filings.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import ip_network
from itertools import chain, islice, pairwise
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
from hdrh.histogram import HdrHistogram
from kafka import KafkaAdminClient, TopicPartition
from pydantic import BaseModel
from stdnum.cn import uscc

from pipeline.embedded import Stack
from pipeline.loadgen import message_key, shifted_timeline
from pipeline.metrics_client import histogram_buckets, total
from pipeline.synth import World, synthesize
from pipeline.topics import EGRESS_FLOWS, EVIDENCE_ROWS, TRANSFER_LOGS
from schemas.models import EgressFlow, Enterprise, Filing, NegativeListEntry, TransferLog

Record = TransferLog | EgressFlow
R = TypeVar("R", TransferLog, EgressFlow)
Produced = tuple[str, bytes, bytes]  # topic, key, value
Encoded = tuple[tuple[str, str], bytes]  # (topic, key), one record's JSON
MAX_LATENCY_MS = 600_000


@dataclass
class BenchOptions:
    data_dir: Path
    duration_s: float = 10.0  # per paced (latency) phase
    records_per_message: int = 100
    enterprises: int = 200
    filings: int | None = None
    workers: int = 1
    flows: int = 200_000
    logs: int = 100_000
    partitions: int = 4
    seed: int = 1
    active: int = 200  # enterprises of the synthesised world that send traffic
    store_rows: int = 200_000  # rows of the chDB insert measurement
    matching_filings: tuple[int, ...] = (1_000, 100_000)  # reference sizes of the matching cost
    linger_s: float = 0.5  # paced load: a key's records wait at most this long for a message
    latency_rates: tuple[float, ...] = ()  # records/s of extra paced phases at fixed rates
    broker_rtt_ms: float = 0.0  # the broker behind a proxy adding this round trip


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    count: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        histogram = HdrHistogram(1, MAX_LATENCY_MS, 3)
        for sample in samples:
            histogram.record_value(min(MAX_LATENCY_MS, max(1, round(sample))))
        return cls(
            float(histogram.get_value_at_percentile(50)),
            float(histogram.get_value_at_percentile(99)),
            float(histogram.get_max_value()),
            len(samples),
        )


@dataclass
class BenchResult:
    workers: int
    records_per_message: int
    enterprises: int
    filings: int
    flows_rps: float = 0.0
    logs_rps: float = 0.0
    broker_rtt_ms: float = 0.0
    baseline_flows_rps: float = 0.0
    baseline_logs_rps: float = 0.0
    half: Latency | None = None
    full: Latency | None = None
    half_findings: Latency | None = None
    rss_mb: float = 0.0
    store_catch_up_s: float = 0.0  # after the backlogs, until the store writer had everything
    store_rows_per_s: float = 0.0  # JSON arrays, as the store writer inserts them
    store_columns_per_s: float = 0.0  # rows/s of the columnar insert alone
    matching_us: dict[str, float] = field(default_factory=dict)
    latency_at: dict[str, Latency] = field(default_factory=dict)  # by fixed rate, records/s
    # Per backlog: CPU µs per record of each part of the stack, up to the store having it all
    # (steadier than rates on shared cores, and where the cores go), and the writer's batching.
    cpu_us: dict[str, dict[str, float]] = field(default_factory=dict)
    rows_per_insert: dict[str, float] = field(default_factory=dict)
    # Per backlog: the backlog was still being produced when 90 % of it had been processed,
    # so its rate is the producer's, a lower bound of the workers'.
    producer_bound: dict[str, bool] = field(default_factory=dict)
    # Per backlog and the half-load phase: the workers' wall time a record in each agent's
    # batch stages (`xbmon_batch_stage_seconds`), by "agent.stage", and in the cyclic GC's
    # pauses (`xbmon_gc_seconds`), by "gc.generation".
    stage_us: dict[str, dict[str, float]] = field(default_factory=dict)
    # Half load, transfer-log messages: where their latency builds, as histogram bucket bounds
    # in ms ("take": age when the agent takes them in; "acked": when their output is acked).
    half_waits_ms: dict[str, float | None] = field(default_factory=dict)

    @property
    def baseline_rps(self) -> float:
        return min(self.baseline_flows_rps, self.baseline_logs_rps)

    def summary(self) -> dict[str, Any]:
        half = self.half or Latency(0, 0, 0, 0)
        full = self.full or Latency(0, 0, 0, 0)
        return {
            "workers": self.workers,
            "records_per_message": self.records_per_message,
            "enterprises": self.enterprises,
            "filings": self.filings,
            "broker_rtt_ms": self.broker_rtt_ms,
            "flows_rps": round(self.flows_rps),
            "logs_rps": round(self.logs_rps),
            "baseline_rps": round(self.baseline_rps),
            "baseline_flows_rps": round(self.baseline_flows_rps),
            "baseline_logs_rps": round(self.baseline_logs_rps),
            "ratio_flows": _ratio(self.flows_rps, self.baseline_flows_rps),
            "ratio_logs": _ratio(self.logs_rps, self.baseline_logs_rps),
            "p50_ms": half.p50_ms,
            "p99_ms": half.p99_ms,
            "max_ms": half.max_ms,
            "full_p50_ms": full.p50_ms,
            "full_p99_ms": full.p99_ms,
            "full_max_ms": full.max_ms,
            "latency_samples": half.count + full.count,
            "findings_p99_ms": self.half_findings.p99_ms if self.half_findings else None,
            "rss_mb": round(self.rss_mb, 1),
            "store_rows_per_s": round(self.store_rows_per_s),
            "store_columns_rows_per_s": round(self.store_columns_per_s),
            "store_catch_up_s": round(self.store_catch_up_s, 1),
            "matching_us": self.matching_us,
            "cpu_us": self.cpu_us,
            "rows_per_insert": self.rows_per_insert,
            "producer_bound": self.producer_bound,
            "stage_us": self.stage_us,
            "half_waits_ms": self.half_waits_ms,
            "latency_at": {
                rate: {"p50_ms": at.p50_ms, "p99_ms": at.p99_ms, "max_ms": at.max_ms}
                for rate, at in self.latency_at.items()
            },
        }


def _ratio(ours: float, baseline: float) -> float:
    return round(ours / baseline, 3) if baseline else 0.0


# --- the load ----------------------------------------------------------------------------------
def load_world(options: BenchOptions) -> tuple[World, list[BaseModel]]:
    """The synthesised world that sends traffic, and the reference data padded around it."""
    world = synthesize(min(options.active, options.enterprises), 7, seed=options.seed)
    return world, padded_reference(world, options.enterprises, options.filings)


def padded_reference(world: World, enterprises: int, filings: int | None) -> list[BaseModel]:
    """The world's reference data plus idle enterprises (one /28 each) and extra filings."""
    records: list[BaseModel] = [*world.enterprises]
    extra_enterprises: list[Enterprise] = []
    template = world.enterprises[0]
    for index in range(max(0, enterprises - len(world.enterprises))):
        base = f"91{index:015d}"[:17]
        network = f"10.{(index >> 12) & 255}.{(index >> 4) & 255}.{(index & 15) << 4}/28"
        extra_enterprises.append(
            template.model_copy(
                update={
                    "enterprise_id": base + uscc.calc_check_digit(base),
                    "name": f"idle {index}",
                    "egress_cidrs": [ip_network(network)],
                }
            )
        )
    records.extend(extra_enterprises)
    records.extend(world.filings)
    wanted = (filings or len(world.filings)) - len(world.filings)
    owners = extra_enterprises or world.enterprises
    templates = world.filings
    for index in range(max(0, wanted)):
        model: Filing = templates[index % len(templates)]
        records.append(
            model.model_copy(
                update={
                    "filing_id": f"PAD-{index:07d}",
                    "enterprise_id": owners[index % len(owners)].enterprise_id,
                }
            )
        )
    records.extend(world.negative_list)
    return records


def timeline(world: World, kind: type[R], start_loop: int = 0) -> Iterator[R]:
    """The world's records of one kind in event-time order, repeated with fresh ids forever."""
    first = min(log.ts for log in world.logs)
    span = (max(log.ts for log in world.logs) - first) + timedelta(days=1)
    loop = start_loop
    while True:
        yield from cast(Iterator[R], shifted_timeline(world, loop, span, (kind,)))
        loop += 1


def batched(records: Iterator[Record], count: int, per_message: int) -> list[Produced]:
    """`count` records as messages of up to `per_message` records of one key each."""
    buffers: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    out: list[Produced] = []
    for _ in range(count):
        record = next(records)
        key = message_key(record)
        buffer = buffers[key]
        buffer.append(record.model_dump_json().encode())
        if len(buffer) >= per_message:
            out.append((key[0], key[1].encode(), b"[" + b",".join(buffer) + b"]"))
            buffer.clear()
    for (topic, owner), buffer in buffers.items():
        if buffer:
            out.append((topic, owner.encode(), b"[" + b",".join(buffer) + b"]"))
    return out


def _records_in(value: bytes) -> int:
    return value.count(b"},{") + 1  # our own encoding: one array of flat-keyed objects


# --- measuring -------------------------------------------------------------------------------
class Offsets:
    """Committed offsets of the workers' group, read through one admin client."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.group = group

    def committed(self, topic: str, partitions: int) -> dict[int, int]:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        found = self.admin.list_group_offsets({self.group: tps}).get(self.group, {})
        return {tp.partition: max(0, meta.offset) for tp, meta in found.items()}

    def close(self) -> None:
        self.admin.close()


def produce(stack: Stack, messages: Sequence[Produced]) -> dict[int, list[int]]:
    """Send messages; return, per partition, the records held by each offset (in order)."""
    futures = [
        (stack.producer.send(topic, key=key, value=value), _records_in(value))
        for topic, key, value in messages
    ]
    stack.producer.flush()
    per_offset: dict[int, dict[int, int]] = defaultdict(dict)
    for future, records in futures:
        meta = future.get(timeout=30)
        per_offset[meta.partition][meta.offset] = records
    return {p: [held[o] for o in sorted(held)] for p, held in per_offset.items()}


def drain_rate(progress: Callable[[], float], total: int, timeout: float) -> tuple[float, float]:
    """Records/s between 10 % and 90 % of a backlog's `total` records being processed, and
    when the 90 % mark was crossed (monotonic time). Start it before the backlog is sent.

    `progress` is what the workers have processed of it so far (their `xbmon_events_total`
    for the topic: it moves with every batch). Committed offsets, read before, move once a
    commit interval (1 s), and polling began only once the backlog was sent: a backlog that
    drained while it was produced crossed both marks before the first poll, and the flows
    rate read up to 490k records/s behind a slow link. Crossings are interpolated between
    the two polls around them.
    """
    marks: list[tuple[float, float]] = [(time.monotonic(), max(0.0, progress()))]
    deadline = marks[0][0] + timeout
    while marks[-1][1] < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"backlog not drained within {timeout:.0f} s")
        time.sleep(0.1)
        marks.append((time.monotonic(), max(marks[-1][1], progress())))  # a failed scrape: 0
    low, high = crossing(marks, total * 0.1), crossing(marks, total * 0.9)
    return total * 0.8 / max(1e-3, high - low), high


def produce_in_background(
    stack: Stack, messages: Sequence[Produced]
) -> Callable[[float], tuple[dict[int, list[int]], float]]:
    """Start sending a backlog; the returned call waits for it: (`produce`'s result, when
    the last message was acknowledged, monotonic)."""
    done: list[tuple[dict[int, list[int]], float]] = []
    sender = threading.Thread(
        target=lambda: done.append((produce(stack, messages), time.monotonic())),
        name="xbmon-bench-backlog",
        daemon=True,
    )
    sender.start()

    def wait(timeout: float) -> tuple[dict[int, list[int]], float]:
        sender.join(timeout)
        if not done:
            raise RuntimeError("the backlog was not produced (see the log above)")
        return done[0]

    return wait


def crossing(marks: Sequence[tuple[float, float]], level: float) -> float:
    """When a non-decreasing series of (time, value) marks reached `level`, interpolated."""
    for (t0, v0), (t1, v1) in pairwise(marks):
        if v1 >= level:
            return t0 + (t1 - t0) * (level - v0) / (v1 - v0) if v1 > v0 else t1
    raise ValueError(f"the marks never reach {level}")


def events_processed(stack: Stack, topic: str) -> float:
    """Records of `topic` the live workers have consumed so far (every outcome)."""
    return total(stack.metrics(), "xbmon_events_total", topic=topic)


def baseline(bootstrap: str, topic: str, ends: dict[int, int], start: dict[int, int]) -> float:
    """Records/s a bare aiokafka consumer reads and decodes (orjson) from `start` to `ends`."""
    from aiokafka import AIOKafkaConsumer

    async def run() -> float:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in ends]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, start.get(tp.partition, 0))
            remaining = {p for p in ends if ends[p] > start.get(p, 0)}
            records = 0
            began = time.perf_counter()
            while remaining:
                batch = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, messages in batch.items():
                    for message in messages:
                        decoded = orjson.loads(message.value or b"[]")
                        records += len(decoded) if isinstance(decoded, list) else 1
                        if message.offset + 1 >= ends[tp.partition]:
                            remaining.discard(tp.partition)
            return records / (time.perf_counter() - began)
        finally:
            await consumer.stop()

    return asyncio.run(run())


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a live process has used so far; 0 if it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def stack_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each part of the stack (the workers summed)."""
    return {
        "worker": sum(cpu_seconds(w.process.pid) for w in stack.live_workers()),
        "writer": cpu_seconds(stack.writer.process.pid if stack.writer else None),
        "broker": cpu_seconds(stack.broker.pid if stack.broker else None),
    }


def writer_totals(stack: Stack) -> tuple[float, float]:
    """Rows the store writer has stored so far, and in how many inserts (one scrape)."""
    if stack.writer is None:
        return 0.0, 0.0
    samples = stack.writer.metrics()
    return total(samples, "xbmon_store_rows_total"), total(samples, "xbmon_store_inserts_total")


def stage_seconds(stack: Stack) -> dict[str, float]:
    """Seconds the workers have spent so far in each agent's batch stages, by "agent.stage",
    and in the cyclic GC's pauses, by "gc.generation" (the loop stands still in both)."""
    stages: dict[str, float] = {}
    for (name, pairs), value in stack.metrics().items():
        labels = dict(pairs)
        if name == "xbmon_batch_stage_seconds_sum":
            stages[f"{labels['agent']}.{labels['stage']}"] = value
        elif name == "xbmon_gc_seconds_sum":
            stages[f"gc.{labels['generation']}"] = value
    return dict(sorted(stages.items()))


WAIT_HISTOGRAMS = {"take": "xbmon_take_age_seconds", "acked": "xbmon_processing_latency_seconds"}


def log_waits(stack: Stack) -> dict[str, dict[float, float]]:
    """The workers' wait histograms for transfer-log messages, as cumulative counts by bound."""
    samples = stack.metrics()
    return {
        key: histogram_buckets(samples, name, topic=TRANSFER_LOGS.name)
        for key, name in WAIT_HISTOGRAMS.items()
    }


def bucket_quantile(
    before: dict[float, float], after: dict[float, float], q: float
) -> float | None:
    """Upper bound of the bucket holding quantile `q` of what was observed between two
    readings of a histogram (None: nothing was)."""
    grown = {bound: count - before.get(bound, 0.0) for bound, count in after.items()}
    observed = grown.get(math.inf, 0.0)
    if observed <= 0:
        return None
    return next(bound for bound in sorted(grown) if grown[bound] >= q * observed)


def wait_bounds_ms(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
) -> dict[str, float | None]:
    """p50 and p99 bounds, in ms, of each wait between two readings."""
    bounds: dict[str, float | None] = {}
    for key in after:
        for q in (0.5, 0.99):
            bound = bucket_quantile(before.get(key, {}), after[key], q)
            bounds[f"{key}_p{q * 100:g}"] = None if bound is None else bound * 1000
    return bounds


def per_record_us(
    before: dict[str, float], after: dict[str, float], records: int
) -> dict[str, float]:
    """Microseconds a record of each counter's growth between two readings."""
    return {
        key: round((value - before.get(key, 0.0)) / max(1, records) * 1e6, 1)
        for key, value in after.items()
    }


def status_mb(pid: int, field: str = "VmHWM") -> float:
    """A memory figure of /proc/PID/status in MB (VmHWM: peak RSS; VmRSS: current)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class PacedLoad(threading.Thread):
    """Produces records at a fixed rate, batched per key as real producers do.

    A probe exports its flows and an enterprise pushes its logs in batches: a key's records go
    out when `per_message` have gathered or the oldest has waited `linger_s`.
    """

    TICK_S = 0.02

    def __init__(
        self,
        stack: Stack,
        records: Iterator[Encoded],
        rate: float,
        per_message: int,
        linger_s: float = 0.1,
    ) -> None:
        super().__init__(name="xbmon-bench-load", daemon=True)
        self.stack = stack
        self.records = records
        self.rate = rate
        self.per_message = per_message
        self.linger_s = linger_s
        self.stopping = threading.Event()
        self.sent = 0
        self.messages = 0

    def run(self) -> None:
        carry = 0.0
        next_tick = time.monotonic()
        buffers: dict[tuple[str, str], tuple[float, list[bytes]]] = {}
        while not self.stopping.is_set():
            now = time.monotonic()
            carry += self.rate * self.TICK_S
            count = int(carry)
            carry -= count
            for _ in range(count):
                key, value = next(self.records)
                held = buffers.setdefault(key, (now, []))
                held[1].append(value)
            for key, (since, values) in list(buffers.items()):
                if len(values) >= self.per_message or now - since >= self.linger_s:
                    topic, owner = key
                    value = b"[" + b",".join(values) + b"]"
                    self.stack.producer.send(topic, key=owner.encode(), value=value)
                    self.sent += len(values)
                    self.messages += 1
                    del buffers[key]
            next_tick += self.TICK_S
            delay = next_tick - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)


def encoded(records: Iterator[Record]) -> Iterator[Encoded]:
    """Records as a producer sends them, encoded as they are drawn."""
    for record in records:
        yield message_key(record), record.model_dump_json().encode()


def prepared(records: Iterator[Record], count: int) -> Iterator[Encoded]:
    """The next `count` records encoded now, then the rest as they are drawn.

    Encoding (and shifting) a record costs the load generator ~25 µs: during a paced phase
    that was a quarter of a core taken from the two the measured stack shares with it.
    """
    return chain(list(islice(encoded(records), count)), encoded(records))


def mixed(world: World, rng: random.Random, start_loop: int = 0) -> Iterator[Record]:
    """Logs and flows interleaved in the world's proportion (both in event-time order)."""
    logs = timeline(world, TransferLog, start_loop)
    flows = timeline(world, EgressFlow, start_loop)
    share = len(world.logs) / max(1, len(world.logs) + len(world.flows))
    while True:
        yield next(logs) if rng.random() < share else next(flows)


def read_trace(path: Path, since_ms: float, until_ms: float) -> dict[str, list[float]]:
    by_table: dict[str, list[float]] = defaultdict(list)
    if not path.exists():
        return by_table
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and since_ms <= float(parts[0]) <= until_ms:
            by_table[parts[1]].append(float(parts[2]))
    return by_table


# --- off-stream measurements ---------------------------------------------------------------
def store_insert_rate(world: World, directory: Path, rows: int = 200_000) -> tuple[float, float]:
    """Transfer rows per second into chDB in batches of 20k (the writer's shape): the JSON
    arrays as the store writer inserts them (as the workers encoded them), and the columnar
    insert alone (Arrow built: what callers holding row dicts get)."""
    from datetime import UTC, datetime

    from pipeline.settings import Settings
    from pipeline.storage import open_store, transfer_row
    from pipeline.storage.chdb_store import ChdbStore, arrow_table

    store = open_store(Settings(data_dir=directory))
    assert isinstance(store, ChdbStore)
    store.ensure_schema()
    now = datetime.now(UTC)
    logs = timeline(world, TransferLog)
    table = [
        transfer_row(
            next(logs),
            source_topic=TRANSFER_LOGS.name,
            source_partition=0,
            source_offset=i,
            required_path="exempt_small_volume",
            ingested_at=now,
        )
        for i in range(rows)
    ]
    chunks = [table[start : start + 20_000] for start in range(0, rows, 20_000)]
    try:
        bodies = [orjson.dumps(chunk) for chunk in chunks]
        began = time.perf_counter()
        for index, body in enumerate(bodies):
            store.insert_json("transfers", body, dedup_token=f"bench-{index}")
        from_json = rows / (time.perf_counter() - began)
        columns = [arrow_table(chunk) for chunk in chunks]
        began = time.perf_counter()
        for index, arrow_rows in enumerate(columns):
            assert arrow_rows is not None
            store.insert_arrow("transfers", arrow_rows, f"bench-columns-{index}")
        return from_json, rows / (time.perf_counter() - began)
    finally:
        store.close()


def matching_cost(world: World, filings: Sequence[int]) -> dict[str, float]:
    """Microseconds per evaluated transfer log with `n` filings in the reference data."""
    from pipeline.config import default_rules_config
    from pipeline.rules.engine import Engine
    from pipeline.rules.reference import ReferenceIndex

    logs = sorted(world.logs, key=lambda log: log.ts)
    out: dict[str, float] = {}
    for count in filings:
        records = padded_reference(world, max(len(world.enterprises), count // 5), count)
        index = ReferenceIndex.build(
            [r for r in records if isinstance(r, Enterprise)],
            [r for r in records if isinstance(r, Filing)],
            [r for r in records if isinstance(r, NegativeListEntry)],
        )
        gc.collect()  # the previous size's index is garbage now: not collected mid-pass
        passes = []
        for _ in range(3):  # best of three: one pass is short enough for a GC pause to skew
            engine = Engine(index, default_rules_config())
            began = time.perf_counter()
            for log in logs:
                engine.transfer_result(log)
            passes.append((time.perf_counter() - began) / len(logs) * 1e6)
        out[str(count)] = round(min(passes), 2)
    return out


# --- the run ---------------------------------------------------------------------------------
Report = Callable[[str], None]


def run_bench(options: BenchOptions, report: Report = print) -> BenchResult:
    options.data_dir.mkdir(parents=True, exist_ok=True)
    trace = options.data_dir / "latency.trace"
    trace.unlink(missing_ok=True)
    world, reference = load_world(options)
    filings = sum(isinstance(r, Filing) for r in reference)
    result = BenchResult(options.workers, options.records_per_message, options.enterprises, filings)
    result.broker_rtt_ms = options.broker_rtt_ms
    k = options.records_per_message
    report(f"world: {len(world.logs)} logs, {len(world.flows)} flows; reference {len(reference)}")
    # Event time runs on from one backlog to the next, as it does on the wire: logs from
    # the world's first weeks after flows of later weeks would all be late, every window
    # they declare into closed as soon as it opened (a case, not the load).
    flows_loops = -(-options.flows // len(world.flows))
    logs_loops = -(-options.logs // len(world.logs))
    flows_backlog = batched(timeline(world, EgressFlow), options.flows, k)
    logs_backlog = batched(timeline(world, TransferLog, flows_loops), options.logs, k)

    stack = Stack(
        options.data_dir / "stack",
        partitions=options.partitions,
        extra_env={"XBMON_LATENCY_TRACE": str(trace)},
        broker_rtt_ms=options.broker_rtt_ms,
    )
    with stack:
        stack.start(workers=options.workers, ready_timeout=120)
        stack.publish_reference(reference, timeout=600)  # applied by every worker
        assert stack.bootstrap is not None
        offsets = Offsets(stack.bootstrap, stack.app_id)
        try:
            for name, topic, backlog in (
                ("flows", EGRESS_FLOWS.name, flows_backlog),
                ("logs", TRANSFER_LOGS.name, logs_backlog),
            ):
                start = offsets.committed(topic, options.partitions)
                cpu, (rows, inserts) = stack_cpu(stack), writer_totals(stack)
                stages, before = stage_seconds(stack), events_processed(stack, topic)
                count = sum(map(_records_in, (v for _, _, v in backlog)))
                produced_by = produce_in_background(stack, backlog)
                rate, drained_at = drain_rate(
                    lambda: events_processed(stack, topic) - before,  # noqa: B023 (called here)
                    count,
                    600,
                )
                produced, produced_at = produced_by(600)
                # The workers kept up with the producer: the rate is the producer's (a bound).
                result.producer_bound[name] = produced_at > drained_at
                result.store_catch_up_s = caught_up(stack, 900)
                result.cpu_us[name] = per_record_us(cpu, stack_cpu(stack), count)
                result.stage_us[name] = per_record_us(stages, stage_seconds(stack), count)
                rows_now, inserts_now = writer_totals(stack)
                result.rows_per_insert[name] = round(
                    (rows_now - rows) / max(1.0, inserts_now - inserts)
                )
                ends = {p: start.get(p, 0) + len(r) for p, r in produced.items()}
                base = baseline(stack.bootstrap, topic, ends, start)
                report(
                    f"{name}: {rate:,.0f} records/s; baseline {base:,.0f} records/s; CPU µs a "
                    f"record {result.cpu_us[name]}; {result.rows_per_insert[name]} rows an insert"
                )
                report(f"{name}: worker µs a record by batch stage {result.stage_us[name]}")
                if result.producer_bound[name]:
                    report(f"{name}: the workers kept up with the producer: a lower bound")
                if name == "flows":
                    result.flows_rps, result.baseline_flows_rps = rate, base
                else:
                    result.logs_rps, result.baseline_logs_rps = rate, base
            report(f"store writer caught up {result.store_catch_up_s:.1f} s after the backlogs")
            share = len(world.logs) / (len(world.logs) + len(world.flows))
            capacity = 1 / (share / result.logs_rps + (1 - share) / result.flows_rps)
            rng = random.Random(options.seed)
            records = mixed(world, rng, flows_loops + logs_loops)
            for label, fraction in (("half", 0.5), ("full", 1.0)):
                stages, waits = stage_seconds(stack), log_waits(stack)
                latency, findings = paced_phase(stack, records, capacity * fraction, options, trace)
                caught_up(stack, 900)
                if label == "half":
                    sent = round(capacity * fraction * options.duration_s)
                    result.stage_us["half"] = per_record_us(stages, stage_seconds(stack), sent)
                    report(
                        f"half load: worker µs a record by batch stage {result.stage_us['half']}"
                    )
                    result.half_waits_ms = wait_bounds_ms(waits, log_waits(stack))
                    report(
                        "half load: a log message's age at take / when its output was acked, "
                        f"bucket bounds in ms: {result.half_waits_ms}"
                    )
                report(
                    f"{label} load ({capacity * fraction:,.0f} records/s): p50 "
                    f"{latency.p50_ms:.0f} ms, p99 {latency.p99_ms:.0f} ms, max "
                    f"{latency.max_ms:.0f} ms over {latency.count} records"
                )
                if label == "half":
                    result.half, result.half_findings = latency, findings
                else:
                    result.full = latency
            for fixed in options.latency_rates:  # where p99 meets a bound, read off the curve
                latency, _ = paced_phase(stack, records, fixed, options, trace)
                caught_up(stack, 900)
                result.latency_at[f"{fixed:g}"] = latency
                report(
                    f"{fixed:,.0f} records/s: p50 {latency.p50_ms:.0f} ms, p99 "
                    f"{latency.p99_ms:.0f} ms, max {latency.max_ms:.0f} ms over {latency.count}"
                )
            result.rss_mb = max(status_mb(w.process.pid) for w in stack.live_workers())
        finally:
            offsets.close()
    result.store_rows_per_s, result.store_columns_per_s = store_insert_rate(
        world, options.data_dir / "store-bench", options.store_rows
    )
    report(
        f"store: {result.store_rows_per_s:,.0f} rows/s into chDB as the writer inserts (JSON), "
        f"{result.store_columns_per_s:,.0f} rows/s of the columnar insert alone"
    )
    result.matching_us = matching_cost(world, options.matching_filings)
    report(f"matching: {result.matching_us} µs per transfer log by filings in the reference")
    return result


def caught_up(stack: Stack, timeout: float) -> float:
    """Wait until the workers and the store writer have nothing left to read; seconds taken."""
    from pipeline.embedded import wait_until
    from pipeline.store_writer import GROUP_SUFFIX

    began = time.monotonic()

    def idle() -> bool:
        return (
            stack.lag(TRANSFER_LOGS.name) == 0
            and stack.lag(EGRESS_FLOWS.name) == 0
            and stack.lag(EVIDENCE_ROWS.name, stack.app_id + GROUP_SUFFIX) == 0
        )

    wait_until(idle, timeout, "the workers and the store writer to catch up")
    return time.monotonic() - began


def paced_phase(
    stack: Stack, records: Iterator[Record], rate: float, options: BenchOptions, trace: Path
) -> tuple[Latency, Latency | None]:
    count = math.ceil(rate * (options.duration_s + 1.0))  # what the phase sends, and some
    load = PacedLoad(
        stack, prepared(records, count), rate, options.records_per_message, options.linger_s
    )
    warmup_s = 2.0
    began_ms = time.time() * 1000
    load.start()
    time.sleep(options.duration_s)
    load.stopping.set()
    load.join()
    stack.producer.flush()
    ended_ms = time.time() * 1000
    time.sleep(3.0)  # let the last records be stored
    samples = read_trace(trace, began_ms + warmup_s * 1000, ended_ms + 3000)
    findings = samples.get("findings")
    return Latency.of(samples.get("transfers", [])), (Latency.of(findings) if findings else None)


# --- soak ------------------------------------------------------------------------------------


@dataclass
class SoakSample:
    elapsed_s: float
    worker_rss_mb: float
    writer_rss_mb: float
    lag_records: int
    writer_lag: int
    sent: int


def run_soak(
    options: BenchOptions, seconds: float, rate: float, every_s: float, report: Report = print
) -> list[SoakSample]:
    """Hours at a fixed rate: RSS and lag sampled over time, to show memory stays flat."""
    from pipeline.store_writer import GROUP_SUFFIX

    options.data_dir.mkdir(parents=True, exist_ok=True)
    world, reference = load_world(options)
    samples: list[SoakSample] = []
    csv = options.data_dir / "soak.csv"
    csv.write_text("elapsed_s,worker_rss_mb,writer_rss_mb,lag_records,writer_lag,sent\n")
    with Stack(options.data_dir / "stack", partitions=options.partitions) as stack:
        stack.start(workers=options.workers, ready_timeout=120)
        stack.publish_reference(reference, timeout=600)
        load = PacedLoad(
            stack,
            encoded(mixed(world, random.Random(options.seed))),  # hours: as drawn
            rate,
            options.records_per_message,
            options.linger_s,
        )
        began = time.monotonic()
        load.start()
        try:
            while (elapsed := time.monotonic() - began) < seconds:
                time.sleep(min(every_s, max(0.0, seconds - elapsed)))
                workers = stack.live_workers()
                sample = SoakSample(
                    round(time.monotonic() - began, 1),
                    round(sum(status_mb(w.process.pid, "VmRSS") for w in workers), 1),
                    round(status_mb(stack.writer.process.pid, "VmRSS"), 1) if stack.writer else 0.0,
                    stack.lag(TRANSFER_LOGS.name) + stack.lag(EGRESS_FLOWS.name),
                    stack.lag(EVIDENCE_ROWS.name, stack.app_id + GROUP_SUFFIX),
                    load.sent,
                )
                samples.append(sample)
                with csv.open("a") as handle:
                    handle.write(",".join(str(v) for v in vars(sample).values()) + "\n")
                report(
                    f"{sample.elapsed_s:>8.0f} s  worker {sample.worker_rss_mb:7.1f} MB  "
                    f"writer {sample.writer_rss_mb:7.1f} MB  lag {sample.lag_records:>8,}  "
                    f"store lag {sample.writer_lag:>6,}  sent {sample.sent:>10,}"
                )
        finally:
            load.stopping.set()
            load.join()
    return samples
