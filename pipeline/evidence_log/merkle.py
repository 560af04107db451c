"""RFC 9162 (RFC 6962) Merkle tree hashing and proofs, pure: no I/O, no clock.

leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), the tree of n leaves
splits at the largest power of two below n (RFC 9162 §2.1.1). Proof generation follows
§2.1.3.1 / §2.1.4.1 over any `SubtreeHash` (a function giving MTH(D[start:end])), so the
same code proves from every stored leaf hash (`LeafTree`) or, when sealing, from the
previous tree's frontier plus the new leaves only (`FrontierExtension`). Verification
follows §2.1.3.2 / §2.1.4.2 and is checked against the transparency-dev test vectors
(tests/fixtures/merkle).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: MTH(D[start:end]) of the tree being proven, for 0 <= start < end <= size.
SubtreeHash = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof does not verify, or a request for one is out of range."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves given by their leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return Frontier.of(leaf_hashes).root()


# -- the frontier (compact range) -----------------------------------------------------------


class Frontier:
    """Right edge of a tree: the roots of its maximal complete subtrees, left to right.

    Holds popcount(size) hashes; appending is O(log n) amortised and the root needs no other
    node, so a sequencer keeps only this between tree heads.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ProofError(
                f"a frontier of a tree of {size} leaves has {max(size, 0).bit_count()} hashes, "
                f"got {len(hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ProofError("frontier hashes must be 32 bytes")
        self.size = size
        self.hashes = list(hashes)

    @classmethod
    def of(cls, leaf_hashes: Sequence[bytes]) -> Frontier:
        frontier = cls()
        for h in leaf_hashes:
            frontier.append(h)
        return frontier

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def append(self, leaf: bytes) -> None:
        if len(leaf) != HASH_SIZE:
            raise ProofError("a leaf hash must be 32 bytes")
        self.hashes.append(leaf)
        self.size += 1
        merges = (self.size & -self.size).bit_length() - 1  # trailing zeros: completed levels
        for _ in range(merges):
            right = self.hashes.pop()
            self.hashes[-1] = node_hash(self.hashes[-1], right)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            result = node_hash(h, result)
        return result

    def ranges(self) -> list[tuple[int, int]]:
        """The [start, end) leaf range each hash covers."""
        out = []
        start = 0
        for bit in reversed(range(self.size.bit_length())):
            if self.size >> bit & 1:
                out.append((start, start + (1 << bit)))
                start += 1 << bit
        return out


# -- sources of subtree hashes ----------------------------------------------------------------


class LeafTree:
    """Every leaf hash of a tree, with the complete aligned subtrees cached level by level.

    MTH of any range the RFC recursion asks for costs O(log n) after an O(n) build.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        if any(len(h) != HASH_SIZE for h in leaf_hashes):
            raise ProofError("leaf hashes must be 32 bytes")
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def subtree(self, start: int, end: int) -> bytes:
        if not 0 <= start < end <= self.size:
            raise ProofError(f"no subtree [{start}, {end}) in a tree of {self.size}")
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.levels[n.bit_length() - 1][start // n]
        k = split_point(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return EMPTY_ROOT if size == 0 else self.subtree(0, size)


class FrontierExtension:
    """The subtrees a consistency proof from an old tree to old + new leaves needs.

    Those lying in the old tree are always hashes of its frontier (RFC 9162 §2.1.4.1 only
    asks for the complete subtrees it is made of); those lying past it, new leaves only.
    """

    def __init__(self, old: Frontier, new_leaves: Sequence[bytes]) -> None:
        self.old_size = old.size
        self.known = dict(zip(old.ranges(), old.hashes, strict=True))
        self.new = LeafTree(new_leaves) if new_leaves else None
        self.size = old.size + len(new_leaves)

    def subtree(self, start: int, end: int) -> bytes:
        if end <= self.old_size:
            try:
                return self.known[(start, end)]
            except KeyError:
                raise ProofError(f"[{start}, {end}) is not a frontier subtree") from None
        if start >= self.old_size and self.new is not None:
            return _mth(self.new, start - self.old_size, end - self.old_size)
        raise ProofError(f"[{start}, {end}) straddles the old tree's edge")


def _mth(tree: LeafTree, start: int, end: int) -> bytes:
    # Ranges of new leaves are not aligned to the global tree: hash by the definition.
    n = end - start
    if n == 1:
        return tree.levels[0][start]
    if n & (n - 1) == 0 and start % n == 0:
        return tree.subtree(start, end)
    k = split_point(n)
    return node_hash(_mth(tree, start, start + k), _mth(tree, start + k, end))


# -- proofs -----------------------------------------------------------------------------------


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
    proof.reverse()  # the recursion emits the deepest sibling last
    return proof


def consistency_proof(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1); empty when the sizes are equal."""
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from {size1} to {size2}")
    proof: list[bytes] = []
    start, m, n, complete = 0, size1, size2, True
    while m != n:
        k = split_point(n)
        if m <= k:
            proof.append(subtree(start + k, start + n))
            n = k
        else:
            proof.append(subtree(start, start + k))
            start, m, n, complete = start + k, m - k, n - k, False
    if not complete:
        proof.append(subtree(start, start + m))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf `index` of a tree of `size` under `root`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError("the leaf hash is not 32 bytes")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless `proof` shows tree (size1, root1) is a prefix of (size2, root2)."""
    if size2 < size1:
        raise ProofError(f"the tree shrank from {size1} to {size2} leaves")
    if size1 == size2:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if root1 != root2:
            raise ProofError(f"two different roots for the same size {size1}")
        return
    if size1 == 0:
        raise ProofError("consistency with the empty tree needs no proof and proves nothing")
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_hashes(proof)
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != root1:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != root2:
        raise ProofError("the consistency proof does not lead to the new root")


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a proof hash is not 32 bytes")
