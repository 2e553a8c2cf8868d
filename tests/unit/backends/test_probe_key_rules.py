"""The probe's key rules (issue 18 item 6): what a server does with ``a//b``/``a/b``,
``x/``/``x``, case and Unicode twins, long segments and long keys, measured on scripted
servers; and the name rules the inventory and the audit apply, the probe's facts winning
over the preset's."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from hdh_migrate.backends.probe import ProbeResult
from hdh_migrate.engine.specs import name_rules
from hdh_migrate.providers import get_preset
from tests.unit.backends.test_probe import Reply, ScriptedS3, run

FILER = {
    "empty_segments": "folds",
    "trailing_slash": "folds",
    "case": "insensitive",
    "normalisation": "NFC",
    "max_segment_bytes": 255,
    "max_key_bytes": 1000,
}


class FilerS3(ScriptedS3):
    """A store that folds keys like a case-insensitive, NFC-normalising filer: one object
    per folded name, segments of at most 255 bytes, keys of at most 1,000 bytes."""

    def fold(self, key: str) -> str:
        key = unicodedata.normalize("NFC", key).casefold()
        return "/".join(s for s in key.split("/") if s)

    def put_object(self, Key: str, Body: bytes, **_: Any) -> Reply:
        if len(Key.encode()) > 1000 or max(len(s.encode()) for s in Key.split("/")) > 255:
            return Reply(400, "KeyTooLongError")
        self.objects[self.fold(Key)] = Body
        return Reply()

    def get_object(self, Key: str, **_: Any) -> Reply:
        found = self.objects.get(self.fold(Key))
        return Reply(body=found) if found is not None else Reply(404, "NoSuchKey")


def test_a_filer_like_server_is_measured() -> None:
    result = run(FilerS3())
    assert dict(result.key_rules) == FILER
    assert result.to_dict()["key_rules"] == FILER


class LeafLimitS3(ScriptedS3):
    """Folder segments of any length, file names of at most 255 bytes (SeaweedFS)."""

    def put_object(self, Key: str, Body: bytes, **_: Any) -> Reply:
        if len(Key.rsplit("/", 1)[-1].encode()) > 255:
            return Reply(500, "KeyTooLongError")
        return super().put_object(Key, Body)


def test_a_limit_on_file_names_only_is_found() -> None:
    assert run(LeafLimitS3()).key_rules["max_segment_bytes"] == 255


def test_a_server_that_keeps_every_key_apart_is_measured() -> None:
    result = run(ScriptedS3())
    assert dict(result.key_rules) == {
        "empty_segments": "distinct",
        "trailing_slash": "distinct",
        "case": "sensitive",
        "normalisation": "none",
        "max_segment_bytes": None,
        "max_key_bytes": 1024,
    }


def probe_with(rules: dict[str, Any]) -> ProbeResult:
    return ProbeResult("t", "http://x", "b", "then", key_rules=rules)


def test_the_probe_wins_over_the_preset() -> None:
    generic = get_preset("generic")
    assumed = name_rules(generic)  # nothing known: assume it folds, no segment limit
    assert assumed.folds_empty_segments and assumed.max_segment_bytes is None
    measured = name_rules(generic, probe_with(FILER))
    assert measured.max_segment_bytes == 255 and measured.max_key_bytes == 1000
    assert measured.case_insensitive and measured.normalises == "NFC"
    assert measured.impossible("d/" + "s" * 300) is not None
    apart = name_rules(get_preset("seaweedfs"), probe_with({"empty_segments": "distinct",
                       "trailing_slash": "distinct", "max_segment_bytes": None}))  # fmt: skip
    assert not apart.folds_empty_segments and not apart.folds_trailing_slash
    assert apart.impossible("a//b") is None and apart.impossible("d/" + "s" * 300) is None


@pytest.mark.parametrize("cached", [{}, {"case": "unknown", "normalisation": "??"}])
def test_an_old_or_odd_probe_keeps_the_preset(cached: dict[str, Any]) -> None:
    seaweed = get_preset("seaweedfs")
    assert name_rules(seaweed, probe_with(cached)) == name_rules(seaweed)
    assert ProbeResult.from_dict({"target": "t", "endpoint": "e", "bucket": "b",
                                  "probed_at": "then"}).key_rules == {}  # fmt: skip
