"""The property behind rows 1, 3, 7 and 10: random Unicode, rich markup, ANSI sequences and
control characters as object keys, through listing → run → status/report → restore.
Every output stays well-formed (terminal text without control characters, JSON that
parses back to the exact key, Markdown and HTML without injected elements) and nothing is
written outside its directory. 1,500 + 200 + 500 + 60 examples, in-process, memory and local
backends: a few seconds of ``make test``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.text import Text

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.cli import render
from hdh_migrate.cli.progress import JsonLinesReporter
from hdh_migrate.engine.restore import restore_all, restore_items
from hdh_migrate.engine.restore_fs import RestoreDir, Unsafe, key_segments
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.engine.specs import key_spec, target_spec
from hdh_migrate.escaping import html_text, printable
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter
from hdh_migrate.journal import Journal
from hdh_migrate.reports.run_report import DatasetOutcome, RunReport, write_run_report
from tests.offline_plan import MemoryTargetClients, parse_offline_plan

HOSTILE = [
    "[",
    "]",
    "[/]",
    "[bold red]",
    "[link=x]",
    "\\",
    "`",
    "*",
    "_",
    "<",
    ">",
    "&",
    "|",
    "\x1b[31m",
    "\x1b]0;t\x07",
    "\x1b[2J",
    "\x07",
    "\x08",
    "\r",
    "\n",
    "\t",
    "\x7f",
    "\u009b",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "é",
    "日本",
    "🙂",
    "%2F",
    "..",
    ".",
    ":smile:",
    "[b]",
    "\\[",
    "\\\\[i]",
]
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\ufeff]")

char = st.one_of(st.characters(codec="utf-8"), st.sampled_from(HOSTILE))
any_key = st.lists(char, min_size=1, max_size=12).map("".join)
segment = (
    st.lists(
        st.one_of(
            st.characters(codec="utf-8", exclude_characters="\0/"),
            st.sampled_from([h for h in HOSTILE if h not in ("..", ".")]),
        ),
        min_size=1,
        max_size=8,
    )
    .map("".join)
    .filter(lambda s: s not in (".", "..") and len(s.encode()) <= 200)
)
file_key = st.lists(segment, min_size=1, max_size=3).map("/".join)


def _terminal_lines(key: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        render.stdout.file, render.stderr.file = out, err
        try:
            render.ok(f"restored {key}")
            render.error(f"1 object(s) failed: {key!r}: {key}")
            JsonLinesReporter().event("object.failed", dataset="ds", key=key, reason=key)
        finally:
            render.stdout.file = render.stderr.file = None  # type: ignore[assignment]
    return out.getvalue() + err.getvalue()


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=any_key)
def test_terminal_and_json_output_stay_well_formed(key):
    text = _terminal_lines(key)
    assert not UNSAFE.search(text), repr(text)
    assert printable(f"restored {key}") in text
    as_cell = Text.from_markup(render.term(key), emoji=False).plain  # table cells, titles
    assert as_cell == printable(key)
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert events and events[-1]["key"] == key and events[-1]["reason"] == key


def _tags(html: str) -> Counter[str]:
    return Counter(re.findall(r"<([a-z0-9]+)", html))


MD = MarkdownIt("commonmark", {"html": True}).enable("table")


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=any_key, name=any_key)
def test_reports_stay_well_formed(key, name):
    with tempfile.TemporaryDirectory() as folder:
        start = datetime(2026, 12, 1, tzinfo=UTC)

        def report(dataset: str, k: str) -> tuple[Path, Path]:
            bad = DatasetOutcome(dataset, "w1", listed=1, failed=[(k, f"reason {k}")])
            made = RunReport("run", "p", "r", start, start + timedelta(seconds=1), True, (bad,))
            return write_run_report(Path(folder) / uuid.uuid4().hex, made)

        _, benign = report("ds", "k.csv")
        as_json, as_md = report(name, key)
        markdown = as_md.read_text()
        assert not UNSAFE.search(markdown)
        assert _tags(MD.render(markdown)) == _tags(MD.render(benign.read_text()))
        failed = json.loads(as_json.read_text())["datasets"][0]["failed"][0]
        assert failed["key"] == key
        assert "<" not in html_text(key) and not UNSAFE.search(html_text(key))


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(keys=st.lists(any_key, min_size=1, max_size=6))
def test_the_restore_directory_never_writes_outside(keys):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "out"
        (Path(folder) / "outside").mkdir()
        where = RestoreDir(root)
        try:
            for key in keys:
                _write(where, key)
        finally:
            where.close()
        assert list((Path(folder) / "outside").iterdir()) == []
        for path in root.rglob("*"):
            real = Path(os.path.realpath(path))
            assert root.resolve() in real.parents
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600)
        assert not (root / ".hdh-restore-tmp").exists()


def _write(where: RestoreDir, key: str) -> None:
    try:
        parts = key_segments(key)
        parent = where.parent(parts)
    except Unsafe:
        return
    try:
        if where.existing(parent, parts[-1]) is not None:
            return
        temp, fd = where.new_temp()
        with os.fdopen(fd, "wb") as out:
            out.write(key.encode("utf-8", "surrogatepass"))
        with contextlib.suppress(Unsafe):
            where.publish(temp, parent, parts[-1])
        where.drop_temp(temp)
    finally:
        os.close(parent)


REST = """\
keys:
  k: {{kind: file, path: "{key}", create: true}}
