"""A bounded, append-only, fsync'd on-disk spool of batches: pure file logic, no Kafka.

The store writer parks batches here when the store fails, so their Kafka offsets can be
committed without losing them, and drains them in order when the store is back.

Layout: one file per batch in `directory`, named by a zero-padded sequence number, so the
directory listing is the queue. A batch is written to `NNN.tmp`, fsync'd, renamed to
`NNN.batch` and the directory fsync'd: a batch is either wholly in the spool or not at all.
Each file is framed (magic, record count, body length, CRC-32 of the body; then each record as
length + bytes), so a file cut short or damaged is detected when read. On open, `*.tmp` files
(a write interrupted by a crash, whose offsets were therefore never committed) are deleted,
and a `.batch` file that fails its checks is moved to `corrupt/` and reported, never replayed
half-read.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

MAGIC: Final = b"XBS1"
_HEADER: Final = struct.Struct(">4sIQI")  # magic, record count, body length, body CRC-32
_LENGTH: Final = struct.Struct(">I")
SUFFIX: Final = ".batch"
TMP_SUFFIX: Final = ".tmp"
CORRUPT_DIR: Final = "corrupt"


class SpoolFullError(Exception):
    """The batch does not fit within the spool's bounds: pause consumption."""


class SpoolCorruptError(Exception):
    """A spool file failed its framing checks."""


@dataclass(frozen=True)
class SpoolEntry:
    sequence: int
    records: list[bytes]
    size: int  # bytes on disk


def encode_entry(records: Sequence[bytes]) -> bytes:
    """Header + length-prefixed records."""
    body = b"".join(_LENGTH.pack(len(r)) + r for r in records)
    return _HEADER.pack(MAGIC, len(records), len(body), zlib.crc32(body)) + body


def decode_entry(data: bytes) -> list[bytes]:
    """The records of a framed file; SpoolCorruptError if anything does not add up."""
    if len(data) < _HEADER.size:
        raise SpoolCorruptError(f"{len(data)} bytes: shorter than the header")
    magic, count, length, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != MAGIC:
        raise SpoolCorruptError(f"bad magic {magic!r}")
    if len(body) != length:
        raise SpoolCorruptError(f"body is {len(body)} bytes, header says {length} (torn write)")
    if zlib.crc32(body) != crc:
        raise SpoolCorruptError("CRC-32 mismatch")
    records: list[bytes] = []
    position = 0
    for _ in range(count):
        if position + _LENGTH.size > length:
            raise SpoolCorruptError("record length past the end of the body")
        (size,) = _LENGTH.unpack_from(body, position)
        position += _LENGTH.size
        if position + size > length:
            raise SpoolCorruptError("record past the end of the body")
        records.append(body[position : position + size])
        position += size
    if position != length:
        raise SpoolCorruptError("trailing bytes after the last record")
    return records


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """FIFO of batches on disk, bounded by `max_bytes` and `max_batches`.

    Not thread-safe; one process per directory (the store writer). `on_write` is called with
    the temporary file's path after half of a batch is written and before it is complete: a
    test hook (fault injection), never set in production.
    """

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        max_batches: int,
        on_write: Callable[[Path], None] | None = None,
    ) -> None:
        if max_bytes < 1 or max_batches < 1:
            raise ValueError("a spool needs room for at least one batch")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_batches = max_batches
        self.on_write = on_write
        self.directory.mkdir(parents=True, exist_ok=True)
        self.corrupt: list[Path] = []
        self._sizes: dict[int, int] = {}
        self._last_sequence = 0
        self._recover()

    # -- state --------------------------------------------------------------------------
    @property
    def batches(self) -> int:
        return len(self._sizes)

    @property
    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    def __len__(self) -> int:
        return self.batches

    def fits(self, records: Sequence[bytes]) -> bool:
        """Whether a batch of these records can be appended now.

        An empty spool always takes one batch, however large: a batch bigger than
        `max_bytes` would otherwise never be spooled.
        """
        if not self._sizes:
            return True
        size = _HEADER.size + sum(_LENGTH.size + len(r) for r in records)
        return self.batches < self.max_batches and self.size_bytes + size <= self.max_bytes

    def below(self, ratio: float) -> bool:
        """Whether the spool has drained below `ratio` of both bounds (resume consumption)."""
        return (
            self.batches <= self.max_batches * ratio and self.size_bytes <= self.max_bytes * ratio
        )

    # -- operations ---------------------------------------------------------------------
    def append(self, records: Sequence[bytes]) -> int:
        """Write a batch durably (fsync'd and renamed into place); return its sequence."""
        if not self.fits(records):
            raise SpoolFullError(
                f"spool holds {self.batches} batches / {self.size_bytes} bytes "
                f"(limits {self.max_batches} / {self.max_bytes})"
            )
        sequence = self._last_sequence + 1
        data = encode_entry(records)
        tmp = self.directory / f"{sequence:020d}{TMP_SUFFIX}"
        with tmp.open("wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            if self.on_write is not None:
                handle.flush()
                self.on_write(tmp)
            handle.write(data[half:])
            handle.flush()
            os.fsync(handle.fileno())
        tmp.rename(self._path(sequence))
        _fsync_dir(self.directory)
        self._sizes[sequence] = len(data)
        self._last_sequence = sequence
        return sequence

    def head(self) -> SpoolEntry | None:
        """The oldest batch, or None when empty. A corrupt file is set aside and skipped."""
        while self._sizes:
            sequence = min(self._sizes)
            path = self._path(sequence)
            try:
                records = decode_entry(path.read_bytes())
            except SpoolCorruptError as exc:
                self._set_aside(path, exc)
                del self._sizes[sequence]
                continue
            return SpoolEntry(sequence, records, self._sizes[sequence])
        return None

    def remove(self, sequence: int) -> None:
        """Drop a batch once it is stored (durably: the directory is fsync'd)."""
        self._path(sequence).unlink(missing_ok=True)
        _fsync_dir(self.directory)
        self._sizes.pop(sequence, None)

    # -- internals ----------------------------------------------------------------------
    def _path(self, sequence: int) -> Path:
        return self.directory / f"{sequence:020d}{SUFFIX}"

    def _recover(self) -> None:
        for tmp in sorted(self.directory.glob(f"*{TMP_SUFFIX}")):
            # Interrupted before its rename: its offsets were never committed, Kafka
            # redelivers it.
            log.warning("discarding an incomplete spool write %s", tmp.name)
            tmp.unlink()
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                sequence = int(path.name.removesuffix(SUFFIX))
            except ValueError:
                self._set_aside(path, SpoolCorruptError("not a spool file name"))
                continue
            data = path.read_bytes()
            try:
                decode_entry(data)
            except SpoolCorruptError as exc:
                self._set_aside(path, exc)
                continue
            self._sizes[sequence] = len(data)
            self._last_sequence = max(self._last_sequence, sequence)
        _fsync_dir(self.directory)

    def _set_aside(self, path: Path, exc: Exception) -> None:
        target = self.directory / CORRUPT_DIR
        target.mkdir(exist_ok=True)
        moved = target / path.name
        path.rename(moved)
        self.corrupt.append(moved)
        log.error("spool file %s is corrupt (%s); moved to %s", path.name, exc, moved)
