from __future__ import annotations

import hashlib

from pipeline.rules.evidence import canonical_json, evidence_hash, finding_id


def test_canonical_json_ignores_key_order_and_whitespace() -> None:
    a = {"b": 1, "a": [1, 2, {"z": None, "y": "中"}]}
    b = {"a": [1, 2, {"y": "中", "z": None}], "b": 1}
    assert canonical_json(a) == canonical_json(b)
    assert canonical_json(a) == '{"a":[1,2,{"y":"中","z":null}],"b":1}'.encode()


def test_evidence_hash_is_sha256_of_canonical_bytes() -> None:
    bundle = {"rule_id": "XB-PATH-MISSING", "n": 3}
    assert evidence_hash(bundle) == hashlib.sha256(canonical_json(bundle)).hexdigest()
    assert evidence_hash(bundle) != evidence_hash({**bundle, "n": 4})


def test_finding_ids_are_stable_and_unambiguous() -> None:
    first = finding_id("XB-THRESHOLD-CROSSED", "E", "t1", "subjects", 100000)
    assert first == finding_id("XB-THRESHOLD-CROSSED", "E", "t1", "subjects", 100000)
    assert first != finding_id("XB-THRESHOLD-CROSSED", "E", "t1", "subjects", 1000000)
    # Length-prefixed parts: moving a boundary between parts changes the id.
    assert finding_id("R", "E", "ab", "c") != finding_id("R", "E", "a", "bc")
    assert len(first) == 32 and int(first, 16) >= 0
