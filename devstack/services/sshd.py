"""OpenSSH sshd on 127.0.0.1:2222 with a generated host key and a throwaway user key."""

from __future__ import annotations

import getpass
import os
import pwd
import subprocess
from pathlib import Path

import paramiko

from devstack import creds
from devstack.config import HOST, SFTP_PORT, SFTP_USER_ROOT, is_root
from devstack.services.base import Service

SSHD = "/usr/sbin/sshd"


def sftp_user() -> str:
    """The SFTP login: a dedicated user as root, otherwise ourselves (sshd can't switch)."""
    return SFTP_USER_ROOT if is_root() else getpass.getuser()


def ensure_user(name: str) -> pwd.struct_passwd:
    """Create the test user when missing; password field '*' (not '!', which sshd refuses)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", name],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(name)


class Sshd(Service):
    """SFTP (internal-sftp) for ``sftp_user()``; host key pinned in a generated known_hosts."""

    name = "sshd"
    program = "sshd"
    port = SFTP_PORT
    apt_package = "openssh-server"
    apt_probe = SSHD

    @property
    def host_key(self) -> Path:
        return self.home / "ssh_host_ed25519_key"

    @property
    def user_key(self) -> Path:
        return self.ctx.cred("sftp_ed25519")

    @property
    def known_hosts(self) -> Path:
        return self.home / "known_hosts"

    @property
    def sftp_root(self) -> Path:
        return self.ctx.dir / "sftp-root"

    @property
    def config_file(self) -> Path:
        return self.home / "sshd_config"

    def configure(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if is_root():
            Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        host_public = creds.ed25519_keypair(self.host_key)
        user_public = creds.ed25519_keypair(self.user_key)
        user = sftp_user()
        account = ensure_user(user) if is_root() else pwd.getpwnam(user)
        self._write(self.home / f"authorized_keys.{user}", user_public + "\n")
        self._write(self.known_hosts, f"[{HOST}]:{SFTP_PORT} {host_public}\n")
        self._write(self.config_file, self._config())
        self.sftp_root.mkdir(exist_ok=True)
        os.chown(self.sftp_root, account.pw_uid, account.pw_gid)

    @staticmethod
    def _write(path: Path, text: str) -> None:
        if not path.exists() or path.read_text() != text:
            path.write_text(text)

    def _config(self) -> str:
        lines = [
            f"Port {SFTP_PORT}",
            f"ListenAddress {HOST}",
            f"HostKey {self.host_key}",
            f"PidFile {self.home / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.home}/authorized_keys.%u",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            f"AllowUsers {sftp_user()}",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "PrintMotd no",
            "LogLevel INFO",
            "Subsystem sftp internal-sftp",
        ]
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        return [SSHD, "-D", "-e", "-f", str(self.config_file)]

    def markers(self) -> list[str]:
        return ["sshd", str(self.config_file)]

    def health(self) -> None:
        with connect(self.known_hosts, self.user_key, sftp_user()) as ssh:
            sftp = ssh.open_sftp()
            sftp.listdir(str(self.sftp_root))
            sftp.close()

    def endpoint(self) -> str:
        return f"sftp://{sftp_user()}@{HOST}:{SFTP_PORT}{self.sftp_root}"

    def credentials(self) -> str:
        return f"key {self.user_key}, known_hosts {self.known_hosts}"


def connect(known_hosts: Path, key_path: Path, user: str) -> paramiko.SSHClient:
    """An SSH client that accepts only the host key pinned in ``known_hosts``."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        HOST,
        port=SFTP_PORT,
        username=user,
        key_filename=str(key_path),
        look_for_keys=False,
        allow_agent=False,
        timeout=3,
        banner_timeout=3,
        auth_timeout=3,
    )
    return client
