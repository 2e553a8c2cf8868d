"""RFC 6962 / RFC 9162 Merkle trees: tree heads, inclusion and consistency proofs.

Hashes (RFC 6962 §2.1): leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right);
the tree head of n > 1 leaves splits at k, the largest power of two smaller than n;
the head of the empty tree is SHA-256 of the empty string.

Memory stays O(log n): ``CompactRange`` keeps one root per perfect subtree (the binary
digits of the size) and never the leaves; proofs are produced by streaming the leaf
hashes once and hashing only the ranges the proof needs (``range_hashes``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Range = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data): the hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """An append-only tree summarised by the roots of its perfect subtrees (O(log n)).

    ``nodes`` are ordered left to right, largest subtree first, one per set bit of
    ``size``. Appending merges equal-sized subtrees like a binary counter.
    """

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(nodes) != size.bit_count():
            raise ValueError(f"a compact range of size {size} has {size.bit_count()} nodes")
        if any(len(node) != HASH_SIZE for node in nodes):
            raise ValueError("compact range nodes must be 32-byte hashes")
        self._size = size
        self._nodes = list(nodes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(self._nodes)

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; return its index."""
        index, carry = self._size, self._size
        self._nodes.append(leaf)
        while carry & 1:
            right = self._nodes.pop()
            self._nodes[-1] = node_hash(self._nodes[-1], right)
            carry >>= 1
        self._size += 1
        return index

    def root(self) -> bytes:
        """The RFC 6962 tree head of the leaves appended so far."""
        if not self._nodes:
            return EMPTY_ROOT
        result = self._nodes[-1]
        for node in reversed(self._nodes[:-1]):
            result = node_hash(node, result)
        return result

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._nodes)


def mth(leaves: Iterable[bytes]) -> bytes:
    """The Merkle tree head of a sequence of leaf hashes, streamed."""
    tree = CompactRange()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose heads form the audit path of ``index`` in a tree of ``size``.

    RFC 6962 §2.1.1 PATH(m, D[n]), bottom-up order (the order verifiers consume).
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return _path(index, 0, size)


def _path(index: int, lo: int, hi: int) -> list[Range]:
    if hi - lo == 1:
        return []
    k = split_point(hi - lo)
    if index < lo + k:
        return [*_path(index, lo, lo + k), (lo + k, hi)]
    return [*_path(index, lo + k, hi), (lo, lo + k)]


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The leaf ranges whose heads form the consistency proof from ``first`` to ``second``.

    RFC 6962 §2.1.2 PROOF(m, D[n]); empty when first is 0 or equals second.
    """
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    return _subproof(first, 0, second, True)


def _subproof(m: int, lo: int, hi: int, whole: bool) -> list[Range]:
    n = hi - lo
    if m == n:
        return [] if whole else [(lo, hi)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(m, lo, lo + k, whole), (lo + k, hi)]
    return [*_subproof(m - k, lo + k, hi, False), (lo, lo + k)]


def range_hashes(leaves: Iterable[bytes], ranges: Sequence[Range]) -> list[bytes]:
    """The tree head of each ``[start, end)`` range, reading ``leaves`` once, in order.

    Memory is O(log n) per range open at the same time. Raises ValueError when the
    leaves run out before every range is complete.
    """
    heads: list[bytes | None] = [None] * len(ranges)
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    active: dict[int, CompactRange] = {}
    position = 0
    for index, leaf in enumerate(_until(leaves, max((end for _, end in ranges), default=0))):
        while position < len(order) and ranges[order[position]][0] == index:
            active[order[position]] = CompactRange()
            position += 1
        _feed(active, ranges, heads, index, leaf)
    if any(head is None for head in heads):
        raise ValueError("the leaves ended before the proof ranges were complete")
    return [head for head in heads if head is not None]


def _until(leaves: Iterable[bytes], end: int) -> Iterator[bytes]:
    for index, leaf in enumerate(leaves):
        if index >= end:
            return
        yield leaf


def _feed(
    active: dict[int, CompactRange],
    ranges: Sequence[Range],
    heads: list[bytes | None],
    index: int,
    leaf: bytes,
) -> None:
    for slot in list(active):
        active[slot].append(leaf)
        if ranges[slot][1] == index + 1:
            heads[slot] = active.pop(slot).root()


def inclusion_proof(leaves: Iterable[bytes], index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
    return range_hashes(leaves, inclusion_ranges(index, size))


def consistency_proof(leaves: Iterable[bytes], first: int, second: int) -> list[bytes]:
    """The RFC 6962 consistency proof between tree sizes ``first`` and ``second``."""
    return range_hashes(leaves, consistency_ranges(first, second))


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an audit path (RFC 9162 §2.1.3.2); ValueError if malformed."""
    if not 0 <= index < size or not _well_formed([leaf, *proof]):
        raise ValueError("malformed inclusion proof")
    fn, sn, result = index, size - 1, leaf
    for node in proof:
        if sn == 0:
            raise ValueError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = node_hash(node, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("inclusion proof is too short")
    return result


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree with ``root``."""
    try:
        return root_from_inclusion(leaf, index, size, proof) == root
    except ValueError:
        return False


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree of size ``second`` extends the one of ``first``.

    RFC 9162 §2.1.4.2. Degenerate cases: first == second needs an empty proof and equal
    roots; first == 0 needs an empty proof and the empty-tree head.
    """
    if not 0 <= first <= second or not _well_formed([first_root, second_root, *proof]):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    return _consistency_roots(first, second, first_root, proof) == (first_root, second_root)


def _consistency_roots(
    first: int, second: int, first_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes] | None:
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return (fr, sr) if sn == 0 else None


def _well_formed(hashes: Iterable[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)
