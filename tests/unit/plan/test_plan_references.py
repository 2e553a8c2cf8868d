"""Cross-checks and combinations of fields: each rule, its path, and warnings."""

from __future__ import annotations

import pytest

from hdh_migrate.plan import check_text

AZURE = """\
  azure:
    kind: azure_blob
    account_url: https://hdhexports.blob.core.windows.net
    credential: ${env:AZURE_STORAGE_SAS}
    container: snds
"""
TARGET = """\
    provider: ovh-snc
    region: eu-west-rbx-snc
"""
CUTOVER_AT = "        concurrency: 12\n"


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in check_text(text).errors]


def paths_of(text: str) -> list[str]:
    return [path for path, _ in errors_of(text)]


def with_cutover(minimal: str, cutover: str) -> str:
    return minimal.replace(CUTOVER_AT, CUTOVER_AT + "    cutover:\n" + cutover)


def test_minimal_plan_is_valid(minimal_text: str) -> None:
    result = check_text(minimal_text)

    assert result.valid and result.errors == [] and result.warnings == []


@pytest.mark.parametrize(
    ("replacement", "path"),
    [
        (AZURE + "    connection_string: ${env:AZ}\n", "sources.azure"),
        (AZURE.replace("    account_url: https://hdhexports.blob.core.windows.net\n", ""),
         "sources.azure"),
        (AZURE.replace("    account_url: https://hdhexports.blob.core.windows.net\n",
                       "    connection_string: ${env:AZ}\n"), "sources.azure.credential"),
        (AZURE + "  drop:\n    kind: sftp\n    host: h\n    user: u\n    known_hosts: /k\n",
         "sources.drop"),
        (AZURE + "  drop:\n    kind: sftp\n    host: h\n    user: u\n    known_hosts: /k\n"
         "    key_file: /id\n    password: ${env:P}\n", "sources.drop"),
        (AZURE + "  old:\n    kind: s3\n    provider: scaleway\n    bucket: old-exports\n"
         "    credentials: {access_key: '${env:A}', secret_key: '${env:B}'}\n",
         "sources.old.region"),
        (AZURE + "  old:\n    kind: s3\n    bucket: old-exports\n"
         "    credentials: {access_key: '${env:A}', secret_key: '${env:B}'}\n",
         "sources.old.endpoint"),
    ],
)  # fmt: skip
def test_source_rules(minimal_text: str, replacement: str, path: str) -> None:
    assert paths_of(minimal_text.replace(AZURE, replacement)) == [path]


@pytest.mark.parametrize(
    ("replacement", "path"),
    [
        ("    provider: cloud-temple\n    region: fr1\n", "targets.snc.namespace"),
        ("    provider: minio\n    region: local\n", "targets.snc.endpoint"),
        ("    provider: ovh\n    region: gra\n    replicas: [snc]\n", "targets.snc.replicas[0]"),
        ("    provider: ovh\n    region: gra\n    replicas: [other]\n", "targets.snc.replicas[0]"),
        ("    provider: generic\n    region: x\n    endpoint: http://10.0.0.1:9000\n",
         "targets.snc.endpoint"),
    ],
)  # fmt: skip
def test_target_rules(minimal_text: str, replacement: str, path: str) -> None:
    assert paths_of(minimal_text.replace(TARGET, replacement)) == [path]


def test_cloud_temple_with_namespace_and_loopback_http_are_fine(minimal_text: str) -> None:
    namespaced = "    provider: cloud-temple\n    region: fr1\n    namespace: hdh\n"
    local = "    provider: generic\n    region: x\n    endpoint: http://[::1]:9000/\n"

    assert paths_of(minimal_text.replace(TARGET, namespaced)) == []
    result = check_text(minimal_text.replace(TARGET, local))
    assert result.plan is not None
    assert result.plan.targets["snc"].endpoint == "http://[::1]:9000"


def test_rehearsal_only_preset_warns_outside_rehearsal(minimal_text: str) -> None:
    text = minimal_text.replace(
        TARGET, "    provider: seaweedfs\n    region: local\n    endpoint: http://127.0.0.1:8333\n"
    )

    result = check_text(text)

    assert result.valid
    assert [w.path for w in result.warnings] == ["targets.snc.provider"]
    rehearsal = text.replace("name: unit-plan\n", "name: unit-plan\npolicy: {rehearsal: true}\n")
    assert [w.path for w in check_text(rehearsal).warnings] == ["policy.rehearsal"]


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("    path: /etc/hdh/kek.key\n", "    path: /k\n    ref: ${env:K}\n", "keys.kek"),
        ("    path: /etc/hdh/kek.key\n", "    create: true\n", "keys.kek"),
        ("    path: /etc/hdh/kek.key\n", "    ref: ${env:K}\n    create: true\n",
         "keys.kek.create"),
        ("  key: kek\n", "  key: kek2\n", "defaults.key"),
        ("        key: hsm\n", "        key: hms\n", "waves[0].datasets[1].key"),
        ("        container: dcir\n", "        bucket: dcir\n", "waves[0].datasets[1].bucket"),
        ("        container: dcir\n", "        path: dcir\n", "waves[0].datasets[1].path"),
        ("    container: snds\n", "", "waves[0].datasets[0].container"),
        ("  - name: wave-1\n", "  - name: wave-1\n    depends_on: [wave-1]\n",
         "waves[0].depends_on[0]"),
        ("name: unit-plan\n", "name: unit-plan\nexecutor: {scheduler: 'tcp://127.0.0.1:8786'}\n",
         "executor.scheduler"),
        ("name: unit-plan\n", "name: unit-plan\nexecutor: {kind: dask, scheduler: 'tls://h:8786'}\n",
         "executor"),
        ("name: unit-plan\n", "name: unit-plan\nexecutor: {kind: dask, scheduler: 'http://h'}\n",
         "executor.scheduler"),
    ],
)  # fmt: skip
def test_reference_and_combination_rules(minimal_text: str, old: str, new: str, path: str) -> None:
    assert old in minimal_text
    assert paths_of(minimal_text.replace(old, new)) == [path]


