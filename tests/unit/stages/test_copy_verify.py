"""The copy and verify work units on in-memory backends with a file KEK."""

import hashlib
import io
import os
import uuid

import pytest

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.errors import PreconditionFailedError, RetryableError, ThrottledError
from hdh_migrate.keys import FileKeySpec, generate_key_file
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.copy import copy_object
from hdh_migrate.stages.items import CopyItem, Spec, VerifyItem
from hdh_migrate.stages.retry import RetryPolicy
from hdh_migrate.stages.verify import sample_drawn, verify_object

FAST = RetryPolicy(attempts=3, initial=0.001, maximum=0.001, throttle_initial=0.001)
SEG = 1 << 10


@pytest.fixture
def world(tmp_path):
    names = (f"src-{uuid.uuid4().hex}", f"dst-{uuid.uuid4().hex}")
    key_path = tmp_path / "kek"
    generate_key_file(key_path)
    yield {
        "source": Spec(MemorySpec(names[0]), names[0]),
        "target": Spec(MemorySpec(names[1]), names[1]),
        "kek": Spec(FileKeySpec(path=str(key_path)), "kek"),
        "clients": Clients(),
        "src": MemoryBackend(names[0]),
        "dst": MemoryBackend(names[1]),
    }
    for name in names:
        drop_store(name)


def put(world, key, data):
    return world["src"].write(key, io.BytesIO(data), len(data))


def item_for(world, key, *, md5=None, **extra):
    info = world["src"].stat(key)
    return CopyItem(
        dataset="ds",
        key=key,
        size=info.size,
        etag=info.etag,
        object_id=f"ds/{key}",
        target_key=f"enc/{key}",
        source=world["source"],
        target=world["target"],
        kek=world["kek"],
        content_md5=md5,
        segment_size=SEG,
        min_part_size=4 * SEG,
        **extra,
    )


def verify_item(world, item, result, mode):
    return VerifyItem(
        dataset="ds",
        key=item.key,
        object_id=item.object_id,
        target_key=item.target_key,
        target=world["target"],
        kek=world["kek"],
        mode=mode,
        plaintext_sha256=result.plaintext_sha256,
        plaintext_size=result.size,
        ciphertext_size=result.target_size,
        target_etag=result.target_etag,
    )


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 9 * SEG + 7])
def test_copy_then_every_verify_mode_passes(world, size):
    data = os.urandom(size)
    put(world, "a/b.bin", data)
    item = item_for(world, "a/b.bin", md5=hashlib.md5(data).hexdigest())
    result = copy_object(item, world["clients"], FAST)
    assert result.state == "copied", result.error
    assert result.plaintext_sha256 == hashlib.sha256(data).hexdigest()
    stored = world["dst"].open_read("enc/a/b.bin").read()
    assert result.ciphertext_sha256 == hashlib.sha256(stored).hexdigest()
    assert len(data) < 16 or data not in stored  # only ciphertext at the target
    assert world["dst"].stat("enc/a/b.bin").metadata.get("hdh-format") == "HDH1"
    for mode in ("full", "header", "metadata"):
        check = verify_object(verify_item(world, item, result, mode), world["clients"])
        assert check.ok, (mode, check.reason)


def test_one_flipped_byte_at_the_target_fails_full_and_header(world):
    data = os.urandom(3 * SEG)
    put(world, "x", data)
    item = item_for(world, "x")
    result = copy_object(item, world["clients"], FAST)
    stored = bytearray(world["dst"].open_read("enc/x").read())
    stored[-3] ^= 0x01  # inside the final segment's tag
    world["dst"].write("enc/x", io.BytesIO(bytes(stored)), len(stored))
    for mode in ("full", "header"):
        check = verify_object(verify_item(world, item, result, mode), world["clients"])
        assert not check.ok and check.reason, mode


def test_a_truncated_target_fails_every_mode(world):
    data = os.urandom(2 * SEG)
    put(world, "x", data)
    item = item_for(world, "x")
    result = copy_object(item, world["clients"], FAST)
    stored = world["dst"].open_read("enc/x").read()[:-16]
    world["dst"].write("enc/x", io.BytesIO(stored), len(stored))
    for mode in ("full", "header", "metadata"):
        assert not verify_object(verify_item(world, item, result, mode), world["clients"]).ok


def test_wrong_content_md5_fails_and_leaves_nothing(world):
    put(world, "x", b"hello")
    result = copy_object(item_for(world, "x", md5="0" * 32), world["clients"], FAST)
    assert result.state == "failed" and "Content-MD5" in result.error
    assert list(world["dst"].list()) == []


def test_a_source_changed_before_the_copy_is_copied_at_its_new_version(world):
    put(world, "x", b"old")
    item = item_for(world, "x")
    put(world, "x", b"new contents")
    result = copy_object(item, world["clients"], FAST)
    assert result.state == "copied"
    assert result.size == len(b"new contents")
    assert result.etag == world["src"].stat("x").etag
    assert result.plaintext_sha256 == hashlib.sha256(b"new contents").hexdigest()


def test_transient_errors_are_retried_with_a_fresh_pipeline(world):
    data = os.urandom(5 * SEG)
    put(world, "x", data)
    clients = world["clients"]
    clients.backend(world["source"]).fail_on("open_read", ThrottledError("slow down"), times=1)
    clients.backend(world["target"]).fail_on("write", RetryableError("reset"), times=1)
    result = copy_object(item_for(world, "x"), world["clients"], FAST)
    assert result.state == "copied" and result.attempts == 3
    assert result.plaintext_sha256 == hashlib.sha256(data).hexdigest()


def test_errors_that_persist_give_a_failed_result_not_an_exception(world):
    put(world, "x", b"data")
    world["clients"].backend(world["source"]).fail_on("open_read", RetryableError("x"), times=9)
    result = copy_object(item_for(world, "x"), world["clients"], FAST)
    assert result.state == "failed" and result.attempts == 3
    assert result.error_kind == "RetryableError"


def test_a_source_that_keeps_changing_fails(world):
    put(world, "x", b"data")
    source = world["clients"].backend(world["source"])
    source.fail_on("open_read", PreconditionFailedError("changed"), times=10)
    result = copy_object(item_for(world, "x"), world["clients"], FAST)
    assert result.state == "failed" and "keeps changing" in result.error


def test_sample_draw_is_deterministic_and_near_the_rate():
    drawn = [sample_drawn(f"ds/{i}", 10, "seed") for i in range(5000)]
    assert drawn == [sample_drawn(f"ds/{i}", 10, "seed") for i in range(5000)]
    assert 400 < sum(drawn) < 600
    assert not any(sample_drawn(f"ds/{i}", 0, "s") for i in range(100))
    assert all(sample_drawn(f"ds/{i}", 100, "s") for i in range(100))
