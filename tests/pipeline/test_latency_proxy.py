"""The latency proxy: a constant-latency link (every chunk late by the same time), intact."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from pipeline.broker import free_port
from pipeline.embedded import Stack
from pipeline.latency_proxy import LatencyProxy
from pipeline.topics import TRANSFER_LOGS


def echo_server(port: int) -> threading.Thread:
    server = socket.create_server(("127.0.0.1", port))

    def serve() -> None:
        connection, _ = server.accept()
        with connection, server:
            while data := connection.recv(65536):
                connection.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def received(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += sock.recv(65536)
    return data


def test_a_round_trip_takes_the_configured_time_and_chunks_do_not_queue_behind_each_other() -> None:
    target = free_port()
    echo_server(target)
    proxy = LatencyProxy(target, rtt_ms=100).start()
    try:
        with socket.create_connection((proxy.host, proxy.port)) as sock:
            began = time.monotonic()
            sock.sendall(b"ping")
            assert received(sock, 4) == b"ping"
            assert 0.1 <= time.monotonic() - began < 0.5
            began = time.monotonic()
            chunks = [bytes([i]) * 1000 for i in range(20)]
            for chunk in chunks:  # 20 writes 10 ms apart: a slow link would add 20 x 100 ms
                sock.sendall(chunk)
                time.sleep(0.01)
            assert received(sock, 20_000) == b"".join(chunks)
            assert time.monotonic() - began < 0.2 + 0.1 + 0.4  # sending + one round trip + slack
    finally:
        proxy.stop()


def test_a_stack_puts_its_broker_a_round_trip_away(tmp_path: Path) -> None:
    with Stack(tmp_path, store=False, broker_rtt_ms=40) as stack:
        stack.start(workers=0)
        assert stack.proxy is not None and stack.bootstrap == f"127.0.0.1:{stack.proxy.port}"
        stack.producer.send(TRANSFER_LOGS.name, key=b"k", value=b"[]").get(timeout=30)
        began = time.monotonic()  # connected: one produce is one round trip through the proxy
        stack.producer.send(TRANSFER_LOGS.name, key=b"k", value=b"[]").get(timeout=30)
        assert time.monotonic() - began >= 0.04
