"""A SoftHSM2 token `hdh-test` holding a sensitive, non-extractable AES-256 KEK."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devstack import creds
from devstack.config import HSM_KEK_LABEL, HSM_MODULE, HSM_SIGNING_LABEL, HSM_TOKEN
from devstack.services.base import Service

_DIGITS = "0123456789"
_REPO = str(Path(__file__).resolve().parents[2])


class SoftHsm(Service):
    """No daemon: a token directory, a softhsm2.conf, PIN files (0600) and the KEK."""

    name = "softhsm"
    apt_package = "softhsm2"
    apt_probe = HSM_MODULE
    _create_kek = False

    @property
    def conf(self) -> str:
        return str(self.home / "softhsm2.conf")

    def env(self) -> dict[str, str]:
        """Environment for softhsm2-util and devstack.hsm_tool."""
        return {
            **os.environ,
            "SOFTHSM2_CONF": self.conf,
            "HDH_HSM_MODULE": HSM_MODULE,
            "HDH_HSM_TOKEN": HSM_TOKEN,
            "HDH_HSM_PIN": creds.read(self.ctx.cred("hsm_pin")),
            "HDH_HSM_KEK_LABEL": HSM_KEK_LABEL,
            "HDH_HSM_SIGNING_LABEL": HSM_SIGNING_LABEL,
            "PYTHONPATH": os.pathsep.join([_REPO, os.environ.get("PYTHONPATH", "")]),
        }

    def configure(self) -> None:
        tokens = self.home / "tokens"
        tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        (self.home / "softhsm2.conf").write_text(text)
        pin = creds.token(self.ctx.cred("hsm_pin"), 12, _DIGITS)
        so_pin = creds.token(self.ctx.cred("hsm_so_pin"), 12, _DIGITS)
        if not any(tokens.iterdir()):
            init = ["--init-token", "--free", "--label", HSM_TOKEN]
            self._run(["softhsm2-util", *init, "--pin", pin, "--so-pin", so_pin])
        self._create_kek = True

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            with self.log_file.open("a") as log:
                log.write(done.stdout + done.stderr)
            raise self.fail(f"{os.path.basename(cmd[0])} failed (exit {done.returncode})")

    def health(self) -> None:
        """Wrap/unwrap round trip; after configure() also creates the KEK if absent."""
        steps = ["kek", "signing", "check"] if self._create_kek else ["check"]
        self._run([sys.executable, "-m", "devstack.hsm_tool", *steps])

    def endpoint(self) -> str:
        return f"{HSM_MODULE} token {HSM_TOKEN}, KEK {HSM_KEK_LABEL}"

    def credentials(self) -> str:
        return f"PIN {self.ctx.cred('hsm_pin')}, SOFTHSM2_CONF {self.conf}"
