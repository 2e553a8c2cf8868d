import io

import pytest

from hdh_migrate.backends.base import ObjectInfo
from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.stages.inventory import Selection, inventory, selected


@pytest.mark.parametrize(
    ("key", "include", "exclude", "kept"),
    [
        ("a/b/x.csv", (), (), True),
        ("a/b/x.tmp", (), ("*.tmp",), False),
        ("a/_SUCCESS", (), ("_SUCCESS",), False),
        ("a/b/x.csv", ("*.parquet",), (), False),
        ("a/b/x.parquet", ("*.parquet",), ("a/b/*",), False),
        ("a/c/x.parquet", ("*.parquet",), ("a/b/*",), True),
        ("2019/01/x.csv", ("2019/*",), (), True),
    ],
)
def test_globs(key, include, exclude, kept):
    assert selected(key, include, exclude) is kept


@pytest.fixture
def source():
    backend = MemoryBackend("inventory-test", page_size=3)
    for key in ["in/a.csv", "in/b.tmp", "in/sub/c.csv", "in/d.csv", "out/e.csv", "in/big.csv"]:
        data = b"x" * (100 if key == "in/big.csv" else 5)
        backend.write(key, io.BytesIO(data), len(data))
    yield backend
    drop_store("inventory-test")


def test_inventory_selects_names_and_flags(source):
    sel = Selection(
        dataset="ds",
        prefix="in/",
        exclude=("*.tmp",),
        target_prefix="snds/",
        max_object_size=4200,  # a worst-case 4 KiB header + 5 bytes fits, 100 bytes do not
        segment_size=64,
    )
    entries = {e.relative: e for e in inventory(source, sel)}
    assert sorted(entries) == ["a.csv", "big.csv", "d.csv", "sub/c.csv"]
    assert entries["sub/c.csv"].target_key == "snds/sub/c.csv"
    assert entries["sub/c.csv"].object_id == "ds/sub/c.csv"
    assert entries["a.csv"].flag is None
    # 100 bytes plaintext + a worst-case header exceeds a 150-byte limit
    assert entries["big.csv"].flag and "too large" in entries["big.csv"].flag


def test_archive_and_bad_names_are_flagged():
    from hdh_migrate.stages.inventory import _flag
    from hdh_migrate.stages.names import NameChecker, NameRules

    sel = Selection(dataset="ds")
    archived = ObjectInfo("k", 1, extra={"access_tier": "Archive"})
    assert "archive" in (_flag(archived, "k", sel) or "")
    with NameChecker(NameRules(max_key_bytes=10)) as names:
        assert "longer" in (names.problem("k" * 11) or "")
        assert "control" in (names.problem("a\nb") or "")
