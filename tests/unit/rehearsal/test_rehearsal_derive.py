"""The rehearsal plan derived from a production plan: stand-ins everywhere the plan would
reach production, the rest kept as written (issue 10). Offline: nothing is contacted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hdh_migrate.engine.rehearsal.derive import (
    Options,
    derive,
    hsm_signing_available,
    target_owned,
)
from hdh_migrate.errors import UsageError
from hdh_migrate.plan import check_text

ROOT = Path(__file__).resolve().parents[3]
OVH = ROOT / "examples" / "ovh-snc.yaml"
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=S3CRET-NEVER;"
    "BlobEndpoint=http://127.0.0.1:11100/devstoreaccount1;"
)
PRODUCTION_HOSTS = ("snc.ovh.net", "blob.core.windows.net", "bastion.hdh.internal", "/etc/hdh/")


@pytest.fixture
def standins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", AZURITE)
    monkeypatch.setenv("HDH_S3_ENDPOINT", "http://127.0.0.1:9433")
    monkeypatch.setenv("HDH_S3_ACCESS_KEY", "access")
    monkeypatch.setenv("HDH_S3_SECRET_KEY", "secret")
    for name in (
        "HDH_SFTP_HOST",
        "HDH_SFTP_PORT",
        "HDH_SFTP_USER",
        "HDH_SFTP_KEY",
        "HDH_SFTP_KNOWN_HOSTS",
    ):
        monkeypatch.delenv(name, raising=False)


def derived_text(tmp_path: Path, **options: object) -> tuple[str, object]:
    derived = derive(OVH, Options(work=tmp_path, **options))  # type: ignore[arg-type]
    return yaml.safe_dump(derived.data, allow_unicode=True), derived


def test_a_production_plan_keeps_its_shape_and_loses_its_endpoints(
    standins: None, tmp_path: Path
) -> None:
    text, derived = derived_text(tmp_path)
    for host in PRODUCTION_HOSTS:
        assert host not in text
    result = check_text(text)
    assert result.valid, [e.one_line() for e in result.errors]
    plan = result.plan
    assert plan is not None
    assert plan.policy.rehearsal and plan.policy.profile == "rehearsal"
    assert plan.policy.allowed_regions == ["eu-west-rbx-snc", "eu-west-sbg-snc"]
    assert {t.endpoint for t in plan.targets.values()} == {"http://127.0.0.1:9433"}
    assert {t.region for t in plan.targets.values()} == {"eu-west-rbx-snc", "eu-west-sbg-snc"}
    assert all(s.kind == "azure_blob" for s in plan.sources.values())
    assert all(k.kind == "file" and str(tmp_path) in str(k.path) for k in plan.keys.values())
    datasets = {d.name: d for _, d in plan.iter_datasets()}
    assert datasets["ir-referentiels"].include == ["*.parquet", "*.csv.gz"]
    assert datasets["dcir-2019"].exclude == ["*.tmp", "_SUCCESS"]
    assert str(datasets["dcir-2019"].verify) == "sample:5%"
    assert datasets["pmsi-mco-2022"].container == "pmsi"
    wave2 = plan.waves[1]
    assert wave2.depends_on == ["wave-1-referentiels"]
    assert wave2.cutover is not None and wave2.cutover.gates.approvals == 2
    assert wave2.cutover.gates.two_person and wave2.cutover.gates.window is None
    notes = " ".join(derived.notes)  # type: ignore[attr-defined]
    assert "window 'Sat 22:00-Sun 06:00 Europe/Paris' not checked" in notes
    assert "profile hdh → rehearsal" in notes


def test_hooks_are_recorded_never_run(standins: None, tmp_path: Path) -> None:
    text, derived = derived_text(tmp_path)
    plan = check_text(text).plan
    assert plan is not None
    hooks = [h for w in plan.waves if w.cutover for h in (*w.cutover.switch, *w.cutover.rollback)]
    assert len(hooks) == 4
    assert all(h.ssh is None and "point-readers-to" not in h.run for h in hooks)
    assert all("hdh-rehearsal-hooks.log" in h.run and str(tmp_path) in h.run for h in hooks)
    lines = derived.hooks  # type: ignore[attr-defined]
    assert all("not run: /opt/hdh/bin/point-readers-to" in line for line in lines)


def test_hooks_go_to_the_local_sshd_when_the_devstack_exports_one(
    standins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "HDH_SFTP_HOST": "127.0.0.1",
        "HDH_SFTP_PORT": "3322",
        "HDH_SFTP_USER": "u",
        "HDH_SFTP_KEY": "/k",
        "HDH_SFTP_KNOWN_HOSTS": "/kh",
    }.items():
        monkeypatch.setenv(name, value)
    plan = check_text(derived_text(tmp_path)[0]).plan
    assert plan is not None and plan.waves[0].cutover is not None
    ssh = plan.waves[0].cutover.switch[0].ssh
    assert ssh is not None and (ssh.host, ssh.port) == ("127.0.0.1", 3322)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("https://s3-beta.eu-west-rbx-snc.cloud.snc.ovh.net", "one of the plan's own endpoints"),
        ("not a url", r"not an http\(s\) URL"),
    ],
)
def test_refused_stand_ins(standins: None, tmp_path: Path, endpoint: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        derive(OVH, Options(work=tmp_path, target_endpoint=endpoint))


def test_the_azure_stand_in_must_be_local(
    standins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = "AccountName=hdhprodexports;AccountKey=S3CRET-NEVER;EndpointSuffix=core.windows.net"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", remote)
    with pytest.raises(UsageError, match="must be a local Azurite") as caught:
        derive(OVH, Options(work=tmp_path))
    assert "S3CRET" not in caught.value.one_line()
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    with pytest.raises(UsageError, match="AZURE_STORAGE_CONNECTION_STRING is not set"):
        derive(OVH, Options(work=tmp_path))


def test_no_target_endpoint_is_a_usage_error(
    standins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HDH_S3_ENDPOINT")
    with pytest.raises(UsageError, match="no stand-in S3 endpoint") as caught:
        derive(OVH, Options(work=tmp_path))
    assert "--target-endpoint" in (caught.value.hint or "")


def test_the_rehearsal_owns_only_loopback_servers(standins: None, tmp_path: Path) -> None:
    assert target_owned(Options(work=tmp_path))
    assert not target_owned(Options(work=tmp_path, target_endpoint="https://minio.ci.example"))
    assert target_owned(Options(work=tmp_path, target_endpoint="https://m.ci", create_bucket=True))


def test_part_size_cap_and_softhsm_keys(
    standins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HDH_HSM_MODULE", "HDH_HSM_TOKEN", "HDH_HSM_KEK_LABEL", "HDH_HSM_PIN"):
        monkeypatch.setenv(name, "x")
    text, _ = derived_text(tmp_path, keys="softhsm", max_part_size=16 << 20)
    plan = check_text(text).plan
    assert plan is not None
    assert plan.defaults.part_size == 16 << 20 and plan.defaults.multipart_threshold == 32 << 20
    assert {k.kind for k in plan.keys.values()} == {"pkcs11"}


OTHER_SOURCES = """\
version: 1
name: other-sources
sources:
  sftp-exports: {kind: sftp, host: sftp.example.fr, user: ops, key_file: /k, known_hosts: /kh}
  legacy: {kind: s3, provider: generic, endpoint: "https://s3.legacy.example.fr",
           bucket: old.exports, credentials: {access_key: "${env:A}", secret_key: "${env:B}"}}
  staging: {kind: local, path: /srv/staging}
