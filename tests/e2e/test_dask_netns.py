"""Separate hosts, for real: the Dask scheduler and each worker in its own network namespace
with its own address, the cluster over ``tls://`` (certificates from the devstack's CA), the
coordinator (this machine's root namespace) on the same network; the workers reach Azurite
and SeaweedFS (on the root namespace's 127.0.0.1) through relays on a second network
(devstack/netns.py).

One worker loses the cluster network mid-copy (``ip link set … down``) but keeps the storage
network: the scheduler presumes it dead and runs its task again on the other worker while
the cut-off one goes on copying — the partition in which Dask runs a task twice. The run
still ends with 0 missing / 0 corrupt, journal = target = manifest, integrity_check ok.

Skipped, with the reason, where network namespaces cannot be made (not root, no iproute2,
no netns support). Everything made (namespaces, links, relays, processes) is removed at
the end, also on failure.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from test_dask_cluster import assert_consistent, popen_run, seed

from devstack import netns

pytestmark = [pytest.mark.stack, pytest.mark.slow]
MIB = 1 << 20
TTL = "8s"  # the scheduler presumes a silent worker dead after this (default: 5 minutes)


@pytest.fixture
def lab(stack, tmp_path):
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"no network namespaces here: {reason}")
    made = netns.new_lab(tmp_path / "lab")
    try:
        made.build()
        made.relay(_port(stack.azurite_connection_string))
        made.relay(_port(stack.s3_endpoint))
        env = {**os.environ, **stack.env()}  # each worker's own environment: its secrets
        scheduler_env = {**env, "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": TTL}
        # a worker finds a lost scheduler after this TCP timeout (default 30 s), then stops
        worker_env = {
            **env,
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP": "12s",
        }
        made.start_dask(scheduler_env, worker_env)
        with _client(made) as client:
            client.wait_for_workers(2, timeout=netns.START_TIMEOUT)
        yield made
    finally:
        made.close()
    assert not [ns for ns in netns.namespaces() if ns.startswith(netns.PREFIX + made.tag)]


def _port(url: str) -> int:
    return int(url.split("127.0.0.1:", 1)[1].split("/", 1)[0].split(";", 1)[0])


def _client(lab: netns.NetLab):
    from distributed import Client
    from distributed.security import Security

    files = lab.tls
    assert files is not None
    security = Security(
        tls_ca_file=str(files.ca),
        tls_client_cert=str(files.cert),
        tls_client_key=str(files.key),
        require_encryption=True,
    )
    return Client(lab.address, security=security, timeout=30, set_as_default=False)


def test_a_worker_cut_off_mid_copy_runs_its_task_twice_and_nothing_is_lost(world, lab, stack):
    files = lab.tls
    assert files is not None
    text = world.plan.read_text()
    tls = f"tls: {{ca_file: '{files.ca}', cert_file: '{files.cert}', key_file: '{files.key}'}}"
    world.plan.write_text(text + f"executor: {{kind: dask, scheduler: '{lab.address}', {tls}}}\n")
    data = seed(world, {f"n{i}.bin": 4 * MIB + 512 * 1024 + i for i in range(6)})
    cut_off = f"tls://{lab.worker_ip(1)}"
    with _client(lab) as client:
        workers = {a for a in client.scheduler_info()["workers"] if a.startswith(cut_off + ":")}
        process = popen_run(world, "--bandwidth", "4MiB/s", "--concurrency", "4")
        try:
            running: list[str] = []
            deadline = time.monotonic() + 180
            while not running and process.poll() is None and time.monotonic() < deadline:
                running = client.run(netns.executing, workers=list(workers)).popitem()[1]
                time.sleep(0.1)
            assert running, "the worker to cut off never ran a copy"
            cut_at = time.monotonic()
            lab.cut(1)
            _, err = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err

    # Dask ran the cut-off worker's task again elsewhere while that worker went on copying
    log = [json.loads(line) for line in (lab.home / "transitions.jsonl").read_text().splitlines()]
    assert any(r.get("removed", "").startswith(cut_off) for r in log), "never presumed dead"
    elsewhere = {
        r["key"]
        for r in log
        if r.get("finish") == "memory" and r["worker"] and not r["worker"].startswith(cut_off)
    }
    assert set(running) <= elsewhere, (running, elsewhere)
    last = max(f.last_seen(lab.worker_storage_ip(1)) for f in lab.forwarders)
    assert last > cut_at, "the cut-off worker sent nothing to the servers after the cut"

    # it stops once it finds the scheduler gone (TCP timeout); then nothing writes any more
    deadline = time.monotonic() + 120
    while lab.worker_alive(1) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not lab.worker_alive(1), "the cut-off worker never stopped"
    check = world.cli("verify", str(world.plan), "--mode", "metadata", "--json")
    if check.returncode != 0:  # a late write of the cut-off worker: the next run copies it
        assert check.returncode == 4, check.stderr
        again = world.cli("run", str(world.plan))
        assert again.returncode == 0, again.stderr
    assert_consistent(world, data)


def test_a_build_that_fails_half_way_leaves_nothing_behind(tmp_path, monkeypatch):
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"no network namespaces here: {reason}")
    made = netns.new_lab(tmp_path / "lab")
    real = netns.NetLab._link

    def failing(self, name, ns, address, bridge):
        if name == "w1s":  # a veth pair made, not yet moved into its namespaces
            netns._ip("link", "add", "name", f"hdhs{self.tag}w1s", "type", "veth",
                      "peer", "name", f"hdhs{self.tag}w1sp")  # fmt: skip
            raise RuntimeError("link failed")
        return real(self, name, ns, address, bridge)

    monkeypatch.setattr(netns.NetLab, "_link", failing)
    try:
        with pytest.raises(RuntimeError):
            made.build()
        assert len(made.namespaces) == 4
    finally:
        made.close()
    mine = netns.PREFIX + made.tag
    assert not [ns for ns in netns.namespaces() if ns.startswith(mine)]
    assert mine not in netns._ip("-o", "link", "show").stdout
