"""End to end: `xbmon keys create` + `xbmon push` through the gateway into the embedded
pipeline yields what `xbmon replay` finds in the same files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from pipeline.broker import free_port
from pipeline.embedded import Stack, all_partitions, wait_until
from pipeline.flow_aggregates import watermark_message
from pipeline.replay import replay_dir, sort_findings
from pipeline.stream_replay import END_OF_TIME, flow_messages
from pipeline.synth import synthesize, write_world
from pipeline.topics import EGRESS_FLOWS, FLOW_AGGREGATES, TRANSFER_LOGS
from schemas.models import Finding

pytestmark = pytest.mark.slow

PARTITIONS = 4
TIMEOUT = 120.0


def xbmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "XBMON_KEY": ""},
        check=False,
    )


def test_push_through_the_gateway_equals_replay(tmp_path: Path) -> None:
    world = synthesize(enterprises=8, days=3, seed=11)
    world_dir = tmp_path / "world"
    write_world(world, world_dir)
    lines = (world_dir / "transfer_logs.jsonl").read_bytes().splitlines()
    per_enterprise = Counter(orjson.loads(line)["enterprise_id"] for line in lines)
    pushed = [enterprise for enterprise, _ in per_enterprise.most_common(3)]
    files = {}
    for enterprise in pushed:
        files[enterprise] = tmp_path / f"{enterprise}.jsonl"
        files[enterprise].write_bytes(
            b"\n".join(x for x in lines if orjson.loads(x)["enterprise_id"] == enterprise) + b"\n"
        )

    gateway_dir = tmp_path / "gateway-data"
    stack = Stack(
        tmp_path / "stack",
        partitions=PARTITIONS,
        store=False,
        extra_env={"XBMON_WINDOWS_CLOSE": "end_of_input"},
    )
    with stack:
        stack.start(workers=1)
        port = free_port()
        stack.add_gateway(port, gateway_dir)
        stack.publish_reference([*world.enterprises, *world.filings, *world.negative_list])
        stack.produce(flow_messages(world.flows))
        wait_until(
            lambda: (
                stack.metric("xbmon_events_total", topic=EGRESS_FLOWS.name) >= len(world.flows)
                and stack.metric(
                    "xbmon_events_total", topic=FLOW_AGGREGATES.name, outcome="evaluated"
                )
                >= stack.metric("xbmon_flow_aggregates_sent_total")
            ),
            TIMEOUT,
            "flows to be aggregated",
        )

        for enterprise, file in files.items():
            created = xbmon("keys", "create", enterprise, "--data-dir", str(gateway_dir))
            assert created.returncode == 0, created.stderr
            key = created.stdout.strip().splitlines()[-1]
            sent = xbmon(
                "push", str(file), "--url", f"http://127.0.0.1:{port}", "--key", key, "--batch", "7"
            )
            assert sent.returncode == 0, sent.stderr
            summary = orjson.loads(sent.stdout.strip().splitlines()[-1])
            assert summary["accepted"] + summary["duplicates"] == per_enterprise[enterprise]
            assert summary["refused"] == 0

        in_topic = [
            record
            for _, value in stack.read_topic(TRANSFER_LOGS.name)
            for record in orjson.loads(value)
        ]
        distinct = {(r["enterprise_id"], r["transfer_id"]) for r in in_topic}
        assert len(in_topic) == len(distinct)  # a re-sent transfer_id is produced once
        wait_until(
            lambda: stack.metric("xbmon_events_total", topic=TRANSFER_LOGS.name) >= len(in_topic),
            TIMEOUT,
            "pushed logs to be evaluated",
        )
        stack.produce(
            all_partitions(FLOW_AGGREGATES.name, PARTITIONS, watermark_message(END_OF_TIME))
        )
        wait_until(
            lambda: (
                stack.metric("xbmon_events_total", topic=FLOW_AGGREGATES.name, outcome="watermark")
                >= PARTITIONS
                and stack.metric("xbmon_open_windows") == 0
            ),
            TIMEOUT,
            "every window to close",
        )
        streamed = sort_findings(
            stack.wait_for_findings(int(stack.metric("xbmon_findings_total")), TIMEOUT)
        )

    # The oracle: replay of the same records, received_at being the gateway's stamp (a
    # client's value is overwritten on arrival, spec/contracts.md).
    stamped = {(r["enterprise_id"], r["transfer_id"]): r["received_at"] for r in in_topic}
    replay_input = tmp_path / "replay"
    write_world(world, replay_input)
    kept = []
    for line in lines:
        record = orjson.loads(line)
        ident = (record["enterprise_id"], record["transfer_id"])
        if record["enterprise_id"] in files:
            kept.append(orjson.dumps({**record, "received_at": stamped[ident]}))
    (replay_input / "transfer_logs.jsonl").write_bytes(b"\n".join(kept) + b"\n")
    offline = replay_dir(replay_input)
    assert len(offline.findings) > 5
    assert streamed == offline.findings

    # And apart from the arrival-time rule, the same findings as the file as the client had it
    # (evidence hashes differ: the bundle holds the transfer with its received_at).
    original = tmp_path / "original"
    write_world(world, original)
    (original / "transfer_logs.jsonl").write_bytes(
        b"\n".join(x for x in lines if orjson.loads(x)["enterprise_id"] in files) + b"\n"
    )

    def verdicts(findings: list[Finding]) -> list[dict[str, object]]:
        return [
            f.model_dump(exclude={"evidence_hash"})
            for f in findings
            if f.rule_id != "XB-LATE-DECLARATION"
        ]

    assert verdicts(streamed) == verdicts(replay_dir(original).findings)
