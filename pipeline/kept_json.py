"""JSON bytes sized for keeping.

`orjson.dumps` (3.12 and later) returns its working buffer as the bytes object, never
shrunk: at least 4 KiB, and containers are reserved by item count ahead of encoding, so the
allocation is 10-60x the encoded length (measured with tracemalloc: a 52-byte window held
4,098 bytes, a 3.9 KB list 260 KB; ijl/orjson, home-assistant/core#181245). Bytes that are
sent and dropped do not care. Bytes kept past the batch do: the worker caches an encoding on
every open window and Faust's memory store holds every state and day entry, and in one
default bench ~53k window encodings alone pinned 207 MB. `kept` copies into an object of the
exact size (~0.2 µs).
"""

from __future__ import annotations

from typing import Any

import orjson


def kept(encoded: bytes) -> bytes:
    """`encoded` in an allocation of its own length."""
    return memoryview(encoded).tobytes()


def dumps_kept(value: Any, option: int | None = None) -> bytes:
    """`orjson.dumps` for bytes that outlive the call (cached, or stored in a table)."""
    return kept(orjson.dumps(value, option=option))
