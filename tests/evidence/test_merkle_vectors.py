"""The Merkle module against the public transparency-dev vectors (tests/fixtures/merkle)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.evidence_log import merkle

FIXTURES = Path(__file__).parents[1] / "fixtures" / "merkle"
CT_TREE = json.loads((FIXTURES / "ct_tree.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in CT_TREE["leaf_inputs_hex"]]


def b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def probes(kind: str) -> list[Any]:
    files = sorted((FIXTURES / "testdata" / kind).glob("*/*.json"))
    assert len(files) >= 15  # the copied selection is really there
    return [pytest.param(json.loads(f.read_text()), id=f"{f.parent.name}/{f.stem}") for f in files]


def test_hasher_vectors() -> None:
    vectors = json.loads((FIXTURES / "rfc6962_hasher.json").read_text())
    assert merkle.EMPTY_ROOT.hex() == vectors["empty_root_hex"]
    assert merkle.leaf_hash(b"").hex() == vectors["empty_leaf_hash_hex"]
    assert merkle.leaf_hash(vectors["leaf"]["input"].encode()).hex() == vectors["leaf"]["hash_hex"]
    node = vectors["node"]
    assert merkle.node_hash(node["left"].encode(), node["right"].encode()).hex() == node["hash_hex"]


def test_every_subtree_and_root_of_the_reference_tree() -> None:
    tree = merkle.LeafTree(LEAVES)
    for level, hashes in enumerate(CT_TREE["node_hashes_hex"]):
        width = 1 << level
        for index, expected in enumerate(hashes):
            assert tree.subtree(index * width, (index + 1) * width).hex() == expected
    for size, expected in enumerate(CT_TREE["root_hashes_hex"]):
        assert tree.root(size).hex() == expected
        assert merkle.Frontier.of(LEAVES[:size]).root().hex() == expected


def test_frontiers_are_the_reference_compact_ranges() -> None:
    nodes = CT_TREE["node_hashes_hex"]
    for size, compact in enumerate(CT_TREE["compact_trees"]):
        frontier = merkle.Frontier.of(LEAVES[:size])
        assert [h.hex() for h in frontier.hashes] == [nodes[lv][i] for lv, i in compact]


@pytest.mark.parametrize("probe", probes("inclusion"))
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    args = (
        probe["leafIdx"],
        probe["treeSize"],
        b64(probe["leafHash"]),
        [b64(p) for p in probe["proof"] or []],
        b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
        return
    merkle.verify_inclusion(*args)
    if probe["treeSize"] <= len(LEAVES) and b64(probe["leafHash"]) in LEAVES:
        # Our prover gives exactly the published proof.
        tree = merkle.LeafTree(LEAVES[: probe["treeSize"]])
        assert merkle.inclusion_proof(probe["leafIdx"], probe["treeSize"], tree.subtree) == args[3]


@pytest.mark.parametrize("probe", probes("consistency"))
def test_consistency_probe(probe: dict[str, Any]) -> None:
    size1, size2 = probe["size1"], probe["size2"]
    proof = [b64(p) for p in probe["proof"] or []]
    args = (size1, size2, b64(probe["root1"]), b64(probe["root2"]), proof)
    if probe["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
        return
    merkle.verify_consistency(*args)
    if 0 < size1 <= size2 <= len(LEAVES) and args[2] == merkle.LeafTree(LEAVES).root(size1):
        full = merkle.LeafTree(LEAVES[:size2])
        assert merkle.consistency_proof(size1, size2, full.subtree) == proof
        extension = merkle.FrontierExtension(
            merkle.Frontier.of(LEAVES[:size1]), LEAVES[size1:size2]
        )
        assert merkle.consistency_proof(size1, size2, extension.subtree) == proof
