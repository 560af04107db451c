"""The transfer agent: logs and attributed flow aggregates of the enterprises it owns.

Thin on purpose: raw events in, `WorkerContext.process_transfers`, then publish findings and
dead letters, write evidence, persist the touched enterprises' state. Nothing escapes the loop:
a batch that fails on a bug goes whole to the dead-letter topic, never silently acknowledged.
A batch's output is sent at once; waiting for the broker's acks (`settle`) and writing the
state (`persist`) run on a `SettleChain`, in order and one batch behind: the next batch is
evaluated while the broker acknowledges this one. The state of the batches of up to
`state_flush_interval_s` is written once, behind all of them; their events are acked after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import faust
from faust.types import TP, TableT
from mode import BaseSignalT

from agents.events import observe_ages, to_messages
from agents.output import Output
from agents.settle import SettleChain, Unsaved, hold, release
from pipeline import metrics
from pipeline.gc_tuning import after_batch
from pipeline.rules.state import EnterpriseState
from pipeline.state_codec import (
    day_key,
    decode_seen_chunk,
    decode_state,
    encode_seen_chunk,
    encode_state,
    seen_chunk_key,
)
from pipeline.stream_batch import DeadLetter, Message, partition_of
from pipeline.topics import ALERT_ACTIONS, FLOW_AGGREGATES, TRANSFER_LOGS
from pipeline.worker import WorkerContext

log = logging.getLogger(__name__)

STATE_TABLE = "enterprise-state"
SEEN_TABLE = "transfer-ids"  # archived chunks of evaluated transfer_ids, per enterprise
DAYS_TABLE = "enterprise-days"  # the scoring profile's alerts and findings, a day an entry
RESCORE_INTERVAL_S = 5.0
STAGE = metrics.BATCH_STAGE_SECONDS.labels


def no_entries(day: str) -> None:
    """A day-entry reader for when only the state value itself is wanted."""


@dataclass
class Snapshot:
    """What one write persists: states and the entries they refer to, by table key."""

    states: dict[bytes, bytes] = field(default_factory=dict)
    seen: dict[bytes, bytes] = field(default_factory=dict)  # archived transfer-id chunks
    days: dict[bytes, bytes | None] = field(default_factory=dict)  # None: delete the entry


def register_transfer_agent(app: faust.App, ctx: WorkerContext, output: Output) -> Any:
    settings = ctx.settings

    def enterprise_table(name: str) -> TableT[bytes, bytes]:
        """A table partitioned like the source topics (written from a take() batch): its keys
        are enterprise ids, or salted to hash like them (`seen_chunk_key`, `day_key`)."""
        return app.Table(
            name,
            partitions=settings.kafka.partitions,
            use_partitioner=True,
            key_type=bytes,
            value_type=bytes,
        )

    state = enterprise_table(STATE_TABLE)
    seen_ids = enterprise_table(SEEN_TABLE)
    days = enterprise_table(DAYS_TABLE)

    def load(enterprise_id: str) -> EnterpriseState | None:
        raw = state.get(enterprise_id.encode())
        return read(enterprise_id, raw) if raw is not None else None

    def read(enterprise_id: str, raw: bytes) -> EnterpriseState:
        """A state from its table value, with its day entries and archived transfer ids."""
        partitions = settings.kafka.partitions

        def read_day(day: str) -> bytes | None:
            entry = days.get(day_key(enterprise_id, day, partitions))
            if entry is None:
                log.error("alerts and findings of %s on %s missing", enterprise_id, day)
            return entry

        held = decode_state(raw, read_day)
        for index in range(held.archived_chunks):
            chunk = seen_ids.get(seen_chunk_key(enterprise_id, index, partitions))
            if chunk is None:
                log.error("archived transfer ids %s#%d missing", enterprise_id, index)
                continue
            held.seen_archive |= decode_seen_chunk(chunk)
        return held

    ctx.use_state_loader(load)

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
        revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
        # Another worker may own these enterprises next: our cached state of them goes stale.
        # (Faust waited for every held event first: `save_when_due` wrote the batches' states.)
        ctx.forget_partitions({tp.partition for tp in revoked if tp.topic == TRANSFER_LOGS.name})

    @state.on_recover
    async def _reload() -> None:
        # Recovered partitions: the table is the truth; load lazily from it, and eagerly for
        # enterprises with open windows so those still close on the watermark.
        for key, raw in list(state.items()):
            enterprise_id = key.decode()
            # Only these are read whole now (day entries, archived ids); the others when
            # next touched. The value alone says whether windows are open.
            if enterprise_id not in ctx.engine.states and decode_state(raw, no_entries).windows:
                ctx.engine.states[enterprise_id] = read(enterprise_id, raw)
        owned = [tp for tp in app.consumer.assignment() if tp.topic == TRANSFER_LOGS.name]
        metrics.ASSIGNED_PARTITIONS.set(len(owned))
        metrics.WORKER_READY.set(1)

    channel = app.topic(
        TRANSFER_LOGS.name,
        FLOW_AGGREGATES.name,
        ALERT_ACTIONS.name,
        key_serializer="raw",
        value_serializer="raw",
    )

    chain = SettleChain()  # batches' and timers' state writes, in the order states were taken
    unsaved = Unsaved(settings.state_flush_interval_s)

    @app.agent(channel, name="xbmon.transfers", concurrency=1)
    async def transfers(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        last: asyncio.Task[None] | None = None
        saver = loop.create_task(save_when_due()) if settings.state_flush_interval_s else None
        try:
            async for events in stream.take_events(
                settings.batch_max_messages, within=settings.batch_within_s
            ):
                messages = to_messages(events)
                observe_ages(metrics.TAKE_AGE, messages)
                metrics.BATCH_SIZE.labels("transfers").observe(len(messages))
                hold(events)  # acked once its state is written, or the batch dead-lettered
                try:
                    with STAGE("transfers", "evaluate").time():
                        out = ctx.process_transfers(messages)
                except Exception as exc:  # a bug, not data: keep every message of the batch
                    log.exception("transfer batch failed; dead-lettering %d", len(messages))
                    previous, last = last, chain.add(partial(dead_letter, messages, exc, events))
                else:
                    # Its place in the chain is taken before any await (a timer's snapshot
                    # after this point includes this batch, so must be saved after it).
                    sent: asyncio.Future[list[Awaitable[Any]]] = loop.create_future()
                    settled = partial(settle, sent, out.deadletters, messages)
                    previous, last = last, chain.add(settled)
                    unsaved.add(out.touched, events)
                    if unsaved.due():  # snapshot now, before any await: the cache may go
                        save_unsaved()
                    try:
                        with STAGE("transfers", "publish").time():
                            sent.set_result(await output.send(out, messages))
                    except Exception as exc:  # settle dead-letters the batch
                        sent.set_exception(exc)
                    finally:
                        if not sent.done():  # cancelled mid-send: the batch will be replayed
                            sent.cancel()
                    # Sent: the chain holds what settling needs, so the collection below
                    # does not walk the batch's findings, logs and rows (they are garbage).
                    del out
                after_batch(settings)  # collects: the batch's working set is gone now
                if previous is not None:  # one batch settles while the next is evaluated
                    with STAGE("transfers", "wait").time():
                        await asyncio.wait([previous])
        finally:
            if saver is not None:
                saver.cancel()
            save_unsaved()
            await chain.drain()

    async def settle(
        sent: asyncio.Future[list[Awaitable[Any]]],
        deadletters: list[DeadLetter],
        messages: list[Message],
    ) -> None:
        """Wait until the broker has acked a batch's output. Its state is written, and its
        events acked, by the `persist` queued after it: a crash before then replays the
        batch instead of losing its findings, and the state is written before the offsets
        can be committed."""
        try:
            with STAGE("transfers", "acks").time():
                await asyncio.gather(*await sent)
        except Exception as exc:  # the broker refused: keep every message of the batch
            log.exception("transfer batch not acknowledged; dead-lettering it")
            await output.dead_letter_batch(messages, exc)  # its events: acked by `persist`
            return
        output.acknowledged(deadletters, messages)

    def save_unsaved() -> None:
        """Queue one write of every state the batches since the last one touched, behind
        them on the chain; their events are acked once it is written. Call synchronously
        after an evaluation: the snapshot must be the state the batches before it left."""
        touched, events = unsaved.take()
        if not events:
            return
        with STAGE("transfers", "snapshot").time():
            snapshot = snapshot_states(touched)
        chain.add(partial(persist, snapshot, events))

    async def persist(snapshot: Snapshot, events: Sequence[Any]) -> None:
        with STAGE("transfers", "persist").time():
            write(snapshot)
        release(app, events)

    def write(snapshot: Snapshot) -> None:
        """The entries a state refers to first, then the states."""
        for key, raw in snapshot.seen.items():
            seen_ids[key] = raw
        for key, entry in snapshot.days.items():
            if entry is not None:
                days[key] = entry
            elif key in days:
                del days[key]  # a tombstone in the changelog
        for key, raw in snapshot.states.items():
            state[key] = raw
        for table, written in (
            (SEEN_TABLE, snapshot.seen.values()),
            (DAYS_TABLE, snapshot.days.values()),
            (STATE_TABLE, snapshot.states.values()),
        ):
            metrics.STATE_BYTES.labels(table).inc(sum(len(raw or b"") for raw in written))

    async def dead_letter(
        messages: list[Message], exc: BaseException, events: Sequence[Any]
    ) -> None:
        await output.dead_letter_batch(messages, exc)
        release(app, events)

    def snapshot_states(touched: Iterable[str]) -> Snapshot:
        """Encoded states, the transfer-id chunks archived now and their changed day entries."""
        snapshot = Snapshot()
        partitions = settings.kafka.partitions
        for eid in touched:
            held = ctx.engine.states.get(eid)
            if held is None:
                continue
            archived = held.archive_seen(settings.seen_chunk_ids)
            if archived is not None:
                key = seen_chunk_key(eid, archived[0], partitions)
                snapshot.seen[key] = encode_seen_chunk(archived[1])
            encoded = encode_state(held)
            for day, entry in encoded.days.items():
                snapshot.days[day_key(eid, day, partitions)] = entry
            snapshot.states[eid.encode()] = encoded.value
        return snapshot

    def ownership() -> Callable[[str], bool]:
        """Whether this worker owns an enterprise, by the assignment as of now (read once: a
        timer asks it for every enterprise held)."""
        mine = {tp.partition for tp in app.consumer.assignment() if tp.topic == TRANSFER_LOGS.name}
        return lambda enterprise_id: partition_of(enterprise_id, settings.kafka.partitions) in mine

    async def rescore(enterprise_ids: set[str], trigger: str) -> None:
        """Score outside a batch, `rescore_slice` enterprises at a time, each slice persisted
        like a batch would be (timers: no source offsets).

        Scoring is synchronous: the daily decay of every owned enterprise in one go held the
        event loop (and so every batch, and the consumer's heartbeats) for as long as all of
        them took. Between slices the loop serves the agents.
        """
        ordered = sorted(enterprise_ids)
        size = settings.rescore_slice
        for start in range(0, len(ordered), size):
            await rescore_slice(ordered[start : start + size], trigger)

    async def rescore_slice(enterprise_ids: list[str], trigger: str) -> None:
        # A rebalance between slices may have given some of them to another worker.
        enterprise_ids = list(filter(ownership(), enterprise_ids))
        for enterprise_id in enterprise_ids:
            if enterprise_id in ctx.engine.states:
                continue  # cached: the table holds nothing newer
            held = load(enterprise_id)
            if held is not None:
                ctx.engine.states[enterprise_id] = held
        # The batches evaluated before this: their write goes first, of their states as they
        # left them (their findings must be acknowledged first, and their seen ids: a replay
        # would count them twice), and an encoding is written in the order it was taken (it
        # writes only the day entries that changed since the one before).
        save_unsaved()
        out = ctx.rescore(enterprise_ids, trigger)
        snapshot = snapshot_states(out.touched)

        async def publish_and_save() -> None:
            await output.publish_supervision(out)
            await output.store(out, [])
            write(snapshot)

        await asyncio.wait([chain.add(publish_and_save)])

    async def reference_changes() -> None:
        # A new, changed or revoked filing changes the enterprise's credit: re-score it.
        # Only enterprises with a history: a register of 100k enterprises loaded at start-up
        # must not mean 100k scores and state writes; the others are scored when first active.
        owned = ownership()
        dirty = {
            e
            for e in ctx.dirty
            if owned(e) and (e in ctx.engine.states or state.get(e.encode()) is not None)
        }
        ctx.dirty.clear()
        if dirty:
            await rescore(dirty, "filing")
        # Enterprises active since their last score (batches score only the urgent ones).
        owned = ownership()  # a rebalance may have come during the re-scores' awaits
        active = {e for e in ctx.supervisor.deferred if owned(e)} - dirty
        ctx.supervisor.deferred.clear()
        if active:
            await rescore(active, "activity")
        ctx.update_gauges(ownership())

    async def daily() -> None:
        # Decay: findings weigh less every day even when nothing happens.
        owned = ownership()
        await rescore({key.decode() for key in list(state.keys()) if owned(key.decode())}, "daily")

    async def save_when_due() -> None:
        """When batches stop coming, their state is still written and their events acked; at
        once when the worker stops or a rebalance starts. Not an app timer: Faust stops its
        timers, then waits for every held event to be acked before the agents stop (the
        worker hung until killed)."""
        tick = min(settings.state_flush_interval_s / 2, 0.1)  # a stop waits at most this
        while True:
            await asyncio.sleep(tick)
            if unsaved.due() or app.should_stop or app.rebalancing:
                try:
                    save_unsaved()
                except Exception:  # a bug: the batches' events stay held, so they replay
                    log.exception("writing the batches' states failed")

    app.timer(RESCORE_INTERVAL_S)(reference_changes)
    app.timer(settings.score_decay_interval_s)(daily)
    return transfers
