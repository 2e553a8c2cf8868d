"""HDH1 encrypt/decrypt throughput vs raw ``AESGCM`` on 1 MiB segments, side by side.

    python -m bench.crypto [--mib 256] [--repeat 3]

Measures, on the same in-memory random data:
* raw AES-256-GCM per 1 MiB segment: ``AESGCM.encrypt`` (returns new bytes) and
  ``encrypt_into`` (reused buffer), and the same for decryption;
* HDH1 streaming: ``EncryptingReader.readinto`` (segment-sized buffer, zero-copy path),
  ``EncryptingReader.read(8 MiB)`` (what an uploader calls), ``DecryptingReader.readinto``;
* two workers, threads vs processes, each encrypting its own half: does cryptography
  release the GIL during AEAD calls?
Throughput is reported by wall clock and by the measuring thread's CPU time (the machine
is shared; the acceptance ratio uses CPU time). Results are printed and written to
bench/results/crypto-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing
import os
import platform
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import cryptography
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hdh_migrate.crypto import DecryptingReader, Encryptor

SEG = 1 << 20
TAG = 16
AAD = os.urandom(32)
PASSES = 8  # per parallel worker
RESULTS = Path(__file__).resolve().parents[1] / "results"


class _Kek:
    """An in-memory KEK (the bench measures payload encryption, not key wrapping)."""

    ref = "bench:kek"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

        self._key, self._wrap, self._unwrap = os.urandom(32), aes_key_wrap, aes_key_unwrap

    def wrap(self, dek: bytes) -> bytes:
        return self._wrap(self._key, dek)

    def unwrap(self, blob: bytes) -> bytes:
        return self._unwrap(self._key, blob)


def best(repeat: int, fn: Callable[[], int]) -> tuple[float, float]:
    """Best throughput in MiB/s over ``repeat`` runs of ``fn`` (returns bytes processed), by
    wall clock and by this thread's CPU time (immune to other processes taking the core)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        size = fn() / (1 << 20)
        wall.append(size / (time.perf_counter() - start))
        cpu.append(size / max(time.thread_time() - start_cpu, 1e-9))
    return max(wall), max(cpu)


def raw_encrypt(data: memoryview) -> int:
    aead = AESGCM(os.urandom(32))
    for i, off in enumerate(range(0, len(data), SEG)):
        aead.encrypt(i.to_bytes(12, "big"), data[off : off + SEG], AAD)
    return len(data)


def raw_encrypt_into(data: memoryview) -> int:
    aead, out = AESGCM(os.urandom(32)), bytearray(SEG + TAG)
    for i, off in enumerate(range(0, len(data), SEG)):
        aead.encrypt_into(i.to_bytes(12, "big"), data[off : off + SEG], AAD, out)
    return len(data)


def raw_encrypt_streamed(data: bytes) -> int:
    """Raw AES-GCM fed from a stream the way HDH1 is: ``readinto`` a reused buffer."""
    aead, src = AESGCM(os.urandom(32)), io.BytesIO(data)
    plain, out = memoryview(bytearray(SEG)), memoryview(bytearray(SEG + TAG))
    i = 0
    while count := src.readinto(plain):
        aead.encrypt_into(i.to_bytes(12, "big"), plain[:count], AAD, out[: count + TAG])
        i += 1
    return len(data)


def seal_segments(data: memoryview) -> tuple[AESGCM, list[bytes]]:
    aead = AESGCM(os.urandom(32))
    return aead, [
        aead.encrypt(i.to_bytes(12, "big"), data[off : off + SEG], AAD)
        for i, off in enumerate(range(0, len(data), SEG))
    ]


def raw_decrypt(aead: AESGCM, sealed: list[bytes]) -> int:
    for i, seg in enumerate(sealed):
        aead.decrypt(i.to_bytes(12, "big"), seg, AAD)
    return len(sealed) * SEG


def raw_decrypt_into(aead: AESGCM, sealed: list[bytes]) -> int:
    out = bytearray(SEG)
    for i, seg in enumerate(sealed):
        aead.decrypt_into(i.to_bytes(12, "big"), seg, AAD, out)
    return len(sealed) * SEG


def hdh_encrypt(source: bytes | io.BytesIO, size: int, kek: _Kek) -> int:
    """HDH1 through ``EncryptingReader.readinto`` with a segment-sized buffer."""
    reader = Encryptor(kek, "bench/obj", size).reader(source)
    buf = bytearray(SEG + TAG)
    while reader.readinto(buf):
        pass
    return size