targets:
  snc: {kind: s3, provider: ovh-snc, region: eu-west-rbx-snc, bucket: hdh-x,
        credentials: {access_key: "${env:A}", secret_key: "${env:B}"}}
waves:
  - name: w
    datasets:
      - {name: a, source: sftp-exports, path: /exports/Cohorte_A, target: snc}
      - {name: b, source: legacy, target: snc}
      - {name: c, source: staging, path: lot-2, target: snc}
"""


def test_sftp_s3_and_local_sources_become_azurite_containers(
    standins: None, tmp_path: Path
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(OTHER_SOURCES)
    derived = derive(path, Options(work=tmp_path / "work"))
    text = yaml.safe_dump(derived.data)
    assert "example.fr" not in text and "/srv/staging" not in text
    plan = check_text(text).plan
    assert plan is not None
    assert {s.kind for s in plan.sources.values()} == {"azure_blob"}
    locations = {d.name: plan.effective(d.name).location for _, d in plan.iter_datasets()}
    assert locations == {"a": "exports-cohorte-a", "b": "old-exports", "c": "lot-2"}


HSM_SIGNING = ("HDH_HSM_MODULE", "HDH_HSM_TOKEN", "HDH_HSM_SIGNING_LABEL", "HDH_HSM_PIN")


def test_softhsm_signing_names_the_stand_in_hsm_key_by_reference_only(
    standins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in HSM_SIGNING:
        monkeypatch.setenv(name, "value-never-written")
    assert hsm_signing_available()
    text, derived = derived_text(tmp_path, signing="softhsm")
    assert "value-never-written" not in text  # references, resolved at run time
    plan = check_text(text).plan
    assert plan is not None and plan.signing is not None
    assert plan.signing.kind == "pkcs11"
    assert (plan.signing.label, plan.signing.pin.name) == (
        "${env:HDH_HSM_SIGNING_LABEL}",
        "HDH_HSM_PIN",
    )
    assert any("SoftHSM2" in note for note in derived.notes)  # type: ignore[attr-defined]


def test_file_signing_leaves_the_plan_key_out_and_says_so(
    standins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, derived = derived_text(tmp_path)  # the default: signing="file"
    assert "signing:" not in text and "/etc/hdh/manifest-ed25519.pem" not in text
    assert any("throwaway Ed25519 key" in n for n in derived.notes)  # type: ignore[attr-defined]
    monkeypatch.delenv("HDH_HSM_SIGNING_LABEL", raising=False)
    assert not hsm_signing_available()


def test_softhsm_signing_without_the_hsm_environment_is_a_usage_error(
    standins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in HSM_SIGNING:
        monkeypatch.setenv(name, "x")
    monkeypatch.delenv("HDH_HSM_SIGNING_LABEL")
    with pytest.raises(UsageError, match="--signing softhsm: HDH_HSM_SIGNING_LABEL not set"):
        derive(OVH, Options(work=tmp_path, signing="softhsm"))


def _with_executor(tmp_path: Path, section: str) -> Path:
    text = OVH.read_text()
    head, rest = text.split("executor:\n", 1)
    tail = rest.split("\n\n", 1)[1] if "\n\n" in rest else ""
    plan = tmp_path / "dask.yaml"
    plan.write_text(f"{head}executor: {section}\n\n{tail}")
    return plan


@pytest.mark.parametrize(
    ("section", "override", "expected"),
    [
        ("{kind: threads, workers: 16}", None, {"kind": "threads", "workers": 16}),
        ("{kind: dask, workers: 2}", None, {"kind": "dask", "workers": 2}),  # local cluster
        (
            "{kind: dask, scheduler: 'tcp://127.0.0.1:8786'}",
            None,
            {"kind": "dask", "scheduler": "tcp://127.0.0.1:8786"},
        ),
        (
            "{kind: dask, scheduler: 'tls://dask.hdh.internal:8786', tls: {ca_file: /c,"
            " cert_file: /e, key_file: /k}}",
            None,
            {"kind": "threads", "workers": 8},  # remote workers cannot read the keys
        ),
        ("{kind: threads, workers: 16}", "tcp://127.0.0.1:9999", None),
        ("{kind: threads, workers: 16}", "dask", {"kind": "dask", "workers": 16}),
        ("{kind: dask, workers: 2}", "serial", {"kind": "serial"}),
    ],
)
def test_the_executor_is_the_plans_or_the_command_lines(
    standins: None, tmp_path: Path, section: str, override: str | None, expected: object
) -> None:
    plan = _with_executor(tmp_path, section)
    derived = derive(plan, Options(work=tmp_path / "w", executor=override))
    wanted = expected or {"kind": "dask", "scheduler": override}
    assert derived.data["executor"] == wanted
    result = check_text(yaml.safe_dump(derived.data, allow_unicode=True))
    assert result.valid, [e.one_line() for e in result.errors]
    assert result.plan is not None and result.plan.executor.kind == wanted["kind"]  # type: ignore[index]


def test_a_remote_cluster_on_the_command_line_is_refused(standins: None, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="throwaway keys"):
        derive(OVH, Options(work=tmp_path, executor="tls://dask.hdh.internal:8786"))