defaults: {{key: k, verify: full}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - {{name: ds, source: disk, prefix: "", target: mem, target_prefix: enc/}}
"""


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(keys=st.lists(file_key, min_size=1, max_size=5, unique=True))
def test_listing_run_report_and_restore_end_to_end(keys):
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        files = _plant(base / "src", keys)
        store = f"p-{uuid.uuid4().hex}"
        rest = REST.format(key=base / "kek.key", state=base / "state")
        plan = parse_offline_plan("prop", base / "src", rest, store=store)
        clients = MemoryTargetClients(store)
        try:
            outcomes = _run(plan, base / "state", clients)
            as_json, as_md = write_run_report(
                base / "state",
                RunReport("run", "prop", "r", datetime.now(UTC), datetime.now(UTC), True, outcomes),
            )
            assert not UNSAFE.search(as_md.read_text().replace("\n", ""))
            json.loads(as_json.read_text())
            restored = _restore(plan, base / "state", base / "out", clients)
        finally:
            drop_store(store)
        written = {
            str(p.relative_to(base / "out")) for p in (base / "out").rglob("*") if p.is_file()
        }
        assert written <= set(files)
        for rel in written:
            assert (base / "out" / rel).read_bytes() == files[rel]
        assert restored.restored + restored.present + len(restored.failed) == sum(
            o.listed for o in outcomes
        )
        assert set(os.listdir(base)) <= {"src", "state", "out", "kek.key"}


def _plant(src: Path, keys: list[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for key in keys:
        path = src.joinpath(*key.split("/"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(key.encode())
        except OSError:  # a file/directory clash between two random keys: keep the first
            continue
        files[key] = key.encode()
    return {k: v for k, v in files.items() if src.joinpath(*k.split("/")).is_file()}


def _run(plan, state: Path, clients) -> tuple[DatasetOutcome, ...]:
    state.mkdir(exist_ok=True)
    signer = Ed25519FileSigner.generate("prop")
    with (
        Journal(state / "journal.sqlite") as journal,
        ManifestWriter(state / "manifest.jsonl", signer, "hdh-migrate/prop") as manifest,
    ):
        job = Migration(
            plan,
            plan_digest(b"plan"),
            journal=journal,
            manifest=manifest,
            executor=SerialExecutor(),
            clients=clients,
            reporter=ListReporter(),
            window=4,
        )
        return tuple(job.run())


def _restore(plan, state: Path, out: Path, clients):
    eff = plan.effective("ds")
    assert eff.key is not None and eff.key_name is not None
    target, kek = target_spec(plan, eff.dataset.target), key_spec(eff.key_name, eff.key)
    with Journal(state / "journal.sqlite") as journal:
        items = restore_items(journal.items(dataset="ds"), "ds", "", "")
        return restore_all(items, out, target, kek, clients, "ds", SerialExecutor(), 4)
