"""`xbmon push`: the enterprise side. A JSONL file to the gateway, in batches, resumably.

Lines are sent as NDJSON batches. A 422 (invalid) or 403 (another enterprise's) answer names
the refused records by index: they are reported with their line numbers and the rest of the
batch is sent again without them, so a bad line never costs the good ones; a batch over the
gateway's size limits (413) is halved. 429 waits for Retry-After; 5xx and connection errors back
off exponentially. After each acknowledged batch a checkpoint beside the file records the next
line, so an interrupted push resumes there (the gateway counts any re-sent id as a duplicate).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from pipeline.gateway.signing import sign

CHECKPOINT_SUFFIX = ".xbmon-push.json"
TRANSFER_LOGS_PATH = "/v1/transfer-logs"


class PushError(RuntimeError):
    """The push cannot go on (bad key, gateway unreachable after every retry)."""


@dataclass(frozen=True)
class PushOptions:
    url: str
    key: str
    batch_records: int = 500
    batch_bytes: int = 400 * 1024
    max_attempts: int = 8
    max_backoff_s: float = 30.0
    signed: bool = False
    restart: bool = False
    timeout_s: float = 60.0


@dataclass
class RefusedLine:
    line: int
    field: str
    message: str


@dataclass
class PushResult:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: list[RefusedLine] = field(default_factory=list)
    resumed_from: int = 1

    @property
    def refused_lines(self) -> int:
        return len({r.line for r in self.refused})

    def summary(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "refused": self.refused_lines,
            "resumed_from_line": self.resumed_from,
        }


def checkpoint_path(file: Path) -> Path:
    return file.with_name(file.name + CHECKPOINT_SUFFIX)


def _identity(file: Path) -> dict[str, int]:
    stat = file.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def read_checkpoint(file: Path) -> int:
    """The first line not yet acknowledged (1 when there is no checkpoint for this file)."""
    path = checkpoint_path(file)
    try:
        saved = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return 1
    if saved.get("file") != _identity(file):
        return 1  # the file changed since: start over (re-sent ids count as duplicates)
    return int(saved.get("next_line", 1))


def write_checkpoint(file: Path, next_line: int) -> None:
    path = checkpoint_path(file)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(orjson.dumps({"file": _identity(file), "next_line": next_line}))
    os.replace(temporary, path)


def batches(
    file: Path, start: int, records: int, max_bytes: int
) -> Iterator[list[tuple[int, bytes]]]:
    """(line number, bytes) of the non-blank lines from `start`, in batches."""
    batch: list[tuple[int, bytes]] = []
    size = 0
    with file.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if number < start or not line.strip():
                continue
            if batch and (len(batch) >= records or size + len(line) + 1 > max_bytes):
                yield batch
                batch, size = [], 0
            batch.append((number, line))
            size += len(line) + 1
    if batch:
        yield batch


class Pusher:
    def __init__(
        self,
        options: PushOptions,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.client = client or httpx.Client(base_url=options.url, timeout=options.timeout_s)
        self.sleep = sleep
        self.clock = clock

    def push(self, file: Path, progress: Callable[[int], None] = lambda n: None) -> PushResult:
        start = 1 if self.options.restart else read_checkpoint(file)
        result = PushResult(resumed_from=start)
        for batch in batches(file, start, self.options.batch_records, self.options.batch_bytes):
            self._send(batch, result)
            result.lines += len(batch)
            write_checkpoint(file, batch[-1][0] + 1)
            progress(len(batch))
        checkpoint_path(file).unlink(missing_ok=True)  # done: nothing to resume
        return result

    def _send(self, batch: list[tuple[int, bytes]], result: PushResult) -> None:
        """Send until accepted; records refused with 422 are reported and left out."""
        while batch:
            answer = self._post(b"\n".join(line for _, line in batch) + b"\n")
            if answer.status_code == 202:
                body = answer.json()
                result.accepted += int(body["accepted"])
                result.duplicates += int(body["duplicates"])
                return
            problem = _json(answer)
            if answer.status_code == 413 and len(batch) > 1:  # over the gateway's limits: halve
                half = len(batch) // 2
                self._send(batch[:half], result)
                self._send(batch[half:], result)
                return
            if answer.status_code in (403, 422) and problem.get("errors"):
                bad = {int(e["index"]) for e in problem["errors"]}
                for error in problem["errors"]:
                    line = batch[int(error["index"])][0]
                    result.refused.append(RefusedLine(line, error["field"], error["message"]))
                batch = [item for index, item in enumerate(batch) if index not in bad]
                continue
            if answer.status_code in (403, 413, 422):
                detail = str(problem.get("detail", answer.text))
                result.refused.extend(RefusedLine(line, "request", detail) for line, _ in batch)
                return
            raise PushError(
                f"gateway answered {answer.status_code}: {problem.get('detail', answer.text)}"
            )

    def _post(self, body: bytes) -> httpx.Response:
        """POST with retries: 429 honours Retry-After; 5xx and network errors back off."""
        backoff = 0.5
        for attempt in range(1, self.options.max_attempts + 1):
            headers = {
                "Authorization": f"Bearer {self.options.key}",
                "Content-Type": "application/x-ndjson",
            }
            if self.options.signed:
                headers.update(sign(self.options.key, body, self.clock()))
            try:
                answer = self.client.post(TRANSFER_LOGS_PATH, content=body, headers=headers)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
                wait = backoff
            else:
                if answer.status_code == 429:
                    failure = "rate limited"
                    wait = _retry_after(answer, backoff)
                elif answer.status_code >= 500:
                    failure = f"{answer.status_code}: {_json(answer).get('detail', answer.text)}"
                    wait = _retry_after(answer, backoff)
                else:
                    return answer
            if attempt == self.options.max_attempts:
                raise PushError(
                    f"gave up after {attempt} attempts ({failure}); run again to resume"
                )
            self.sleep(min(self.options.max_backoff_s, wait) * random.uniform(1.0, 1.25))
            backoff = min(self.options.max_backoff_s, backoff * 2)
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(answer: httpx.Response, default: float) -> float:
    value = answer.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else default


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
