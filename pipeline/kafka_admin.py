"""Kafka administration for xbmon (kafka-python): topics, readiness, health, high watermarks.

Everything here speaks the plain Kafka protocol and works the same against Apache Kafka (server
mode, production) and the embedded Tansu broker (`pipeline.broker`); where Tansu differs, the
code takes the path that is right on both rather than a Tansu special case:

- Topic configs are read with the `all` filter and compared by value: Tansu reports a
  `cleanup.policy` set at creation as `DEFAULT_CONFIG`, so the usual "modified only" filter
  would hide it.
- High watermarks come from Fetch responses, not ListOffsets (see `high_watermarks`).

Every function opens a short-lived admin client (or consumer) and closes it: these are start-up,
CLI and health-check paths, not hot paths.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypedDict

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError

from pipeline.topics import TopicSpec

__all__ = [
    "BrokerHealth",
    "BrokerUnavailableError",
    "EnsureTopicsReport",
    "TopicCreationError",
    "TopicMismatch",
    "TopicMismatchError",
    "broker_health",
    "describe_topic_configs",
    "ensure_topics",
    "high_watermarks",
    "probe_metadata",
    "topic_partitions",
    "wait_for_broker",
]

log = logging.getLogger(__name__)

CLIENT_ID = "xbmon-admin"
CLEANUP_POLICY = "cleanup.policy"
_UNKNOWN_TOPIC = 3  # UNKNOWN_TOPIC_OR_PARTITION
_TOPIC_ALREADY_EXISTS = 36


class BrokerUnavailableError(RuntimeError):
    """No broker answered a metadata request in time."""


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic (other than: it already exists)."""


@dataclass(frozen=True)
class TopicMismatch:
    """An existing topic that differs from its `TopicSpec`; never altered automatically."""

    topic: str
    setting: str  # "partitions" or "cleanup.policy"
    expected: str
    actual: str

    def describe(self) -> str:
        if self.setting == "partitions":
            hint = (
                "partition counts are never changed automatically: keyed state and "
                "co-partitioning follow them; recreate the topic or fix the configured count"
            )
        else:
            hint = "alter the topic config (kafka-configs --alter) or recreate it"
        return (
            f"topic {self.topic!r}: {self.setting} is {self.actual}, expected {self.expected} "
            f"({hint})"
        )


class TopicMismatchError(RuntimeError):
    """Existing topics differ from their specs (raised by `ensure_topics(strict=True)`)."""

    def __init__(self, report: EnsureTopicsReport) -> None:
        self.report = report
        lines = "\n  ".join(m.describe() for m in report.mismatches)
        super().__init__(f"{len(report.mismatches)} topic mismatch(es):\n  {lines}")


