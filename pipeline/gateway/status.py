"""`GET /v1/status`: an enterprise's own counts, findings and score, from the topics.

Why not the evidence store: chDB admits one process per directory, and in the embedded mode
the store writer owns it. The gateway instead keeps its own projection, fed by the topics the
store itself is fed from: `transfer.logs` (transfers, distinct ids), `findings`, `scores`
(compacted, latest per enterprise) and `alert.actions` (resolutions). It works the same with
Apache Kafka and ClickHouse server. Offsets are saved in the same SQLite transaction as the
rows, so a restart resumes exactly where it stopped and counts nothing twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from pipeline.gateway.db import connect, gateway_dir, statements, transaction
from pipeline.topics import ALERT_ACTIONS, FINDINGS, SCORES, TRANSFER_LOGS
from pipeline.wire import decode_batch
from schemas.models import Finding, TransferLog
from schemas.types import format_datetime

log = logging.getLogger(__name__)

STATUS_FILE = "status.sqlite"
_SQL = "status.sql"
TOPICS = (TRANSFER_LOGS.name, FINDINGS.name, SCORES.name, ALERT_ACTIONS.name)
POLL_MS = 200
MAX_RECORDS = 2000
DISCOVER_S = 5.0


def open_status_db(data_dir: Path) -> sqlite3.Connection:
    return connect(gateway_dir(data_dir) / STATUS_FILE, _SQL)


def enterprise_status(db: sqlite3.Connection, enterprise_id: str) -> dict[str, Any]:
    """The caller's own status (never anyone else's: the id comes from the key)."""
    sql = statements(_SQL)
    params = {"enterprise_id": enterprise_id}
    transfers = db.execute(sql["transfers"], params).fetchone()["n"]
    by_rule = db.execute(sql["findings_by_rule"], params).fetchall()
    score = db.execute(sql["score"], params).fetchone()
    return {
        "enterprise_id": enterprise_id,
        "transfers": int(transfers),
        "findings_by_rule": {r["rule_id"]: int(r["n"]) for r in by_rule},
        "findings": sum(int(r["n"]) for r in by_rule),
        "open_findings": sum(int(r["open"]) for r in by_rule),
        "score": dict(score) if score else None,
    }


class StatusProjection(threading.Thread):
    """Consumes the four topics into the status database until stopped."""

    def __init__(
        self,
        bootstrap: str,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name="xbmon-gateway-status", daemon=True)
        self.bootstrap = bootstrap
        self.db = open_status_db(data_dir)
        self.sql = statements(_SQL)
        self.clock = clock
        self.stopping = threading.Event()
        self.applied = 0  # records applied since start (tests and /readyz wait on it)
        self.last_applied_at: float | None = None

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._consume()
            except KafkaError as exc:  # broker gone: try again, nothing applied is lost
                log.warning("status projection: %r; retrying", exc)
                self.stopping.wait(1.0)
            except Exception:
                log.exception("status projection failed; retrying")
                self.stopping.wait(1.0)
        self.db.close()

    def _consume(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
            max_poll_records=MAX_RECORDS,
        )
        try:
            assigned: set[TopicPartition] = set()
            discovered = 0.0
            while not self.stopping.is_set():
                if time.monotonic() - discovered > DISCOVER_S:
                    assigned = self._assign(consumer, assigned)
                    discovered = time.monotonic()
                if not assigned:
                    self.stopping.wait(0.5)
                    continue
                batch = consumer.poll(timeout_ms=POLL_MS)
                if batch:
                    self._apply(batch)
        finally:
            consumer.close()

    def _assign(self, consumer: KafkaConsumer, current: set[TopicPartition]) -> set[TopicPartition]:
        wanted = set(current)
        for topic in TOPICS:
            for partition in consumer.partitions_for_topic(topic) or ():
                wanted.add(TopicPartition(topic, partition))
        if wanted != current:
            consumer.assign(sorted(wanted))
            saved = {
                (r["topic"], r["partition"]): r["next_offset"]
                for r in self.db.execute(self.sql["offsets"]).fetchall()
            }
            for tp in wanted - current:
                if (tp.topic, tp.partition) in saved:
                    consumer.seek(tp, saved[(tp.topic, tp.partition)])
                else:
                    consumer.seek_to_beginning(tp)
        return wanted

    def _apply(self, batch: dict[TopicPartition, list[Any]]) -> None:
        count = 0
        with transaction(self.db):
            for tp, messages in batch.items():
                for message in messages:
                    self._apply_one(tp.topic, message.value)
                    count += 1
                self.db.execute(
                    self.sql["save_offset"],
                    {
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "next_offset": messages[-1].offset + 1,
                    },
                )
        self.applied += count
        self.last_applied_at = self.clock()

    def _apply_one(self, topic: str, value: bytes | None) -> None:
        if topic == TRANSFER_LOGS.name:
            decoded = decode_batch(value, TransferLog)  # invalid records are the workers' job
            self.db.executemany(
                self.sql["add_transfer"],
                [
                    {"enterprise_id": r.enterprise_id, "transfer_id": r.transfer_id}
                    for r in decoded.records
                ],
            )
        elif topic == FINDINGS.name:
            findings = decode_batch(value, Finding).records
            self.db.executemany(
                self.sql["add_finding"],
                [
                    {
                        "finding_id": f.finding_id,
                        "enterprise_id": f.enterprise_id,
                        "rule_id": f.rule_id,
                        "severity": f.severity,
                        "ts": format_datetime(f.ts),
                    }
                    for f in findings
                ],
            )
        elif topic in (SCORES.name, ALERT_ACTIONS.name) and value:
            try:
                document = orjson.loads(value)
            except orjson.JSONDecodeError:
                log.warning("status projection: unreadable %s record skipped", topic)
                return
            if topic == SCORES.name:
                self._apply_score(document)
            elif document.get("status") == "resolved":
                resolved = document.get("finding_ids", [])
                self.db.executemany(self.sql["resolve"], [{"finding_id": f} for f in resolved])

    def _apply_score(self, score: dict[str, Any]) -> None:
        try:
            self.db.execute(
                self.sql["set_score"],
                {
                    k: score[k]
                    for k in (
                        "enterprise_id",
                        "credit",
                        "risk",
                        "tier",
                        "computed_at",
                        "config_version",
                    )
                },
            )
        except KeyError:
            log.warning("status projection: a scores record without %s", sorted(score))
