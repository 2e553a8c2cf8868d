"""No credential reaches an output: a run read with Entra ID bearer tokens, then a run read
with a SAS (one refused, one done), and the commands an operator would then use (status,
audit with its JSON and SARIF files, whoami, with --json and --debug). Every stream
and every file of the state directory is searched for each token issued, the SAS's
signature and the Azurite account key; the search is shown to find a planted token first,
so it cannot pass vacuously."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from stack_world import World, make_world

from tests import token_endpoint

pytestmark = pytest.mark.stack

SOURCE = "    connection_string: ${env:HDH_AZURITE_HTTPS_CONNECTION_STRING}\n"


def outputs(world: World, streams: list[str]) -> list[tuple[str, str]]:
    """(where, text) for every stream captured and every file under the state directory."""
    found = [(f"stream #{n}", text) for n, text in enumerate(streams)]
    for path in sorted(world.state.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append((str(path), path.read_bytes().decode("utf-8", "replace")))
    return found


def leaks(places: list[tuple[str, str]], secrets: dict[str, str]) -> list[str]:
    return [f"{where}: {name}" for where, text in places for name, value in secrets.items()
            if value and value in text]  # fmt: skip


def commands(world: World, streams: list[str]) -> None:
    plan = str(world.plan)
    for args in (
        ("status", plan, "--json"),
        ("audit", plan, "--format", "json"),
        ("whoami", plan, "--json"),
        ("--debug", "whoami", plan),
        (
            "audit",
            plan,
            "--out",
            str(world.state / "a.json"),
            "--sarif",
            str(world.state / "a.sarif"),
        ),
    ):
        done = world.cli(*args)
        streams.append(done.stdout + done.stderr)
        assert done.returncode in (0, 1), (args, done.stderr)  # audit: 1 = warnings


def test_tokens_sas_and_keys_never_reach_an_output(
    stack: Any, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(stack, tmp_path, unique_name, tls=True)
    streams: list[str] = []
    try:
        world.put("data/a.bin", os.urandom(3000))
        text = world.plan.read_text()
        entra = (
            f"    account_url: {stack.azurite_https_account_url}\n"
            "    auth: {kind: managed_identity}\n"
        )
        world.plan.write_text(text.replace(SOURCE, entra))
        with token_endpoint.serving() as identity:
            identity.lifetime = 600
            monkeypatch.setenv("IDENTITY_ENDPOINT", identity.url)
            monkeypatch.setenv("IDENTITY_HEADER", identity.header)
            run = world.cli("run", str(world.plan), "--json")
            streams.append(run.stdout + run.stderr)
            assert run.returncode == 0, run.stderr
            identity.revoked = True
            identity.lifetime = 0
            world.put("data/b.bin", os.urandom(10))
            refused = world.cli("--debug", "run", str(world.plan), "--json")
            streams.append(refused.stdout + refused.stderr)
            assert refused.returncode == 7, refused.stderr
        tokens = {f"token #{n}": t for n, t in enumerate(identity.tokens)}
        assert tokens, "no token was issued: the search would be vacuous"

        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        sas = generate_container_sas(
            stack.azurite_account_name,
            unique_name,
            account_key=stack.azurite_account_key,
            permission=ContainerSasPermissions(read=True, list=True),
            start=start,
            expiry=start + dt.timedelta(hours=1),
        )
        raw = next(part[4:] for part in sas.split("&") if part.startswith("sig="))
        signature = parse_qs(sas)["sig"][0]  # decoded; ``raw`` is as the URL carries it
        forged = sas.replace(f"sig={raw}", f"sig=AAAA{raw[4:]}")
        assert forged != sas
        keyed = f"    account_url: {stack.azurite_https_account_url}\n"
        keyed += "    credential: ${env:HDH_T_SAS}\n"
        world.plan.write_text(text.replace(SOURCE, keyed))
        monkeypatch.setenv("HDH_T_SAS", forged)
        bad = world.cli("--debug", "run", str(world.plan), "--json")  # a forged signature
        streams.append(bad.stdout + bad.stderr)
        assert bad.returncode == 7, bad.stderr
        monkeypatch.setenv("HDH_T_SAS", sas)
        done = world.cli("run", str(world.plan), "--json")
        streams.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr
        commands(world, streams)

        secrets = {
            **tokens,
            "SAS signature": signature,
            "SAS signature (URL-encoded)": raw,
            "forged SAS signature": "AAAA" + raw[4:],
            "Azurite account key": stack.azurite_account_key,
            "S3 secret": stack.s3_secret_key,
        }
        places = outputs(world, streams)
        planted = [*places, ("planted", f"Authorization: Bearer {identity.tokens[0]}")]
        assert leaks(planted, secrets) == ["planted: token #0"]  # the search finds a leak
        assert leaks(places, secrets) == []
    finally:
        world.source.delete_container()
        world.target.delete_bucket(force=True)
