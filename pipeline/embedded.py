"""The embedded stack: a local broker, worker processes, and a producer, on one machine.

Used by `xbmon up`, `xbmon replay --stream` and the integration tests. Workers are child
processes running `xbmon worker` exactly as in server mode; the supervisor sees inside them
through their /metrics endpoints only, so nothing here depends on in-process shortcuts.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import orjson
from kafka import KafkaConsumer, KafkaProducer
from pydantic import BaseModel

from pipeline.broker import LocalBroker, die_with_parent_hook, free_port
from pipeline.kafka_admin import consumer_lag, ensure_topics
from pipeline.latency_proxy import LatencyProxy
from pipeline.metrics_client import Samples, scrape, total
from pipeline.reference_rows import reference_row_messages
from pipeline.reference_stream import reference_messages
from pipeline.topics import ALL_TOPICS, FINDINGS
from schemas.models import Finding

log = logging.getLogger(__name__)


BOOTSTRAP_FILE = "bootstrap"


def running_bootstrap(data_dir: Path) -> str | None:
    """The bootstrap servers of an embedded stack running on `data_dir`, if any."""
    path = data_dir / BOOTSTRAP_FILE
    return path.read_text().strip() if path.exists() else None


class StackError(RuntimeError):
    """The embedded stack did not reach the state it waited for."""


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class WorkerProcess:
    """One `xbmon worker` child process and its metrics endpoint."""

    name: str
    process: subprocess.Popen[bytes]
    metrics_port: int
    log_path: Path

    def metrics(self, attempts: int = 3) -> Samples:
        """Its samples. A live worker's failed scrape is tried again: summed over workers, an
        empty reading counts as zeros (a rate or a histogram read between two would jump)."""
        samples = scrape(self.metrics_port)
        for _ in range(attempts - 1):
            if samples or not self.alive:
                break
            samples = scrape(self.metrics_port)
        return samples

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit (fault tests)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """Broker + workers. `bootstrap` set: use that broker (server mode) instead of Tansu."""

    data_dir: Path
    partitions: int = 4
    bootstrap: str | None = None
    app_id: str = "xbmon"
    store: bool = True
    rules_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    broker_rtt_ms: float = 0.0  # > 0: the embedded broker behind a LatencyProxy (benches)
    broker: LocalBroker | None = None
    proxy: LatencyProxy | None = None
    workers: list[WorkerProcess] = field(default_factory=list)
    writer: WorkerProcess | None = None
    gateway: WorkerProcess | None = None
    _producer: KafkaProducer | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(
        self, workers: int = 1, ready_timeout: float = 60.0, metrics_port: int | None = None
    ) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.bootstrap is None:
            port = None
            if self.broker_rtt_ms > 0:  # Tansu advertises the proxy: every connection crosses it
                port = free_port()
                self.proxy = LatencyProxy(port, self.broker_rtt_ms).start()
            self.broker = LocalBroker(
                self.data_dir / "broker",
                port=port,
                advertised_port=self.proxy.port if self.proxy else None,
            ).start()
            self.bootstrap = self.broker.bootstrap_servers
        ensure_topics(self.bootstrap, ALL_TOPICS, self.partitions, 1)
        # Where CLI commands run beside `xbmon up` (e.g. `xbmon alerts resolve`) find it.
        (self.data_dir / BOOTSTRAP_FILE).write_text(self.bootstrap)
        if self.store:
            self.writer = self._spawn("store-writer", "store-writer", None)
        for index in range(workers):
            self.add_worker(metrics_port + index if metrics_port else None)
        self.wait_ready(ready_timeout)
        return self

    def add_worker(self, metrics_port: int | None = None) -> WorkerProcess:
        worker = self._spawn("worker", f"worker-{len(self.workers)}", metrics_port)
        self.workers.append(worker)
        return worker

    def add_gateway(self, port: int, data_dir: Path, timeout: float = 30.0) -> WorkerProcess:
        """`xbmon gateway` on `port`, producing into this stack's broker; keys in `data_dir`."""
        if self.broker is not None:  # our memory-only broker: nothing accepted before is in it
            from pipeline.gateway.state import forget_broker_state

            forget_broker_state(data_dir)
        gateway = self._spawn(
            "gateway", "gateway", port, ["--port", str(port), "--data-dir", str(data_dir)]
        )
        self.gateway = gateway

        def healthy() -> bool:
            if not gateway.alive:
                raise StackError(f"the gateway exited:\n{gateway.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_until(healthy, timeout, "the gateway to listen", interval=0.2)
        return gateway

    def _spawn(
        self, command: str, name: str, metrics_port: int | None, args: Sequence[str] = ()
    ) -> WorkerProcess:
        port = metrics_port or free_port()
        log_path = self.data_dir / f"{name}.log"
        env = {
            **os.environ,
            "XBMON_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap or "",
            "XBMON_KAFKA__PARTITIONS": str(self.partitions),
            "XBMON_METRICS_PORT": str(port),
            "XBMON_APP_ID": self.app_id,
            "XBMON_DATA_DIR": str(self.data_dir),
            "XBMON_STORE_ENABLED": "true" if self.store else "false",
            **({"XBMON_RULES_PATH": str(self.rules_path)} if self.rules_path else {}),
            **self.extra_env,
        }
        with log_path.open("ab") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", command, *args],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
                preexec_fn=die_with_parent_hook(),  # a killed supervisor leaves no orphans
            )
        return WorkerProcess(name, process, port, log_path)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            for worker in [*self.live_workers(), *([self.writer] if self.writer else [])]:
                if total(worker.metrics(), "xbmon_worker_ready") < 1:
                    return False
            everyone = [*self.workers, *([self.writer] if self.writer else [])]
            dead = [w for w in everyone if not w.alive and w.process.returncode not in (0, -9)]
            if dead:
                raise StackError(f"{dead[0].name} exited:\n{dead[0].log_tail()}")
            return True

        wait_until(ready, timeout, "workers to join and recover")

    def live_workers(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.alive]

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        for worker in self.workers:
            worker.stop()
        if self.writer is not None:
            self.writer.stop()
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
        if self.broker is not None:
            self.broker.stop()
            (self.data_dir / BOOTSTRAP_FILE).unlink(missing_ok=True)
        if self.proxy is not None:
            self.proxy.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- producing and observing -----------------------------------------------------------
    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                linger_ms=5,
                max_request_size=8 * 1024 * 1024,
            )
        return self._producer

    def produce(
        self, messages: Iterable[tuple[str, bytes | None, bytes | None, int | None]]
    ) -> int:
        """Send (topic, key, value, partition) messages; flush; return how many."""
        count = 0
        for topic, key, value, partition in messages:
            self.producer.send(topic, key=key, value=value, partition=partition)
            count += 1
        self.producer.flush()
        return count

    def metrics(self) -> Samples:
        """Samples of all live workers, summed per series."""
        merged: Samples = {}
        for worker in self.live_workers():
            for key, value in worker.metrics().items():
                merged[key] = merged.get(key, 0.0) + value
        return merged

    def lag(self, topic: str, group: str | None = None) -> int:
        """Records of `topic` a consumer group (the workers' by default) has not committed."""
        assert self.bootstrap is not None
        return consumer_lag(self.bootstrap, group or self.app_id, topic)

    def metric(self, name: str, **labels: str) -> float:
        return total(self.metrics(), name, **labels)

    def publish_reference(self, records: Sequence[BaseModel], timeout: float = 60.0) -> None:
        """Publish reference records and wait until every live worker has applied them."""
        workers = max(1, len(self.live_workers()))
        before = self.metric("xbmon_reference_updates_total")
        sent = self.produce((t, k, v, None) for t, k, v in reference_messages(records))
        wait_until(
            lambda: self.metric("xbmon_reference_updates_total") >= before + sent * workers,
            timeout,
            "reference records to be applied",
        )
        # The register rows for the store (dashboards, report); the store writer catches up.
        self.produce(
            (t, k, v, None) for t, k, v in reference_row_messages(records, datetime.now(UTC))
        )

    def findings(self) -> list[Finding]:
        """Every finding on the findings topic so far."""
        return [
            Finding.model_validate(item)
            for _, value in self.read_topic(FINDINGS.name, 800)
            for item in orjson.loads(value)
        ]

    def wait_for_findings(self, count: int, timeout: float = 60.0) -> list[Finding]:
        found: list[Finding] = []

        def enough() -> bool:
            found[:] = self.findings()
            return len(found) >= count

        wait_until(enough, timeout, f"{count} findings", interval=0.3)
        return found

    def read_topic(self, topic: str, timeout_ms: int = 1500) -> list[tuple[bytes | None, bytes]]:
        """Every message of `topic` from the beginning, until it has been quiet `timeout_ms`."""
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=timeout_ms,
        )
        try:
            return [(m.key, m.value) for m in consumer]
        finally:
            consumer.close()


def all_partitions(
    topic: str, partitions: int, value: bytes
) -> Sequence[tuple[str, bytes | None, bytes | None, int | None]]:
    """The same control message to every partition of `topic`."""
    return [(topic, None, value, p) for p in range(partitions)]
