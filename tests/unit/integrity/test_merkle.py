"""RFC 6962 Merkle tree: published Certificate Transparency vectors and a naive reference."""

from __future__ import annotations

import hashlib

import pytest

from hdh_migrate.integrity import merkle

# The RFC 6962 test inputs used by Certificate Transparency implementations.
CT_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_LEAVES = [merkle.leaf_hash(data) for data in CT_INPUTS]


# --- a naive reference, written straight from RFC 6962 §2.1 (lists in memory) ---


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf-{i}".encode()) for i in range(n)]


# --- published vectors ---


def test_roots_match_the_published_vectors_for_every_size() -> None:
    for size in range(len(CT_LEAVES) + 1):
        assert merkle.mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size], size


def test_leaf_and_node_prefixes() -> None:
    assert merkle.leaf_hash(b"").hex() == CT_ROOTS[1]
    left, right = CT_LEAVES[0], CT_LEAVES[1]
    assert merkle.node_hash(left, right).hex() == CT_ROOTS[2]
    assert merkle.node_hash(right, left) != merkle.node_hash(left, right)


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_matches_published_vectors(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(iter(CT_LEAVES), index, size)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(CT_ROOTS[size])
    assert merkle.verify_inclusion(CT_LEAVES[index], index, size, proof, root)


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_consistency_matches_published_vectors(first: int, second: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(iter(CT_LEAVES), first, second)
    assert [p.hex() for p in proof] == path
    r1, r2 = bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
    assert merkle.verify_consistency(first, second, r1, r2, proof)


# --- cross-check against the naive reference, every shape up to 40 leaves ---


def test_compact_range_equals_reference_for_every_size() -> None:
    data = leaves(70)
    tree = merkle.CompactRange()
    for n in range(71):
        assert tree.root() == ref_mth(data[:n]), n
        assert len(tree.nodes) == n.bit_count()
        if n < 70:
            assert tree.append(data[n]) == n


def test_compact_range_restores_from_its_nodes() -> None:
    data = leaves(13)
    tree = merkle.CompactRange()
    for leaf in data[:9]:
        tree.append(leaf)
    restored = merkle.CompactRange(tree.size, tree.nodes)
    for leaf in data[9:]:
        restored.append(leaf)
    assert restored.root() == ref_mth(data)
    with pytest.raises(ValueError):
        merkle.CompactRange(9, tree.nodes[:1])


def test_every_inclusion_proof_matches_reference_and_verifies() -> None:
    data = leaves(40)
    for n in range(1, 41):
        root = ref_mth(data[:n])
        for m in range(n):
            proof = merkle.inclusion_proof(iter(data), m, n)
            assert proof == ref_path(m, data[:n]), (m, n)
            assert merkle.verify_inclusion(data[m], m, n, proof, root)
            assert not merkle.verify_inclusion(data[(m + 1) % n], m, n, proof, root) or n == 1


def test_every_consistency_proof_matches_reference_and_verifies() -> None:
    data = leaves(40)
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(iter(data), m, n)
            expected = [] if m == n else ref_subproof(m, data[:n], True)
            assert proof == expected, (m, n)
            assert merkle.verify_consistency(m, n, ref_mth(data[:m]), ref_mth(data[:n]), proof)


def test_mangled_proofs_are_rejected() -> None:
    data = leaves(23)
    for n in range(2, 24):
        root = ref_mth(data[:n])
        for m in range(n):
            proof = merkle.inclusion_proof(iter(data), m, n)
            flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
            assert not merkle.verify_inclusion(data[m], m, n, flipped, root)
            assert not merkle.verify_inclusion(data[m], m, n, proof[:-1], root)
            assert not merkle.verify_inclusion(data[m], m, n, [*proof, b"\xab" * 32], root)
            assert not merkle.verify_inclusion(data[m], m + 1, n, proof, root) or m + 1 < n
            first_root = ref_mth(data[:m]) if m else merkle.EMPTY_ROOT
            cproof = merkle.consistency_proof(iter(data), m, n) if m else []
            if cproof:
                bad = [*cproof[:-1], bytes([cproof[-1][0] ^ 0x80]) + cproof[-1][1:]]
                assert not merkle.verify_consistency(m, n, first_root, root, bad)
                assert not merkle.verify_consistency(m, n, first_root, root, cproof[:-1])
                assert not merkle.verify_consistency(m, n, root, first_root, cproof)


def test_degenerate_cases() -> None:
    data = leaves(8)
    r4, r5 = ref_mth(data[:4]), ref_mth(data[:5])
    assert merkle.verify_consistency(4, 4, r4, r4, [])
    assert not merkle.verify_consistency(4, 4, r4, r5, [])
    assert not merkle.verify_consistency(4, 4, r4, r4, [r4])
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, r5, [])
    assert not merkle.verify_consistency(0, 5, r4, r5, [])
    assert not merkle.verify_consistency(5, 4, r5, r4, [])
    assert not merkle.verify_consistency(4, 5, r4, r5, [])
    assert not merkle.verify_inclusion(data[0], 5, 5, [], r5)
    assert not merkle.verify_inclusion(data[0][:31], 0, 5, [], r5)
    assert merkle.verify_inclusion(data[0], 0, 1, [], data[0])
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(6, 5)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(iter(data[:3]), 0, 8)


def test_range_hashes_reads_only_what_it_needs() -> None:
    consumed: list[int] = []

    def stream() -> object:
        for i, leaf in enumerate(leaves(1000)):
            consumed.append(i)
            yield leaf

    proof = merkle.inclusion_proof(stream(), 3, 8)  # type: ignore[arg-type]
    assert len(proof) == 3
    assert max(consumed) <= 8
