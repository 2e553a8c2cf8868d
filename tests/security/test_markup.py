"""Row 1: object keys, object ids and paths holding rich markup or terminal control
sequences are printed as data, exactly, never interpreted (and never crash the CLI)."""

from __future__ import annotations

import io
import json

import pytest

from hdh_migrate.cli import render

pytestmark = pytest.mark.stack

MARKUP = "[bold red]RICH[/]x.txt"
CLOSING = "ds1/[/]x"
ANSI = "ansi-\x1b[31mRED\x1b]0;title\x07.txt"
BIDI = "invoice-\u202egpj.exe"


def _put(sec, key: str, data: bytes) -> None:
    path = sec.src.joinpath(*key.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_markup_keys_run_verify_prove_and_print_exactly(sec):
    for key in (MARKUP, CLOSING, ANSI):
        _put(sec, key, b"payload " + key.encode())
    done = sec.cli("run", str(sec.plan))
    # the ANSI key is a name the target must not hold: refused per object, named escaped
    assert done.returncode == 5, done.stderr
    assert "holds control characters" in done.stderr and r"\x1b" in done.stderr
    # The target loses one object's bytes: verify names it, exactly, and exits 4.
    garbage = b"not HDH1 at all"
    sec.target.write("enc/" + CLOSING, io.BytesIO(garbage), len(garbage))
    failed = sec.cli("verify", str(sec.plan), "--mode", "full")
    assert failed.returncode == 4, failed.stderr
    assert "Traceback" not in failed.stderr and "internal error" not in failed.stderr
    assert CLOSING in failed.stderr
    # Every later command still works, terminal and --json alike.
    again = sec.cli("run", str(sec.plan))
    assert again.returncode in (0, 5), again.stderr
    assert "internal error" not in again.stderr
    as_json = sec.cli("status", str(sec.plan), "--json")
    assert as_json.returncode == 0, as_json.stderr
    json.loads(as_json.stdout)
    proved = sec.cli(
        "manifest",
        "prove",
        str(sec.state / "manifest.jsonl"),
        "ds/" + MARKUP,
        "--trust-adjacent-key",
    )
    assert proved.returncode == 0, proved.stderr
    assert f"ds/{MARKUP} is leaf" in proved.stdout


def test_control_sequences_never_reach_the_terminal(sec):
    _put(sec, ANSI, b"x")  # refused as a bad name (flagged), never printed raw
    _put(sec, BIDI, b"y")  # copied: a legal name that reorders what an operator reads
    done = sec.cli("run", str(sec.plan), "--json")
    assert done.returncode == 5, done.stderr  # the ANSI key refused per object (exit 5)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert any(e.get("key") == BIDI for e in events), "the JSON carries the exact key"
    garbage = b"not HDH1"
    sec.target.write("enc/" + BIDI, io.BytesIO(garbage), len(garbage))
    failed = sec.cli("verify", str(sec.plan), "--mode", "full")
    assert failed.returncode == 4, failed.stderr
    proved = sec.cli(
        "manifest", "prove", str(sec.state / "manifest.jsonl"), "ds/" + BIDI, "--trust-adjacent-key"
    )
    assert proved.returncode == 0, proved.stderr
    for stream in (done.stdout, done.stderr, failed.stderr, proved.stdout):
        assert not any(c in stream for c in "\x1b\x07\u202e"), stream
    assert "\\u202e" in failed.stderr and "\\u202e" in proved.stdout


def test_a_plan_path_with_markup_is_named_in_a_clean_error(cli_run, tmp_path):
    missing = tmp_path / "[/x]" / "[bold]plan.yaml"
    done = cli_run("validate", str(missing))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "[/x]" in done.stderr


@pytest.mark.parametrize(
    "message",
    ["pip install 'hdh-migrate[hsm]'", "key 'ds1/[/]x' failed", "[link=https://x]y[/link]"],
)
def test_error_and_ok_print_their_message_verbatim(capsys, message):
    render.error(message)
    render.ok(message)
    out, err = capsys.readouterr()
    assert message in err and message in out


def test_decrypt_with_a_markup_object_id_is_a_clean_mismatch(cli_run, tmp_path):
    key = tmp_path / "k.key"
    src, enc, out = tmp_path / "p.txt", tmp_path / "p.hdh1", tmp_path / "p.out"
    src.write_bytes(b"hello")
    assert cli_run("keys", "generate", str(key)).returncode == 0
    made = cli_run("encrypt", str(src), "-o", str(enc), "--key-file", str(key))
    assert made.returncode == 0, made.stderr
    other = "ds1/[bold red]other[/]"
    args = ("--key-file", str(key), "--object-id", other)
    done = cli_run("decrypt", str(enc), "-o", str(out), *args)
    assert done.returncode in (4, 7), done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert not out.exists()
