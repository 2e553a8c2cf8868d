"""The Stack value handed to tests and tools, and its files: stack.json and env.sh."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from devstack import creds
from devstack.config import (
    HOST,
    HSM_KEK_LABEL,
    HSM_MODULE,
    HSM_SIGNING_LABEL,
    HSM_TOKEN,
    SFTP_PORT,
)


@dataclass(frozen=True)
class Stack:
    """Endpoints and credentials of the running local stack. Secrets are kept out of repr."""

    dir: Path
    azurite_account_url: str
    azurite_account_name: str
    azurite_account_key: str = field(repr=False)
    azurite_connection_string: str = field(repr=False)
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str = field(repr=False)
    rclone_s3_endpoint: str
    sftp_host: str
    sftp_port: int
    sftp_user: str
    sftp_key_path: Path
    sftp_known_hosts: Path
    sftp_root: Path
    hsm_module: str
    hsm_conf: Path
    hsm_token: str
    hsm_pin: str = field(repr=False)
    hsm_kek_label: str
    # HTTPS endpoints (private CA at ``ca_bundle``); '' when the stack has none (external S3
    # or Azurite).
    ca_bundle: Path | None = None
    s3_https_endpoint: str = ""
    azurite_https_account_url: str = ""
    azurite_https_connection_string: str = field(default="", repr=False)
    # SeaweedFS's second identity: Read and List only ('' with an external S3).
    s3_readonly_access_key: str = ""
    s3_readonly_secret_key: str = field(default="", repr=False)

    def env(self) -> dict[str, str]:
        """Environment variables for plans (${env:…}) and tools."""
        return {
            "HDH_DEVSTACK_DIR": str(self.dir),
            "AZURE_STORAGE_CONNECTION_STRING": self.azurite_connection_string,
            "HDH_AZURITE_ACCOUNT_URL": self.azurite_account_url,
            "HDH_AZURITE_ACCOUNT_NAME": self.azurite_account_name,
            "HDH_AZURITE_ACCOUNT_KEY": self.azurite_account_key,
            "HDH_S3_ENDPOINT": self.s3_endpoint,
            "HDH_S3_ACCESS_KEY": self.s3_access_key,
            "HDH_S3_SECRET_KEY": self.s3_secret_key,
            "HDH_RCLONE_S3_ENDPOINT": self.rclone_s3_endpoint,
            "HDH_SFTP_HOST": self.sftp_host,
            "HDH_SFTP_PORT": str(self.sftp_port),
            "HDH_SFTP_USER": self.sftp_user,
            "HDH_SFTP_KEY": str(self.sftp_key_path),
            "HDH_SFTP_KNOWN_HOSTS": str(self.sftp_known_hosts),
            "HDH_SFTP_ROOT": str(self.sftp_root),
            "HDH_HSM_MODULE": self.hsm_module,
            "SOFTHSM2_CONF": str(self.hsm_conf),
            "HDH_HSM_TOKEN": self.hsm_token,
            "HDH_HSM_PIN": self.hsm_pin,
            "HDH_HSM_KEK_LABEL": self.hsm_kek_label,
            **self._optional_env(),
            "HDH_HSM_SIGNING_LABEL": HSM_SIGNING_LABEL,
        }

    def _optional_env(self) -> dict[str, str]:
        """Set only when the stack has them: HTTPS endpoints and their CA, the read-only S3 keys."""
        values = {
            "HDH_DEVSTACK_CA_BUNDLE": str(self.ca_bundle or ""),
            "HDH_S3_HTTPS_ENDPOINT": self.s3_https_endpoint,
            "HDH_AZURITE_HTTPS_ACCOUNT_URL": self.azurite_https_account_url,
            "HDH_AZURITE_HTTPS_CONNECTION_STRING": self.azurite_https_connection_string,
            "HDH_S3_READONLY_ACCESS_KEY": self.s3_readonly_access_key,
            "HDH_S3_READONLY_SECRET_KEY": self.s3_readonly_secret_key,
        }
        return {name: value for name, value in values.items() if value}


def describe(
    stack_dir: Path, azurite_url: str, s3_endpoint: str, rclone: str, sftp_user: str
) -> dict[str, object]:
    """The stack.json document: endpoints, ports and credential *paths* (no secret values)."""
    cred = stack_dir / "creds"
    return {
        "dir": str(stack_dir),
        "azurite": {"account_url": azurite_url, "account_name": "devstoreaccount1"},
        "s3": {
            "endpoint": s3_endpoint,
            "access_key_file": str(cred / "s3_access_key"),
            "secret_key_file": str(cred / "s3_secret_key"),
        },
        "rclone_s3": {"endpoint": rclone, "same_keys_as": "s3"},
        "sftp": {
            "host": HOST,
            "port": SFTP_PORT,
            "user": sftp_user,
            "key_file": str(cred / "sftp_ed25519"),
            "known_hosts": str(stack_dir / "sshd" / "known_hosts"),
            "root": str(stack_dir / "sftp-root"),
        },
        "hsm": {
            "module": HSM_MODULE,
            "conf": str(stack_dir / "softhsm" / "softhsm2.conf"),
            "token": HSM_TOKEN,
            "pin_file": str(cred / "hsm_pin"),
            "kek_label": HSM_KEK_LABEL,
        },
    }


def from_json(
    doc: dict[str, dict[str, str]], account_key: str, conn: str, https_conn: str = ""
) -> Stack:
    """Build a Stack from stack.json, reading the secrets from their 0600 files."""
    s3, sftp, hsm, tls = doc["s3"], doc["sftp"], doc["hsm"], doc.get("tls", {})
    return Stack(
        dir=Path(str(doc["dir"])),
        azurite_account_url=doc["azurite"]["account_url"],
        azurite_account_name=doc["azurite"]["account_name"],
        azurite_account_key=account_key,
        azurite_connection_string=conn,
        s3_endpoint=s3["endpoint"],
        s3_access_key=creds.read(Path(s3["access_key_file"])),
        s3_secret_key=creds.read(Path(s3["secret_key_file"])),
        rclone_s3_endpoint=doc["rclone_s3"]["endpoint"],
        sftp_host=sftp["host"],
        sftp_port=int(sftp["port"]),
        sftp_user=sftp["user"],
        sftp_key_path=Path(sftp["key_file"]),
        sftp_known_hosts=Path(sftp["known_hosts"]),
        sftp_root=Path(sftp["root"]),
        hsm_module=hsm["module"],
        hsm_conf=Path(hsm["conf"]),
        hsm_token=hsm["token"],
        hsm_pin=creds.read(Path(hsm["pin_file"])),
        hsm_kek_label=hsm["kek_label"],
        ca_bundle=Path(tls["ca_bundle"]) if tls.get("ca_bundle") else None,
        s3_https_endpoint=tls.get("s3_endpoint", ""),
        azurite_https_account_url=tls.get("azurite_account_url", ""),
        azurite_https_connection_string=https_conn,
        **_readonly(Path(str(doc["dir"])) / "creds", tls),
    )


def _readonly(cred: Path, tls: dict[str, str]) -> dict[str, str]:
    if not tls.get("s3_endpoint") or not (cred / "s3_readonly_access_key").exists():
        return {}
    return {
        "s3_readonly_access_key": creds.read(cred / "s3_readonly_access_key"),
        "s3_readonly_secret_key": creds.read(cred / "s3_readonly_secret_key"),
    }


def env_sh(stack: Stack) -> str:
    """Shell exports for ``source $HDH_DEVSTACK_DIR/env.sh`` (secrets read from files)."""
    lines = ["# generated by `python -m devstack up`; secrets are read from their 0600 files"]
    from_files = {
        "HDH_S3_ACCESS_KEY": stack.dir / "creds" / "s3_access_key",
        "HDH_S3_SECRET_KEY": stack.dir / "creds" / "s3_secret_key",
        "HDH_HSM_PIN": stack.dir / "creds" / "hsm_pin",
        "HDH_S3_READONLY_SECRET_KEY": stack.dir / "creds" / "s3_readonly_secret_key",
    }
    for name, value in stack.env().items():
        if name in from_files:
            lines.append(f'export {name}="$(cat {shlex.quote(str(from_files[name]))})"')
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


def write_json(path: Path, doc: dict[str, object]) -> None:
    """Write stack.json atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
