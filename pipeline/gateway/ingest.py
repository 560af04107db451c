"""From accepted records to the `transfer.logs` topic: acknowledged, once.

One message per request, keyed by the enterprise (so it lands on the enterprise's partition,
like every producer of the topic), produced with acks=all. A request is answered 202 only
after the broker acknowledged its message; only then are its transfer ids recorded as
accepted. When the answer was 503 because the acknowledgement did not come in time, the send
may still complete later: its ids stay "in flight", and a retry of them waits for that
outcome instead of producing them a second time, so the topic holds each accepted id once
(as long as one gateway process owns the data directory).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from pipeline.gateway.state import GatewayState
from pipeline.topics import TRANSFER_LOGS
from pipeline.wire import encode_batch
from schemas.models import TransferLog

log = logging.getLogger(__name__)


class BrokerUnavailableError(RuntimeError):
    """The broker did not acknowledge in time: nothing of the request counts as accepted."""


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


class Ingestor:
    def __init__(
        self,
        bootstrap: str,
        state: GatewayState,
        timeout_s: float,
        *,
        idempotence: bool = False,
        request_timeout_s: float = 60.0,
        max_request_bytes: int = 8 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bootstrap = bootstrap
        self.state = state
        self.timeout_s = timeout_s
        self.idempotence = idempotence
        self.request_timeout_s = max(request_timeout_s, timeout_s)
        self.max_request_bytes = max_request_bytes
        self.clock = clock
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._in_flight: dict[tuple[str, str], asyncio.Future[object]] = {}

    # --- producer lifecycle ----------------------------------------------------------------
    async def producer(self) -> AIOKafkaProducer:
        """The started producer; started on first use, so the gateway can start without a broker."""
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    enable_idempotence=self.idempotence,
                    request_timeout_ms=int(self.request_timeout_s * 1000),
                    max_request_size=self.max_request_bytes,
                    linger_ms=0,
                )
                try:
                    await asyncio.wait_for(producer.start(), self.timeout_s)
                except (KafkaError, OSError, TimeoutError) as exc:
                    await _quietly_stop(producer)
                    raise BrokerUnavailableError(f"broker unreachable: {exc!r}") from exc
                self._producer = producer
            return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await _quietly_stop(self._producer)
            self._producer = None

    async def ready(self, timeout_s: float = 2.0) -> bool:
        """The broker answers a metadata request."""
        try:
            producer = await self.producer()
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s)
        except (BrokerUnavailableError, KafkaError, OSError, TimeoutError):
            return False
        return True

    # --- ingestion -------------------------------------------------------------------------
    async def ingest(self, enterprise_id: str, records: list[TransferLog]) -> IngestResult:
        # One request of an enterprise at a time: two concurrent requests carrying the same
        # id cannot both find it new.
        async with self._locks[enterprise_id]:
            fresh, duplicates = await self._fresh(enterprise_id, records)
            if fresh:
                await self._produce(enterprise_id, fresh)
            return IngestResult(len(fresh), duplicates)

    async def _fresh(
        self, enterprise_id: str, records: list[TransferLog]
    ) -> tuple[list[TransferLog], int]:
        fresh: list[TransferLog] = []
        seen: set[str] = set()
        duplicates = 0
        for record in records:
            transfer_id = record.transfer_id
            if transfer_id in seen or self.state.accepted(enterprise_id, transfer_id):
                duplicates += 1
                continue
            seen.add(transfer_id)
            pending = self._in_flight.get((enterprise_id, transfer_id))
            if pending is not None and await self._landed(pending):
                duplicates += 1
                continue
            fresh.append(record)
        return fresh, duplicates

    async def _landed(self, pending: asyncio.Future[object]) -> bool:
        """Outcome of an earlier send of the same id; unknown after the timeout: 503 again."""
        try:
            await asyncio.wait_for(asyncio.shield(pending), self.timeout_s)
        except TimeoutError as exc:
            raise BrokerUnavailableError("an earlier send of these records is unresolved") from exc
        except Exception:
            return False
        return True

    async def _produce(self, enterprise_id: str, records: list[TransferLog]) -> None:
        ids = [r.transfer_id for r in records]
        producer = await self.producer()
        try:
            future = await asyncio.wait_for(
                producer.send(
                    TRANSFER_LOGS.name,
                    key=enterprise_id.encode(),
                    value=encode_batch(list[BaseModel](records)),
                ),
                self.timeout_s,
            )
        except (KafkaError, TimeoutError) as exc:  # never handed to the broker
            raise BrokerUnavailableError(f"broker did not take the message: {exc!r}") from exc
        for transfer_id in ids:
            self._in_flight[(enterprise_id, transfer_id)] = future
        future.add_done_callback(lambda f: self._settle(enterprise_id, ids, f))
        try:
            await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailableError(f"no acknowledgement from the broker: {exc!r}") from exc
        self._settle(enterprise_id, ids, future)

    def _settle(self, enterprise_id: str, ids: list[str], future: asyncio.Future[object]) -> None:
        """Record the ids of an acknowledged send; forget them as in flight either way."""
        if any(self._in_flight.get((enterprise_id, t)) is future for t in ids):
            if not future.cancelled() and future.exception() is None:
                self.state.accept(enterprise_id, ids, self.clock())
            for transfer_id in ids:
                if self._in_flight.get((enterprise_id, transfer_id)) is future:
                    del self._in_flight[(enterprise_id, transfer_id)]


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 5.0)
    except Exception:  # stopping a producer that never reached a broker
        log.debug("producer stop failed", exc_info=True)
