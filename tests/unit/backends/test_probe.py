"""Probe logic without a server: decisions on scripted answers, and the JSON cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.probe import (
    ProbeResult,
    load_probe,
    probe_cache_path,
    probe_s3,
    save_probe,
)
from hdh_migrate.errors import AuthError, UsageError


@dataclass(frozen=True)
class Reply:
    status: int = 200
    code: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""


class ScriptedS3:
    """A tiny in-memory S3 whose answers to chosen (operation, parameter) pairs are forced."""

    name = "s3://scripted"
    bucket = "scripted"

    def __init__(self, refuse: dict[str, Reply] | None = None) -> None:
        self.refuse = refuse or {}
        self.objects: dict[str, bytes] = {}
        self.calls: list[str] = []

    def head_bucket(self) -> None:
        pass

    def try_call(self, op: str, *, bucket: str | None = None, **params: Any) -> Reply:
        self.calls.append(op)
        for trigger, reply in self.refuse.items():
            if trigger == op or trigger in params:
                return reply
        return getattr(self, op, lambda **_: Reply())(**params)

    def put_object(self, Key: str, Body: bytes, **_: Any) -> Reply:
        self.objects[Key] = Body
        return Reply()

    def get_object(self, Key: str, **_: Any) -> Reply:
        return Reply(body=self.objects[Key])

    def list_objects_v2(self, Prefix: str, **_: Any) -> Reply:
        return Reply(data={"Contents": [{"Key": k} for k in self.objects if k.startswith(Prefix)]})

    def delete_object(self, Key: str, **_: Any) -> Reply:
        self.objects.pop(Key, None)
        return Reply()

    def create_multipart_upload(self, **_: Any) -> Reply:
        return Reply(data={"UploadId": "u"})

    def upload_part(self, **_: Any) -> Reply:
        return Reply(data={"ETag": '"e"'})

    def head_object(self, Key: str, **_: Any) -> Reply:
        return Reply(data={"ContentLength": 1024 * 1024 + 1})


def run(fake: ScriptedS3) -> ProbeResult:
    return probe_s3({"bucket": "scripted"}, target="t", scratch_bucket=False, opener=lambda _: fake)


def test_a_server_that_refuses_checksum_headers_is_marked_rejected() -> None:
    bad_request = Reply(400, "InvalidArgument")
    fake = ScriptedS3({"ChecksumSHA256": bad_request, "ChecksumCRC32C": bad_request})
    result = run(fake)
    assert result.checksums == {"sha256": "rejected", "crc32c": "rejected", "md5": "not-validated"}
    assert result.validated_checksums == () and not result.trustworthy
    assert fake.objects == {}  # everything under the canary prefix was deleted


def test_a_server_that_stores_everything_is_not_trusted() -> None:
    result = run(ScriptedS3())
    assert set(result.checksums.values()) == {"not-validated"}
    assert result.sse_c == "ignored"
    assert (result.conditional_write, result.conditional_read) == ("ignored", "ignored")
    assert result.multipart == "ok" and result.min_part_size_enforced is False
    assert any("plaintext stored" in note for note in result.notes)


def test_validating_server() -> None:
    digest = Reply(400, "BadDigest")
    fake = ScriptedS3({"IfNoneMatch": Reply(412, "PreconditionFailed"),
                       "IfMatch": Reply(412, "PreconditionFailed")})  # fmt: skip
    real_put = fake.put_object

    def put(Key: str, Body: bytes, **params: Any) -> Reply:
        if Key.rsplit("/", 1)[-1].endswith("-bad"):  # not the random uuid in the prefix
            return digest
        return real_put(Key, Body)

    fake.put_object = put  # type: ignore[method-assign]
    result = run(fake)
    assert result.validated_checksums == ("sha256", "crc32c", "md5")
    assert (result.conditional_write, result.conditional_read) == ("enforced", "enforced")


def test_refused_plain_put_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="probe"):
        run(ScriptedS3({"put_object": Reply(403, "AccessDenied")}))


def test_cache_round_trip(tmp_path: Path) -> None:
    result = ProbeResult(
        "seaweedfs",
        "http://127.0.0.1:8333",
        "b",
        "2026-01-01T00:00:00+00:00",
        checksums={"sha256": "validated"},
        sse_c="enforced",
        notes=("n",),
    )
    path = save_probe(result, tmp_path)
    assert path == tmp_path / "probe" / "seaweedfs.json"
    assert load_probe(tmp_path, "seaweedfs") == result
    assert load_probe(tmp_path, "other") is None
    path.write_text("{not json")
    with pytest.raises(UsageError) as info:
        load_probe(tmp_path, "seaweedfs")
    assert "run probe again" in info.value.one_line()


def test_cache_ignores_unknown_fields_and_refuses_bad_names(tmp_path: Path) -> None:
    data = ProbeResult("t", "e", "b", "now").to_dict() | {"future_field": 1}
    assert ProbeResult.from_dict(data).target == "t"
    for name in ("../x", ".hidden", ""):
        with pytest.raises(UsageError):
            probe_cache_path(tmp_path, name)
