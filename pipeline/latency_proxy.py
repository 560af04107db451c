"""A TCP proxy that adds a fixed delay each way: a broker a network round trip away.

The embedded broker answers on loopback in microseconds, so a design that waits for the
broker once per batch, or once per record batch, looks free here and is not on a real
cluster (acks=all over a network: milliseconds). `xbmon bench --broker-rtt-ms` and
`scripts/bench_producer.py` put this in front of Tansu (which advertises the proxy's port,
so every connection goes through it). Each chunk is delivered `one_way_s` after it was
read, in order, without delaying the chunks behind it: a constant-latency link, not a slow
one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from pipeline.broker import DEFAULT_HOST, free_port


class LatencyProxy:
    """Forwards its own free `port` to `target_port`, each direction delayed by half
    `rtt_ms`."""

    def __init__(self, target_port: int, rtt_ms: float, host: str = DEFAULT_HOST) -> None:
        self.host, self.target_port = host, target_port
        self.one_way_s = rtt_ms / 2000
        self.port = free_port(host)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xbmon-latency-proxy", daemon=True)

    def start(self) -> LatencyProxy:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the latency proxy did not start")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connect, self.host, self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            # Open connections end here, inside the loop (not when collected after it closed).
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.host, self.target_port
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(1 << 20):
                queue.put_nowait((time.monotonic() + self.one_way_s, data))
        except OSError:
            pass
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(Exception):
                await delivering
            writer.close()