@dataclass(frozen=True)
class EnsureTopicsReport:
    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    mismatches: tuple[TopicMismatch, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.mismatches


class BrokerHealth(TypedDict):
    """`broker_health` result; JSON-serialisable as is."""

    reachable: bool
    bootstrap_servers: str
    brokers: int
    topics: int
    partitions: int
    topic_partitions: dict[str, int]
    latency_seconds: float
    error: str | None


# -- clients ---------------------------------------------------------------------------------


def _addresses(bootstrap: str) -> list[tuple[str, int]]:
    """`host:port` pairs of a bootstrap string (`a:9092,[::1]:9093`; port 9092 if absent)."""
    pairs: list[tuple[str, int]] = []
    for item in bootstrap.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or host.endswith(":") or (":" in host and not host.startswith("[")):
            host, port = item, "9092"  # no port, or a bare IPv6 address
        try:
            pairs.append((host.strip("[]"), int(port)))
        except ValueError:
            continue
    return pairs


def _any_tcp_open(bootstrap: str, timeout: float) -> bool:
    """Whether some bootstrap address accepts a TCP connection (True if none can be parsed).

    A refused connection is known at once, whereas the Kafka client retries with back-off
    until its bootstrap timeout: this keeps health checks and waits fast and quiet.
    """
    addresses = _addresses(bootstrap)
    if not addresses:
        return True
    for host, port in addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


@contextmanager
def _admin(bootstrap: str, timeout: float) -> Iterator[KafkaAdminClient]:
    """A connected admin client; `BrokerUnavailableError` if it cannot bootstrap in time."""
    timeout_ms = max(1, int(timeout * 1000))
    try:
        client = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id=CLIENT_ID,
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=max(timeout_ms, 1000),
        )
    except KafkaError as exc:
        raise BrokerUnavailableError(f"no Kafka broker answers on {bootstrap}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()


def probe_metadata(bootstrap: str, timeout: float = 5.0) -> list[str]:
    """One metadata round trip (bootstrap + list topics); the topic names, or raise.

    This is the readiness test for a broker: an open TCP port is not enough, the broker must
    answer the Kafka protocol.
    """
    with _admin(bootstrap, timeout) as admin:
        try:
            names: list[str] = admin.list_topics()
        except KafkaError as exc:
            raise BrokerUnavailableError(f"metadata request to {bootstrap} failed: {exc}") from exc
        return names


def wait_for_broker(bootstrap: str, timeout: float = 30.0, interval: float = 0.2) -> float:
    """Block until a broker on `bootstrap` answers a metadata request; seconds waited.

    Raises `BrokerUnavailableError` (with the last error) after `timeout` seconds.
    """
    began = time.monotonic()
    deadline = began + timeout
    last_error = "connection refused"
    while True:
        remaining = max(0.1, deadline - time.monotonic())
        if _any_tcp_open(bootstrap, timeout=min(remaining, 1.0)):
            try:
                probe_metadata(bootstrap, timeout=min(remaining, 5.0))
                return time.monotonic() - began
            except BrokerUnavailableError as exc:
                last_error = str(exc)
        if time.monotonic() + interval >= deadline:
            raise BrokerUnavailableError(
                f"no Kafka broker answered on {bootstrap} within {timeout:.1f} s: {last_error}"
            )
        time.sleep(interval)


# -- topics ----------------------------------------------------------------------------------


def _partition_counts(admin: KafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    """Partition count of each existing topic among `names` (missing topics are left out)."""
    counts: dict[str, int] = {}
    wanted = list(names)
    if not wanted:
        return counts
    for topic in admin.describe_topics(wanted):
        code = topic.get("error_code", 0)
        if code == _UNKNOWN_TOPIC:
            continue
        if code != 0:
            raise TopicCreationError(f"describing topic {topic.get('name')!r}: error {code}")
        counts[topic["name"]] = len(topic.get("partitions") or [])
    return counts


def _configs(admin: KafkaAdminClient, names: Iterable[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    if not resources:
        return {}
    # "all", not the default "modified": Tansu reports a config given at creation as a default.
    described: dict[str, Any] = admin.describe_configs(resources, config_filter="all")
    topics: dict[str, dict[str, Any]] = described.get("topic", {})
    return {
        name: {key: str(entry.get("value")) for key, entry in configs.items()}
        for name, configs in topics.items()
    }


def describe_topic_configs(
    bootstrap: str, topics: Iterable[str], timeout: float = 10.0
) -> dict[str, dict[str, str]]:
    """Every config value the broker reports for each topic (`{topic: {key: value}}`)."""
    with _admin(bootstrap, timeout) as admin:
        return _configs(admin, topics)


def topic_partitions(
    bootstrap: str, topics: Iterable[str], timeout: float = 10.0
) -> dict[str, int]:
    """Partition count of each of `topics` that exists."""
    with _admin(bootstrap, timeout) as admin:
        return _partition_counts(admin, topics)


def _policy_matches(spec: TopicSpec, policy: str | None) -> bool:
    policies = {p.strip() for p in (policy or "delete").split(",")}
    return "compact" in policies if spec.compacted else "compact" not in policies


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    default_partitions: int,
    replication_factor: int,
    *,
    strict: bool = True,
    timeout: float = 30.0,
) -> EnsureTopicsReport:
    """Create the missing topics of `specs`; check the existing ones. Idempotent.

    A spec's partition count is `spec.partitions` or `default_partitions`; compacted specs get
    `cleanup.policy=compact`. Existing topics are never altered: a different partition count or
    cleanup policy is a `TopicMismatch` in the report, raised as `TopicMismatchError` when
    `strict`. A topic created concurrently by another worker counts as existing.
    """
    if default_partitions < 1 or replication_factor < 1:
        raise ValueError("default_partitions and replication_factor must be >= 1")
    wanted: dict[str, TopicSpec] = {}
    for spec in specs:
        if wanted.setdefault(spec.name, spec) != spec:
            raise ValueError(f"conflicting specs for topic {spec.name!r}")

    def partitions_of(spec: TopicSpec) -> int:
        return spec.partitions if spec.partitions is not None else default_partitions

    with _admin(bootstrap, timeout) as admin:
        counts = _partition_counts(admin, wanted)
        missing = [spec for name, spec in wanted.items() if name not in counts]
        created: list[str] = []
        if missing:
            request = {
                spec.name: {
                    "num_partitions": partitions_of(spec),
                    "replication_factor": replication_factor,
                    "configs": {CLEANUP_POLICY: "compact"} if spec.compacted else {},
                }
                for spec in missing
            }
            response = admin.create_topics(
                request, timeout_ms=int(timeout * 1000), raise_errors=False
            )
            failures: list[str] = []
            for result in response["topics"]:
                code = result.get("error_code", 0)
                if code == 0:
                    created.append(result["name"])
                elif code != _TOPIC_ALREADY_EXISTS:
                    failures.append(
                        f"{result['name']}: error {code} {result.get('error_message') or ''}"
                    )
            if failures:
                raise TopicCreationError("cannot create topics: " + "; ".join(failures))
            if created:
                admin.wait_for_topics(created, timeout_ms=int(timeout * 1000))
                log.info("created topics %s", ", ".join(sorted(created)))
            counts = _partition_counts(admin, wanted)
        configs = _configs(admin, wanted)

    mismatches: list[TopicMismatch] = []
    for name, spec in wanted.items():
        expected = partitions_of(spec)
        actual = counts.get(name)
        if actual is None:
            mismatches.append(TopicMismatch(name, "partitions", str(expected), "missing"))
            continue
        if actual != expected:
            mismatches.append(TopicMismatch(name, "partitions", str(expected), str(actual)))
        policy = configs.get(name, {}).get(CLEANUP_POLICY)
        if not _policy_matches(spec, policy):
            mismatches.append(
                TopicMismatch(
                    name,
                    CLEANUP_POLICY,
                    "compact" if spec.compacted else "delete (not compact)",
                    policy or "delete (default)",
                )
            )
    report = EnsureTopicsReport(
        created=tuple(sorted(created)),
        existing=tuple(sorted(set(wanted) - set(created))),
        mismatches=tuple(mismatches),
    )
    for mismatch in report.mismatches:
        log.warning("%s", mismatch.describe())
    if strict and report.mismatches:
        raise TopicMismatchError(report)
    return report


# -- health ----------------------------------------------------------------------------------


def broker_health(bootstrap: str, timeout: float = 2.0) -> BrokerHealth:
    """Reachability and what the cluster holds; never raises (for health endpoints)."""
    began = time.monotonic()
    health = BrokerHealth(
        reachable=False,
        bootstrap_servers=bootstrap,
        brokers=0,
        topics=0,
        partitions=0,
        topic_partitions={},
        latency_seconds=0.0,
        error=None,
    )
    try:
        if not _any_tcp_open(bootstrap, timeout=timeout):
            raise BrokerUnavailableError(f"no listener on {bootstrap}")
        with _admin(bootstrap, timeout) as admin:
            cluster: dict[str, Any] = admin.describe_cluster()
            described: list[dict[str, Any]] = admin.describe_topics()
    except (BrokerUnavailableError, KafkaError, OSError) as exc:
        health["error"] = str(exc)
    else:
        counts = {
            t["name"]: len(t.get("partitions") or [])
            for t in described
            if t.get("error_code", 0) == 0
        }
        health["reachable"] = True
        health["brokers"] = len(cluster.get("brokers") or [])
        health["topics"] = len(counts)
        health["partitions"] = sum(counts.values())
        health["topic_partitions"] = dict(sorted(counts.items()))
    health["latency_seconds"] = round(time.monotonic() - began, 6)
    return health


# -- offsets ---------------------------------------------------------------------------------


def high_watermarks(bootstrap: str, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """The high watermark (offset of the next record) of every partition of `topic`.

    Read from Fetch responses, which carry the partition's high watermark, and not from
    ListOffsets(LATEST) (`KafkaConsumer.end_offsets`, `list_partition_offsets`). On Apache Kafka
    both give the same number. On Tansu 0.6, ListOffsets(LATEST) returns the base offset of the
    partition's *last batch* + 1: batches of 500, 300 and 200 records gave 1, 501 and 801 where
    Fetch gave 500, 800 and 1000 (measured), so lag computed from end offsets is wrong there, and
    so is anything else built on them (Faust's changelog recovery, see `pipeline.broker`).

    How: assign every partition to a group-less consumer, seek to ListOffsets(LATEST) (exactly
    the end on Kafka, so the fetch returns no records; inside the last batch on Tansu, so it
    returns at most that batch), fetch once per partition and read `consumer.highwater`.
    Raises `KeyError` for an unknown topic, `TimeoutError` if some partition gets no fetch
    response in time, `BrokerUnavailableError` if no broker answers.
    """
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=CLIENT_ID,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=10,
            bootstrap_timeout_ms=max(1, int(timeout * 1000)),
            request_timeout_ms=max(1000, int(timeout * 1000)),
        )
    except KafkaError as exc:
        raise BrokerUnavailableError(f"no Kafka broker answers on {bootstrap}: {exc}") from exc
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise KeyError(f"unknown topic {topic!r} on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_end(*tps)
        deadline = time.monotonic() + timeout
        found: dict[int, int] = {}
        while True:
            consumer.poll(timeout_ms=50, max_records=1)
            for tp in tps:
                hw = consumer.highwater(tp)
                if hw is not None:
                    found[tp.partition] = hw
            if len(found) == len(tps):
                return found
            if time.monotonic() >= deadline:
                absent = sorted({tp.partition for tp in tps} - set(found))
                raise TimeoutError(
                    f"no fetch response for {topic} partitions {absent} within {timeout:.1f} s"
                )
    finally:
        consumer.close(autocommit=False)


def consumer_lag(bootstrap: str, group: str, topic: str, timeout: float = 10.0) -> int:
    """Records of `topic` the consumer group has not committed yet (all partitions).

    Uses the Fetch-based `high_watermarks`, so the figure is right on Tansu as on Kafka. A
    partition the group never committed counts from its start (offset 0).
    """
    ends = high_watermarks(bootstrap, topic, timeout)
    tps = [TopicPartition(topic, p) for p in ends]
    with _admin(bootstrap, timeout) as admin:
        committed = admin.list_group_offsets({group: tps}).get(group, {})
    lag = 0
    for partition, end in ends.items():
        meta = committed.get(TopicPartition(topic, partition))
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(0, end - done)
    return lag
