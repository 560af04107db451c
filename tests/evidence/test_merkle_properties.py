"""Property tests: random append sequences, every proof verifies, every corruption is refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.evidence_log import merkle


def leaves_of(count: int, salt: int = 0) -> list[bytes]:
    return [merkle.leaf_hash(f"{salt}:{i}".encode()) for i in range(count)]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, recursively, as an independent oracle."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8))
def test_append_sequences_prove_inclusion_and_consistency(batches: list[int]) -> None:
    """Seal after every batch, as the sequencer does: each head consistent with all earlier."""
    leaves = leaves_of(sum(batches))
    frontier = merkle.Frontier()
    heads: list[tuple[int, bytes]] = []
    for batch in batches:
        old = frontier.copy()
        new = leaves[frontier.size : frontier.size + batch]
        for leaf in new:
            frontier.append(leaf)
        root = frontier.root()
        assert root == reference_root(leaves[: frontier.size])
        if old.size:
            extension = merkle.FrontierExtension(old, new)
            proof = merkle.consistency_proof(old.size, frontier.size, extension.subtree)
            merkle.verify_consistency(old.size, frontier.size, old.root(), root, proof)
        heads.append((frontier.size, root))
    tree = merkle.LeafTree(leaves)
    for i, (size1, root1) in enumerate(heads):
        for size2, root2 in heads[i:]:
            proof = merkle.consistency_proof(size1, size2, tree.subtree)
            merkle.verify_consistency(size1, size2, root1, root2, proof)
        for index in range(size1):
            proof = merkle.inclusion_proof(index, size1, tree.subtree)
            merkle.verify_inclusion(index, size1, leaves[index], proof, root1)


def flip(data: bytes, position: int, bit: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=2, max_value=70),
    index=st.integers(min_value=0),
    target=st.sampled_from(["leaf", "root", "proof"]),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_breaks_an_inclusion_proof(
    size: int, index: int, target: str, position: int, bit: int
) -> None:
    index %= size
    leaves = leaves_of(size, salt=size)
    tree = merkle.LeafTree(leaves)
    leaf, root = leaves[index], tree.root()
    proof = merkle.inclusion_proof(index, size, tree.subtree)
    merkle.verify_inclusion(index, size, leaf, proof, root)
    if target == "leaf":
        leaf = flip(leaf, position, bit)
    elif target == "root":
        root = flip(root, position, bit)
    else:
        which = position % len(proof)
        proof = [*proof[:which], flip(proof[which], position // 7, bit), *proof[which + 1 :]]
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, size, leaf, proof, root)


@settings(max_examples=150, deadline=None)
@given(
    size2=st.integers(min_value=2, max_value=70),
    size1=st.integers(min_value=1),
    target=st.sampled_from(["root1", "root2", "proof"]),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_breaks_a_consistency_proof(
    size2: int, size1: int, target: str, position: int, bit: int
) -> None:
    size1 = 1 + size1 % (size2 - 1)  # 1 <= size1 < size2
    tree = merkle.LeafTree(leaves_of(size2, salt=size2))
    root1, root2 = tree.root(size1), tree.root()
    proof = merkle.consistency_proof(size1, size2, tree.subtree)
    merkle.verify_consistency(size1, size2, root1, root2, proof)
    if target == "root1":
        root1 = flip(root1, position, bit)
    elif target == "root2":
        root2 = flip(root2, position, bit)
    else:
        which = position % len(proof)
        proof = [*proof[:which], flip(proof[which], position // 7, bit), *proof[which + 1 :]]
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(size1, size2, root1, root2, proof)


def test_a_rewritten_history_is_not_consistent() -> None:
    """Same size, one leaf replaced: no proof from the honest head reaches the forged one."""
    honest = leaves_of(13)
    forged = [*honest[:5], merkle.leaf_hash(b"forged"), *honest[6:]]
    old_root = merkle.LeafTree(honest).root(9)
    forged_tree = merkle.LeafTree(forged)
    proof = merkle.consistency_proof(9, 13, forged_tree.subtree)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(9, 13, old_root, forged_tree.root(), proof)


def test_bad_requests_are_refused() -> None:
    tree = merkle.LeafTree(leaves_of(4))
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(4, 4, tree.subtree)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(0, 4, tree.subtree)
    with pytest.raises(merkle.ProofError):
        merkle.Frontier(3, [b"\0" * 32])  # a tree of 3 has two frontier hashes
