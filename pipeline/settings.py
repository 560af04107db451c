"""One frozen settings object for every process: embedded or server, read from the environment.

Variables are `XBMON_*` (nested with `__`, e.g. `XBMON_CLICKHOUSE__HOST`). Secrets are
`SecretStr`; placeholder secrets are refused outside development.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "xbmon"})


class KafkaSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = "127.0.0.1:9092"
    # Tansu rejects InitProducerId: idempotence stays a setting, off for the embedded broker.
    producer_idempotence: bool = False
    partitions: int = Field(4, ge=1)
    replication_factor: int = Field(1, ge=1)
    # Faust defaults (60 s) make a group join take ~30 s on Tansu; see NOTES.md.
    session_timeout_s: float = Field(6.0, gt=0)
    heartbeat_interval_s: float = Field(0.3, gt=0)
    commit_interval_s: float = Field(1.0, gt=0)
    fetch_max_wait_ms: int = Field(100, ge=0)
    # The workers' producer keeps one batch per partition pending and one request in flight
    # per broker: at Faust's 16 KiB a batch, every state (~60 KB after a day of traffic) and
    # evidence-rows message was a batch of its own, one broker round trip each, in turn. A
    # batch stays under Kafka's default message.max.bytes (1,048,588).
    producer_batch_bytes: int = Field(1_000_000, ge=16_384)
    producer_request_bytes: int = Field(8 * 1024 * 1024, ge=1_000_000)


class ClickHouseSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["chdb", "server"] = "chdb"
    host: str = "127.0.0.1"
    port: int = 8123
    username: str = "default"
    password: SecretStr = SecretStr("")
    database: str = "xbmon"
    secure: bool = False
    retention_days: int = Field(3 * 366, ge=3 * 365)  # NDSR: at least 3 years


class GatewaySettings(BaseModel):
    """The enterprise ingestion gateway (`xbmon gateway`, `xbmon up --gateway-port`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"  # 0.0.0.0 in containers
    port: int = Field(8088, ge=0, le=65535)
    max_body_bytes: int = Field(512 * 1024, ge=1024)  # 413 above
    max_records: int = Field(2000, ge=1)  # records per request; 413 above
    rate_per_s: float = Field(20.0, gt=0)  # requests per second per key (token bucket)
    rate_burst: int = Field(40, ge=1)
    produce_timeout_s: float = Field(10.0, gt=0)  # no broker ack by then: 503
    # The producer's own request timeout, well above produce_timeout_s: a send answered 503
    # stays pending (and is awaited by the client's retry) instead of being re-sent by the
    # producer, which could duplicate it in the topic once a hung broker wakes up.
    producer_request_timeout_s: float = Field(60.0, gt=0)
    accepted_retention_days: int = Field(400, ge=1)  # accepted transfer_ids remembered
    signature_window_s: int = Field(300, ge=1)  # signed requests: timestamp tolerance
    # Keyed hash of API keys; None: a random pepper kept in DATA_DIR/gateway/pepper.
    key_pepper: SecretStr | None = None
    status_enabled: bool = True  # the /v1/status projection (consumes the output topics)


class EvidenceLogSettings(BaseModel):
    """The Merkle evidence log: who seals it, how often, and with which Ed25519 key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # One sequencer per log: the store writer seals in embedded mode; in server mode keep it
    # on in exactly one store writer (or run `xbmon evidence seal` from one scheduler).
    sequencer: bool = True
    seal_interval_s: float = Field(5.0, gt=0)
    # Findings appended per seal, so a backlog does not hold the store for long at once
    # (measured: ~6k findings/s on chDB); the last seal at exit loops until all are sealed.
    seal_max_leaves: int = Field(20_000, ge=1)
    # A periodic seal looks at findings inserted since the previous seal started, minus this
    # (clock skew between sealer and store, inserts in flight): without a bound every seal
    # scanned every stored finding (~85-200 ms at 100k, holding chDB from the writer).
    seal_lookback_s: float = Field(3600.0, gt=0)
    # Ed25519 private key as PKCS#8 PEM; else read from signing_key_file; else (embedded mode
    # only) generated on first run into data_dir/evidence/signing_key.pem with 0600 perms.
    signing_key: SecretStr | None = None
    signing_key_file: Path | None = None
    origin: str = Field("xbmon.evidence/v1", pattern=r"^[\x21-\x7e]+$")  # first line of a head


class SpoolSettings(BaseModel):
    """The store writer's on-disk spool and retry policy (README "Durable write path")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    directory: Path | None = None  # default: DATA_DIR/spool
    max_bytes: int = Field(256 * 1024 * 1024, ge=1)
    max_batches: int = Field(10_000, ge=1)
    # Consumption resumes once the spool is below this share of both bounds (hysteresis).
    resume_ratio: float = Field(0.5, ge=0, lt=1)
    retry_initial_backoff_s: float = Field(0.1, gt=0)
    retry_max_backoff_s: float = Field(5.0, gt=0)
    # Longest stretch spent draining before polling Kafka again.
    drain_budget_s: float = Field(1.0, gt=0)


class StoreWriterSettings(BaseModel):
    """How the store writer gathers evidence messages into inserts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # While the writer is behind (its partitions hold more than it has read), keep polling
    # (each poll waiting at most `gather_poll_ms`) up to these bounds, then insert once per
    # table. Every insert is a new ClickHouse part, merged again later: under load, ~1k-row
    # inserts spent more of the writer's CPU on parts and merges than on the rows. A writer
    # that is caught up inserts at once, adding nothing to latency.
    gather_s: float = Field(0.25, ge=0)
    gather_bytes: int = Field(32 * 1024 * 1024, ge=1)
    gather_poll_ms: int = Field(10, ge=0)
    max_poll_records: int = Field(200, ge=1)  # messages a poll returns (each up to 2,000 rows)


#: Test-only fault points: the store writer SIGKILLs itself there (tests/faults/).
FaultPoint = Literal["after_insert", "spool_write", "after_spool"]


class Settings(BaseSettings):
    """Everything a worker, the gateway or the CLI needs to know about its environment."""

    model_config = SettingsConfigDict(
        env_prefix="XBMON_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    mode: Literal["embedded", "server"] = "embedded"
    data_dir: Path = Path(".data")
    app_id: str = "xbmon"
    rules_path: Path | None = None
    metrics_port: int = Field(9464, ge=0, le=65535)  # 0: no metrics endpoint
    metrics_host: str = "127.0.0.1"  # 0.0.0.0 in containers, for Prometheus to scrape
    # event_time: a window closes when its partition's event time passes its end plus the
    # grace period. end_of_input: only an explicit watermark record closes windows (replay).
    windows_close: Literal["event_time", "end_of_input"] = "event_time"
    store_enabled: bool = True  # off only for stream tests that read the findings topic
    score_decay_interval_s: float = Field(86400.0, gt=0)  # re-score everyone (finding decay)
    # Activity re-scores an enterprise at most this often (a resolution at once; the first
    # activity of an unscored enterprise at once): scoring every touched enterprise every
    # batch cost more than evaluating the batch.
    score_min_interval_s: float = Field(5.0, ge=0)
    # Timer re-scores (filings changed, activity, the daily decay) run this many enterprises
    # at a time, the agents served in between (~0.5 ms an enterprise with a long history).
    rescore_slice: int = Field(50, ge=1)
    # Evaluated transfer_ids kept with an enterprise's state before they move to an archived
    # chunk (written once): bounds what is written after every batch.
    seen_chunk_ids: int = Field(256, ge=1)
    # Store writer: append "stored_ms table latency_ms" per stored row here (for `xbmon bench`).
    latency_trace: Path | None = None
    # A touched enterprise's state is written at most this often (0: after every batch). The
    # batches in between are settled (their output acknowledged) and their source events held
    # until the write: a crash replays at most this much. Writing every touched state after
    # every batch was a third of the worker at half load (paced ~10-record messages: each
    # batch touches most enterprises; a state was ~50 KB after the backlogs then, ~7 KB
    # since the profile's alerts and findings moved to day entries).
    state_flush_interval_s: float = Field(0.5, ge=0)
    # An agent batch: up to this many messages, or what came within this time. Under load
    # batches fill at once; the wait bounds the latency a trickle of traffic sees.
    batch_max_messages: int = Field(200, ge=1)
    batch_within_s: float = Field(0.05, gt=0)
    # Messages an agent may hold unprocessed (Faust's stream buffer; its default 4,096 of our
    # 100-record messages is ~160 MB per stream): two batches keep the agent fed.
    stream_buffer_messages: int = Field(1000, ge=1)
    # Allocations between young-generation collections of the cyclic GC, in the worker and
    # the store writer (CPython's default is 700). Both hold many long-lived objects and
    # allocate fast; at the default, collections cost a third of a worker's flow batch and
    # half of the writer's CPU. Our data has few reference cycles: refcounting frees it.
    gc_threshold: int = Field(50_000, ge=100)
    # The worker collects only between batches, at that threshold (`collect_between_batches`);
    # the automatic collector then backs it up at `gc_backstop_threshold`, above what a batch
    # allocates. Off: the worker collects as the store writer does.
    gc_between_batches: bool = True
    gc_backstop_threshold: int = Field(1_000_000, ge=100)
    # Table writes Faust may hold unsent before streams wait for them (see agents.app). A
    # state is ~5-10 KB under load, a day entry a few KB: the bound is also one on memory.
    producer_buffer_messages: int = Field(1_000, ge=1)
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    gateway: GatewaySettings = GatewaySettings()
    evidence: EvidenceLogSettings = EvidenceLogSettings()
    spool: SpoolSettings = SpoolSettings()
    writer: StoreWriterSettings = StoreWriterSettings()
    # Test-only: the store writer kills itself (SIGKILL) at this point; refused in production.
    fault_point: FaultPoint | None = None
    # Test-only: the store writer's first N inserts fail as if the store were unreachable.
    fault_store_failures: int = Field(0, ge=0)

    @property
    def spool_dir(self) -> Path:
        return self.spool.directory or self.data_dir / "spool"

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.environment == "production" and (self.fault_point or self.fault_store_failures):
            raise ValueError("XBMON_FAULT_POINT and XBMON_FAULT_STORE_FAILURES are for tests only")
        if (
            self.environment == "production"
            and self.clickhouse.backend == "server"
            and self.clickhouse.password.get_secret_value() in PLACEHOLDER_SECRETS
        ):
            raise ValueError("clickhouse.password is a placeholder; set XBMON_CLICKHOUSE__PASSWORD")
        pepper = self.gateway.key_pepper
        if (
            self.environment == "production"
            and pepper is not None
            and pepper.get_secret_value() in PLACEHOLDER_SECRETS
        ):
            raise ValueError("gateway.key_pepper is a placeholder; set XBMON_GATEWAY__KEY_PEPPER")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