def hdh_encrypt_read(data: bytes, kek: _Kek) -> int:
    """HDH1 from a stream through ``read(8 MiB)``, as an uploader consumes it."""
    reader = Encryptor(kek, "bench/obj", len(data)).reader(io.BytesIO(data))
    while reader.read(8 * SEG):
        pass
    return len(data)


def hdh_decrypt_readinto(blob: bytes, kek: _Kek, size: int) -> int:
    reader = DecryptingReader(io.BytesIO(blob), kek, "bench/obj")
    buf = bytearray(SEG)
    while reader.readinto(buf):
        pass
    return size


def _timed_worker(args: tuple[str, int, float]) -> tuple[float, float, int]:
    kind, mib, start_at = args
    data = os.urandom(SEG) * mib  # fast to build, real memory (zero pages would be cached)
    kek = _Kek()
    while time.time() < start_at:
        time.sleep(0.001)
    begin, size = time.time(), 0
    for _ in range(PASSES):  # long enough that scheduling jitter does not dominate
        if kind == "raw":
            size += raw_encrypt_into(memoryview(data))
        else:
            size += hdh_encrypt(data, len(data), kek)
    return begin, time.time(), size


def parallel(kind: str, mib: int, mode: str) -> float:
    """Aggregate MiB/s of two workers each encrypting ``mib`` MiB at the same moment."""
    start_at = time.time() + 2.0  # both workers have built their data by then
    jobs = [(kind, mib, start_at)] * 2
    if mode == "threads":
        with ThreadPoolExecutor(2) as pool:
            spans = list(pool.map(_timed_worker, jobs))
    else:
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            spans = pool.map(_timed_worker, jobs)
    wall = max(end for _, end, _ in spans) - min(begin for begin, _, _ in spans)
    return sum(size for _, _, size in spans) / (1 << 20) / wall


def _main_thread_share(call: Callable[[], object]) -> float:
    """CPU time a main-thread Python loop gets while ``call`` runs in another thread, as a
    fraction of the call's wall time (median of 3). Near 0 if ``call`` holds the GIL."""
    shares = []
    for _ in range(3):
        worker = threading.Thread(target=call)
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        worker.start()
        while worker.is_alive():
            pass
        shares.append((time.thread_time() - begin_cpu) / (time.perf_counter() - begin))
        worker.join()
    return sorted(shares)[1]


def gil_probe(mib: int = 256) -> dict[str, float]:
    """Does a long ``AESGCM.encrypt_into`` call hold the GIL? A Python loop in the main
    thread gets CPU time during the call only if the GIL is free. ``bytes.count`` (holds
    the GIL) is the control; ``hashlib.sha256`` (releases it) the other reference."""
    data, aead = os.urandom(mib << 20), AESGCM(os.urandom(32))
    out = bytearray(len(data) + TAG)
    calls = {
        "aesgcm": lambda: aead.encrypt_into(bytes(12), data, AAD, out),
        "bytes_count_holds_gil": lambda: data.count(b"\xff\xfe\xfd\xfc\xfb"),
        "sha256_releases_gil": lambda: hashlib.sha256(data).digest(),
    }
    return {name: _main_thread_share(call) for name, call in calls.items()}


