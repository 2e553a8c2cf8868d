"""Plans for the local stack: one Azurite container → one SeaweedFS bucket, a file key and
a state directory of their own. Tests and benchmarks append their waves to ``plan_head``.
"""

from __future__ import annotations

from pathlib import Path

_HEAD = """\
version: 1
name: {name}
policy: {{profile: rehearsal, rehearsal: true, allowed_regions: [local]}}
sources:
  azurite:
    kind: azure_blob
    connection_string: ${{env:{azure_env}}}
    container: {container}{source_tls}
targets:
  seaweedfs:
    kind: s3
    provider: seaweedfs
    region: local
    endpoint: {s3}
    bucket: {bucket}{target_tls}
    credentials:
      access_key: ${{env:HDH_S3_ACCESS_KEY}}
      secret_key: ${{env:HDH_S3_SECRET_KEY}}
keys:
  kek: {{kind: file, path: "{key}", create: true}}
defaults: {{key: kek, {defaults}}}
state_dir: "{state}"
"""


def plan_head(
    *,
    name: str,
    s3_endpoint: str,
    key: Path,
    state: Path,
    container: str | None = None,
    bucket: str | None = None,
    defaults: str = "verify: full, concurrency: 4",
    ca_bundle: Path | None = None,
) -> str:
    """Everything but the waves; ``defaults`` is the inside of the ``defaults`` mapping.
    Secrets are references to the variables ``python -m devstack env`` exports. With
    ``ca_bundle`` the source is the HTTPS Azurite and both sides verify with that CA
    (``s3_endpoint`` should then be the https one)."""
    tls = f'\n    ca_bundle: "{ca_bundle}"' if ca_bundle else ""
    azure_env = (
        "HDH_AZURITE_HTTPS_CONNECTION_STRING" if ca_bundle else "AZURE_STORAGE_CONNECTION_STRING"
    )
    return _HEAD.format(
        azure_env=azure_env,
        source_tls=tls,
        target_tls=tls,
        name=name,
        container=container or name,
        bucket=bucket or name,
        s3=s3_endpoint,
        key=key,
        state=state,
        defaults=defaults,
    )


def one_dataset_wave(target_prefix: str = "enc/", prefix: str = "data/") -> str:
    """A wave ``w1`` with dataset ``ds``: ``prefix`` at the source → ``target_prefix``."""
    return (
        "waves:\n  - name: w1\n    datasets:\n      - name: ds\n        source: azurite\n"
        f"        prefix: {prefix}\n        target: seaweedfs\n"
        f"        target_prefix: {target_prefix}\n"
    )
