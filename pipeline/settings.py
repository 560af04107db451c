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
    batch_max_messages: int = Field(500, ge=1)
    batch_within_s: float = Field(0.2, gt=0)
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    spool: SpoolSettings = SpoolSettings()
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
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
