"""Row 6: an Azure ``connection_string`` with ``DefaultEndpointsProtocol=http`` (or an
http ``BlobEndpoint``) to a host that is not loopback is a SOV-07 finding, judged from
the value the backend parses, and the backend refuses to send a request over it."""

from __future__ import annotations

import json
import os

import pytest

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import UsageError

KEY = "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0="
CLEAR = [
    f"DefaultEndpointsProtocol=http;AccountName=acct;AccountKey={KEY};EndpointSuffix=example.org",
    f"AccountName=acct;AccountKey={KEY};BlobEndpoint=http://blob.example.org/acct",
    f"defaultendpointsprotocol=HTTP;accountname=acct;accountkey={KEY}",
]


@pytest.mark.parametrize("connection", CLEAR)
def test_the_backend_refuses_clear_text_to_a_remote_host(connection):
    from hdh_migrate.backends.azure_connection import blob_endpoint

    assert blob_endpoint(connection).lower().startswith("http://")
    with pytest.raises(UsageError, match="plain http"):
        open_backend("azure_blob", {"container": "c", "connection_string": connection})


def test_azurite_on_loopback_stays_allowed():
    conn = f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={KEY};BlobEndpoint=http://127.0.0.1:10000/a"
    open_backend("azure_blob", {"container": "c", "connection_string": conn}).close()


@pytest.mark.stack
@pytest.mark.parametrize("connection", CLEAR[:2])
def test_the_audit_reports_sov07_for_the_connection_string(sec, cli_run, connection):
    text = sec.plan.read_text().replace(
        "sources:\n",
        "sources:\n  blob:\n    kind: azure_blob\n"
        "    connection_string: ${env:HDH_SEC_CONN}\n    container: ccc\n",
    )
    sec.plan.write_text(text.replace("source: disk", "source: blob"))
    env = {**os.environ, "HDH_SEC_CONN": connection}
    done = cli_run("audit", str(sec.plan), "--format", "json", "--no-inventory", env=env)
    assert done.returncode == 3, done.stderr
    findings = json.loads(done.stdout)["findings"]
    sov07 = [f for f in findings if f["rule"] == "SOV-07" and "connection_string" in f["path"]]
    assert sov07 and sov07[0]["severity"] == "block", findings
    assert KEY not in done.stdout + done.stderr
