"""`hdh-migrate --version` (and --help) load no storage SDK: paramiko, boto3, azure and
dask load only when a command uses them (checked in a fresh interpreter)."""

import json
import subprocess
import sys

import pytest

SDKS = ("paramiko", "boto3", "botocore", "azure", "dask", "distributed", "pkcs11")
PROBE = """
import contextlib, io, json, sys
from hdh_migrate.cli.main import run
with contextlib.redirect_stdout(io.StringIO()):
    code = run(sys.argv[1:])
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.read())))
print(json.dumps({"code": code, "loaded": loaded}))
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_no_sdk_is_imported(argv):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        input=json.dumps(SDKS),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "loaded": []}
