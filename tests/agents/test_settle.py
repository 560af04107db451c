"""The settle chain: batches' state writes in order, one batch behind, acks held until then."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types.tuples import TP, ConsumerMessage

from agents.settle import SettleChain, Unsaved, hold, release


def test_steps_run_in_the_order_added_whatever_each_waits() -> None:
    done: list[str] = []

    async def step(name: str, wait_s: float) -> None:
        await asyncio.sleep(wait_s)
        done.append(name)

    async def scenario() -> None:
        chain = SettleChain()
        chain.add(lambda: step("slow first", 0.05))
        chain.add(lambda: step("quick second", 0.0))
        last = chain.add(lambda: step("third", 0.01))
        assert done == []  # adding never waits for a step
        await chain.drain()
        assert last.done()

    asyncio.run(scenario())
    assert done == ["slow first", "quick second", "third"]


def test_a_failing_step_is_logged_and_the_next_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []

    async def fails() -> None:
        raise RuntimeError("broken step")

    async def records() -> None:
        done.append("after")

    async def scenario() -> None:
        chain = SettleChain()
        chain.add(fails)
        await asyncio.wait([chain.add(records)])

    asyncio.run(scenario())
    assert done == ["after"]
    assert "settling a batch failed" in caplog.text and "broken step" in caplog.text


def test_drain_of_an_empty_chain_returns() -> None:
    asyncio.run(SettleChain().drain())


@dataclass
class Consumer:
    acked: list[int] = field(default_factory=list)

    def ack(self, message: ConsumerMessage) -> bool:  # as Faust's: marks it, records it
        message.acked = True
        self.acked.append(message.offset)
        return True


@dataclass
class Sensors:
    out: list[int] = field(default_factory=list)

    def on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        self.out.append(offset)


@dataclass
class App:
    consumer: Consumer = field(default_factory=Consumer)
    sensors: Sensors = field(default_factory=Sensors)


@dataclass
class Event:
    message: ConsumerMessage


def event(offset: int) -> Event:
    message = ConsumerMessage("transfer.logs", 0, offset, 0.0, 0, None, b"k", b"[]", None)
    message.incref()  # the stream's reference, as the channel takes it on delivery
    return Event(message)


def test_held_events_outlive_the_take_ack_and_are_committable_once_released() -> None:
    app = App()
    events = [event(7), event(8)]
    hold(events)
    for e in events:  # what take_events does when the agent asks for the next batch
        e.message.ack(app.consumer)  # type: ignore[arg-type]
    assert app.consumer.acked == [] and not any(e.message.acked for e in events)
    release(app, events)
    assert app.consumer.acked == [7, 8] and app.sensors.out == [7, 8]
    release(app, events)  # acking twice changes nothing
    assert app.consumer.acked == [7, 8]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_unsaved_batches_are_due_when_the_oldest_has_waited_the_interval() -> None:
    clock = Clock()
    unsaved = Unsaved(0.5, clock)
    assert not unsaved.due()  # nothing gathered: nothing to write
    unsaved.add({"E1"}, ["a"])
    clock.now += 0.3
    unsaved.add({"E2", "E1"}, ["b", "c"])
    assert not unsaved.due()
    clock.now += 0.2  # 0.5 s since the first batch, 0.2 s since the second
    assert unsaved.due()
    assert unsaved.take() == ({"E1", "E2"}, ["a", "b", "c"])
    assert not unsaved.due() and unsaved.take() == (set(), [])
    unsaved.add({"E3"}, ["d"])  # the interval counts again from the next batch
    clock.now += 0.49
    assert not unsaved.due()


def test_unsaved_with_no_interval_is_due_after_every_batch() -> None:
    unsaved = Unsaved(0.0, Clock())
    unsaved.add({"E1"}, ["a"])
    assert unsaved.due()