def measure(mib: int, repeat: int) -> dict[str, float]:
    data = os.urandom(mib << 20)  # bytes: io.BytesIO shares it instead of copying
    view, size = memoryview(data), len(data)
    kek = _Kek()
    blob = b"".join(Encryptor(kek, "bench/obj", size).encrypt_stream(data))
    aead, sealed = seal_segments(view)
    variants: dict[str, Callable[[], int]] = {
        "raw_encrypt": lambda: raw_encrypt(view),
        "raw_encrypt_into": lambda: raw_encrypt_into(view),
        "hdh1_encrypt_memory": lambda: hdh_encrypt(data, size, kek),
        "raw_encrypt_streamed": lambda: raw_encrypt_streamed(data),
        "hdh1_encrypt_stream": lambda: hdh_encrypt(io.BytesIO(data), size, kek),
        "hdh1_encrypt_stream_read_8MiB": lambda: hdh_encrypt_read(data, kek),
        "raw_decrypt": lambda: raw_decrypt(aead, sealed),
        "raw_decrypt_into": lambda: raw_decrypt_into(aead, sealed),
        "hdh1_decrypt_stream": lambda: hdh_decrypt_readinto(blob, kek, size),
    }
    r = {name: 0.0 for name in variants}
    for _ in range(repeat):  # round-robin: every variant sees the same machine load
        for name, fn in variants.items():
            wall, cpu = best(1, fn)
            r[name] = max(r[name], wall)
            r[f"cpu:{name}"] = max(r.get(f"cpu:{name}", 0.0), cpu)
    half = max(1, mib // 2)
    for kind in ("raw", "hdh1"):
        for mode in ("threads", "processes"):
            r[f"{kind}_encrypt_2_{mode}"] = max(parallel(kind, half, mode) for _ in range(repeat))
    r.update({f"gil:{k}": v for k, v in gil_probe().items()})
    return r


PAIRS = {  # ratio name → (HDH1 variant, raw variant)
    "hdh1_memory_vs_raw_encrypt": ("hdh1_encrypt_memory", "raw_encrypt"),
    "hdh1_memory_vs_raw_encrypt_into": ("hdh1_encrypt_memory", "raw_encrypt_into"),
    "hdh1_stream_vs_raw_streamed": ("hdh1_encrypt_stream", "raw_encrypt_streamed"),
    "hdh1_stream_vs_raw_encrypt": ("hdh1_encrypt_stream", "raw_encrypt"),
    "hdh1_decrypt_vs_raw_decrypt": ("hdh1_decrypt_stream", "raw_decrypt"),
}
SPEEDUPS = {
    "raw_2_threads_speedup": ("raw_encrypt_2_threads", "raw_encrypt_into"),
    "raw_2_processes_speedup": ("raw_encrypt_2_processes", "raw_encrypt_into"),
    "hdh1_2_threads_speedup": ("hdh1_encrypt_2_threads", "hdh1_encrypt_memory"),
    "hdh1_2_processes_speedup": ("hdh1_encrypt_2_processes", "hdh1_encrypt_memory"),
}


def report(r: dict[str, float], mib: int) -> dict[str, object]:
    """Ratios by wall clock and by thread CPU time; acceptance uses CPU time, which other
    processes on the shared machine cannot distort (wall-clock ratios are shown too)."""
    wall = {k: r[a] / r[b] for k, (a, b) in PAIRS.items()}
    cpu = {k: r[f"cpu:{a}"] / r[f"cpu:{b}"] for k, (a, b) in PAIRS.items()}
    gil = {k[4:]: round(v, 3) for k, v in r.items() if k.startswith("gil:")}
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "cryptography": cryptography.__version__,
        "data_mib": mib,
        "segment": SEG,
        "mib_per_s_wall": {k: round(v, 1) for k, v in r.items() if ":" not in k},
        "mib_per_s_cpu": {k[4:]: round(v, 1) for k, v in r.items() if k.startswith("cpu:")},
        "ratios_wall": {k: round(v, 3) for k, v in wall.items()},
        "ratios_cpu": {k: round(v, 3) for k, v in cpu.items()},
        "speedups_wall": {k: round(r[a] / r[b], 3) for k, (a, b) in SPEEDUPS.items()},
        "gil_main_thread_cpu_share": gil,
        "aesgcm_releases_gil": gil["aesgcm"] >= gil["sha256_releases_gil"] / 2
        and gil["aesgcm"] > 3 * gil["bytes_count_holds_gil"],
        "acceptance_hdh1_encrypt_ge_70pct_raw": cpu["hdh1_memory_vs_raw_encrypt"] >= 0.7
        and cpu["hdh1_stream_vs_raw_streamed"] >= 0.7,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256, help="data size in MiB (default 256)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    args = parser.parse_args(argv)
    result = report(measure(args.mib, args.repeat), args.mib)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"crypto-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    for section in ("mib_per_s_wall", "mib_per_s_cpu", "ratios_wall", "ratios_cpu"):
        print(f"{section}:")
        for name, value in result[section].items():  # type: ignore[attr-defined]
            print(f"  {name:34s} {value:10.3f}")
    for key in ("speedups_wall", "gil_main_thread_cpu_share", "machine"):
        print(f"{key}: {result[key]}")
    print(f"AESGCM releases the GIL: {result['aesgcm_releases_gil']}")
    print(
        f"acceptance (HDH1 ≥ 70 % of raw, CPU time): "
        f"{result['acceptance_hdh1_encrypt_ge_70pct_raw']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
