"""Backend registry: lazy import, install hints, read-only wrapping, redaction."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from hdh_migrate.backends.base import ReadOnlyBackend
from hdh_migrate.backends.local import LocalBackend
from hdh_migrate.backends.registry import KINDS, open_backend, redact_url
from hdh_migrate.errors import PermanentError, UsageError


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown backend kind 'ftp'") as info:
        open_backend("ftp", {})
    assert "s3" in (info.value.hint or "")


def test_missing_sdk_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hdh_migrate.backends.s3", None)  # import → ImportError
    with pytest.raises(UsageError, match="unavailable") as info:
        open_backend("s3", {"bucket": "b"})
    assert info.value.hint == "pip install boto3"


def test_every_kind_points_at_a_module_and_class() -> None:
    assert set(KINDS) == {"memory", "local", "s3", "azure_blob", "sftp"}
    assert all(":" in target for target, _ in KINDS.values())


def test_read_only_wraps(tmp_path: Path) -> None:
    backend = open_backend("local", {"root": str(tmp_path)}, read_only=True)
    assert isinstance(backend, ReadOnlyBackend)
    with pytest.raises(PermanentError, match="read-only"):
        backend.write("k", io.BytesIO(b"x"), 1)
    assert isinstance(open_backend("local", {"root": str(tmp_path)}), LocalBackend)


def test_missing_setting_is_a_usage_error() -> None:
    with pytest.raises((UsageError, PermanentError), match="root"):
        open_backend("local", {})


def test_redact_url_drops_credentials_and_query() -> None:
    url = "https://user:p4ss@acct.blob.core.windows.net:443/c?sv=2024&sig=SECRET"
    assert redact_url(url) == "https://acct.blob.core.windows.net:443/c"
