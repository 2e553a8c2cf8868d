"""Secret detection: what must be caught, what must not be (names, hashes, ETags, paths)."""

from __future__ import annotations

import hashlib

import pytest

from hdh_migrate.plan import check_text
from hdh_migrate.plan.secrets_scan import entropy, looks_like_secret, scan

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AZURE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("description",), "key id AKIAIOSFODNN7EXAMPLE for the record"),
        (("waves", 0, "cutover", "switch", 0, "run"), "-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
        (
            ("sources", "az", "account_url"),
            "https://a.blob.core.windows.net/?sv=2022-11-02&sp=rl&sig=AbCdEf0123456789%2B%3D",
        ),
        (("notes",), f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={AZURE_KEY}"),
        (("notes",), "Endpoint=sb://x/;SharedAccessSignature=sv=2020&sig=abc"),
        (("targets", "t", "endpoint"), "https://admin:hunter22@s3.example.fr"),
        (("run",), "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc'"),
        (("run",), "tool --password=correct-horse-battery"),
        (("run",), "tool --token s3cr3t-t0ken-value"),
        (("run",), "export PGPASSWORD=x; psql 'password=Tr0ub4dor'"),
        (("targets", "t", "credentials", "secret_key"), AWS_SECRET),
        (("targets", "t", "sse_c_key"), "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="),
        (("keys", "k", "pin"), "0123456789abcdef0123456789abcdef"),
        (("description",), f"pasted {AZURE_KEY} by mistake"),
    ],
)
def test_secrets_are_detected(path: tuple[str | int, ...], value: str) -> None:
    assert looks_like_secret(value, path) is not None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("targets", "t", "bucket"), "hdh-snds-2026-archive"),
        (("waves", 0, "datasets", 0, "name"), "dcir-2019-consommation-soins"),
        (("etag",), '"9b2cf535f27731c974343645a3985328-12"'),
        (("sha256",), hashlib.sha256(b"data").hexdigest()),
        (("waves", 0, "datasets", 0, "key"), "hdh-kek-2026-primary-hsm"),
        (("keys", "k", "path"), "/etc/hdh/Keys2026/kek-primary.key"),
        (("keys", "k", "label"), "kek-2026"),
        (("keys", "k", "token"), "hdh-prod"),
        (("targets", "t", "endpoint"), "https://s3-beta.eu-west-rbx-snc.cloud.snc.ovh.net"),
        (("sources", "a", "account_url"), "https://hdhprodexports.blob.core.windows.net"),
        (("run",), '/opt/hdh/bin/point-readers-to --endpoint "$HDH_TARGET_ENDPOINT"'),
        (("run",), "tool --password-file /etc/hdh/pw"),
        (("run",), 'tool --token "$HDH_TOKEN"'),
        (("description",), "SNDS exports: DCIR 2019, PMSI MCO 2022; owner data-platform."),
        (("prefix",), "snds/DCIR/2019/Extraction_2024-01-15T10:00:00Z/part-00000/"),
        (("sources", "s", "known_hosts"), "/home/hdhMigration/.ssh/KnownHosts2026"),
        (("window",), "Sat 22:00-Sun 06:00 Europe/Paris"),
        (("hds", "reference"), "HDS-OVH-2024-017"),
        (("credentials", "access_key"), "${env:OVH_S3_ACCESS_KEY}"),
    ],
)
def test_ordinary_values_are_not_secrets(path: tuple[str | int, ...], value: str) -> None:
    assert looks_like_secret(value, path) is None


def test_scan_walks_nested_data_and_skips_references() -> None:
    data = {
        "targets": {
            "t": {"credentials": {"access_key": "${env:X}", "secret_key": AWS_SECRET}},
        },
        "waves": [{"cutover": {"switch": [{"run": "x --password=abcdefgh"}]}}],
    }

    issues = scan(data)

    assert [i.path for i in issues] == [
        ("targets", "t", "credentials", "secret_key"),
        ("waves", 0, "cutover", "switch", 0, "run"),
    ]
    assert all(AWS_SECRET not in (i.message + (i.hint or "")) for i in issues)


def test_a_secret_anywhere_in_a_plan_is_an_error(minimal_text: str) -> None:
    text = minimal_text.replace("name: unit-plan\n", f"name: unit-plan\ndescription: {AZURE_KEY}\n")

    errors = check_text(text).errors

    assert [e.path for e in errors] == ["description"]
    assert (errors[0].line, errors[0].column) == (3, 14)
    assert AZURE_KEY not in errors[0].one_line()


def test_literal_in_a_secret_field_says_how_to_write_a_reference(minimal_text: str) -> None:
    text = minimal_text.replace("pin: ${env:HSM_PIN}", "pin: '1234'")

    error = check_text(text).errors[0]

    assert error.path == "keys.hsm.pin"
    assert error.message == "literal secret"
    assert "${env:HSM_PIN}" in (error.hint or "")
    assert "1234" not in error.one_line()


def test_entropy() -> None:
    assert entropy("aaaa") == 0
    assert entropy("abcd") == 2