def test_dask_without_tls_is_fine_on_loopback_or_when_allowed(minimal_text: str) -> None:
    loopback = "executor: {kind: dask, scheduler: 'tcp://127.0.0.1:8786'}\n"
    allowed = "executor: {kind: dask, scheduler: 'tcp://10.0.0.2:8786', allow_insecure: true}\n"

    assert paths_of(minimal_text + loopback) == []
    assert paths_of(minimal_text + allowed) == []


@pytest.mark.parametrize(
    ("cutover", "path"),
    [
        ("      freeze: {strategy: leases, hook: {run: x}}\n", "waves[0].cutover.freeze.hook"),
        ("      freeze: {strategy: hook, hook: {run: x}}\n", "waves[0].cutover.freeze.unfreeze"),
        ("      freeze: {strategy: manual}\n      gates: {two_person: true, approvals: 1}\n",
         "waves[0].cutover.gates.approvals"),
        ("      freeze: {strategy: manual}\n      gates: {window: 'Sat 25:00-Sun 06:00 UTC'}\n",
         "waves[0].cutover.gates.window"),
        ("      freeze: {strategy: manual}\n      gates: {verified: 101%}\n",
         "waves[0].cutover.gates.verified"),
        ("      freeze: {strategy: manual}\n      switch:\n        - run: x\n"
         "          ssh: {host: h, user: u, known_hosts: /k}\n", "waves[0].cutover.switch[0].ssh"),
        ("      freeze: {strategy: manual}\n      rollback:\n        - run: x\n"
         "          timeout: soon\n", "waves[0].cutover.rollback[0].timeout"),
        ("      gates: {approvals: 1}\n", "waves[0].cutover.freeze"),
    ],
)  # fmt: skip
def test_cutover_rules(minimal_text: str, cutover: str, path: str) -> None:
    assert paths_of(with_cutover(minimal_text, cutover)) == [path]


def test_full_cutover_is_valid(minimal_text: str) -> None:
    cutover = """\
      freeze:
        strategy: hook
        hook: {run: /opt/freeze, timeout: 2m}
        unfreeze: {run: /opt/unfreeze}
      gates: {verified: 100%, max_delta_objects: 3, approvals: 2, two_person: true,
              window: "22:00-06:00 Europe/Paris"}
      switch:
        - run: switch
          ssh: {host: b, port: 2222, user: '${env:U}', key_file: '${env:K}', known_hosts: /k}
          timeout: 1h
      rollback:
        - run: back
"""
    result = check_text(with_cutover(minimal_text, cutover))

    assert result.plan is not None, result.errors
    parsed = result.plan.waves[0].cutover
    assert parsed is not None
    assert parsed.freeze.hook is not None and parsed.freeze.hook.timeout == 120
    assert parsed.gates.verified == 100.0 and parsed.gates.max_delta_objects == 3
    assert parsed.switch[0].timeout == 3600 and parsed.rollback[0].timeout == 300


def test_duplicate_names_report_every_repeat(minimal_text: str) -> None:
    text = minimal_text.replace("name: dcir-2019", "name: ir-referentiels")

    assert errors_of(text) == [
        ("waves[0].datasets[1].name", "duplicate dataset name 'ir-referentiels'")
    ]


def test_three_wave_cycle_is_reported_once(minimal_text: str) -> None:
    waves = "".join(
        f"  - name: w{i}\n    depends_on: [w{(i + 1) % 3}]\n    datasets:\n"
        f"      - {{name: d{i}, source: azure, target: snc}}\n"
        "    cutover: {freeze: {strategy: manual}}\n"
        for i in range(3)
    )
    text = minimal_text.split("waves:\n")[0] + "waves:\n" + waves

    assert errors_of(text) == [("waves[0].depends_on", "depends_on cycle: w0 → w1 → w2 → w0")]


def test_depending_on_a_wave_without_cutover_is_an_error(minimal_text: str) -> None:
    waves = (
        "  - name: w0\n    datasets:\n      - {name: d0, source: azure, target: snc}\n"
        "  - name: w1\n    depends_on: [w0]\n    datasets:\n"
        "      - {name: d1, source: azure, target: snc}\n"
        "    cutover: {freeze: {strategy: manual}}\n"
    )
    text = minimal_text.split("waves:\n")[0] + "waves:\n" + waves
    result = check_text(text)
    line = text.splitlines().index("    depends_on: [w0]") + 1
    assert [(e.path, e.line) for e in result.errors] == [("waves[1].depends_on[0]", line)]
    assert "no cutover section" in result.errors[0].message
    assert "add a cutover: section to wave 'w0'" in (result.errors[0].hint or "")
