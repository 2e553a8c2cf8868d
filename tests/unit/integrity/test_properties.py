"""Property tests: canonical JSON round trips; Merkle proofs hold for any sizes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hdh_migrate.integrity import merkle
from hdh_migrate.integrity.canonical import decode_canonical, encode_canonical

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_round_trip(value: object) -> None:
    encoded = encode_canonical(value)
    assert decode_canonical(encoded) == value
    assert encode_canonical(decode_canonical(encoded)) == encoded


@settings(max_examples=60)
@given(st.integers(1, 300), st.data())
def test_proofs_hold_for_any_sizes(n: int, data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    m = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, m - 1))
    root_m, root_n = merkle.mth(leaves[:m]), merkle.mth(leaves)
    path = merkle.inclusion_proof(iter(leaves), index, m)
    assert merkle.verify_inclusion(leaves[index], index, m, path, root_m)
    proof = merkle.consistency_proof(iter(leaves), m, n)
    assert merkle.verify_consistency(m, n, root_m, root_n, proof)
    if m < n:
        other = merkle.mth([*leaves[: m - 1], merkle.leaf_hash(b"x")])
        assert not merkle.verify_consistency(m, n, other, root_n, proof)
