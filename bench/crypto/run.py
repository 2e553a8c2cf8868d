"""HDH1 encrypt/decrypt throughput vs raw ``AESGCM`` on 1 MiB segments, side by side.

    python -m bench.crypto [--mib 256] [--repeat 3]

Measures, on the same in-memory random data:
* raw AES-256-GCM per 1 MiB segment: ``AESGCM.encrypt`` (returns new bytes) and
  ``encrypt_into`` (reused buffer), and the same for decryption;
* HDH1 streaming: ``EncryptingReader.readinto`` (segment-sized buffer, zero-copy path),
  ``EncryptingReader.read(8 MiB)`` (what an uploader calls), ``DecryptingReader.readinto``;
* two workers, threads vs processes, each encrypting its own half: does cryptography
  release the GIL during AEAD calls?
Results are printed and written to bench/results/crypto-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import platform
import sys
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


def best(repeat: int, fn: Callable[[], int]) -> float:
    """Best throughput in MiB/s over ``repeat`` runs of ``fn`` (returns bytes processed)."""
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        size = fn()
        rates.append(size / (1 << 20) / (time.perf_counter() - start))
    return max(rates)


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
    plain, out = memoryview(bytearray(SEG)), bytearray(SEG + TAG)
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
    data = os.urandom(mib << 20)
    kek = _Kek()
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.time()
    if kind == "raw":
        size = raw_encrypt_into(memoryview(data))
    else:
        size = hdh_encrypt(data, len(data), kek)
    return begin, time.time(), size


def parallel(kind: str, mib: int, mode: str) -> float:
    """Aggregate MiB/s of two workers each encrypting ``mib`` MiB at the same moment."""
    start_at = time.time() + (2.0 if mode == "processes" else 0.3)
    jobs = [(kind, mib, start_at)] * 2
    if mode == "threads":
        with ThreadPoolExecutor(2) as pool:
            spans = list(pool.map(_timed_worker, jobs))
    else:
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            spans = pool.map(_timed_worker, jobs)
    wall = max(end for _, end, _ in spans) - min(begin for begin, _, _ in spans)
    return sum(size for _, _, size in spans) / (1 << 20) / wall


def _longest_stall(call: Callable[[], object]) -> float:
    """Longest gap (s) between iterations of a main-thread Python loop while ``call`` runs
    in another thread (median of 3)."""
    stalls = []
    for _ in range(3):
        worker = threading.Thread(target=call)
        last, longest = time.perf_counter(), 0.0
        worker.start()
        while worker.is_alive():
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        worker.join()
        stalls.append(longest)
    return sorted(stalls)[1]


def _duration(call: Callable[[], object]) -> float:
    begin = time.perf_counter()
    call()
    return time.perf_counter() - begin


def gil_probe(mib: int = 256) -> dict[str, float]:
    """Does a long ``AESGCM.encrypt_into`` call hold the GIL? With a 0.5 ms switch interval,
    a main-thread Python loop stalls for the whole call if it does, for about a scheduler
    tick if not. ``bytes.count`` (holds the GIL) is the control. Values in ms."""
    data, aead = os.urandom(mib << 20), AESGCM(os.urandom(32))
    out = bytearray(len(data) + TAG)

    def aes() -> None:
        aead.encrypt_into(bytes(12), data, AAD, out)

    def control() -> None:
        data.count(b"\xff\xfe\xfd\xfc\xfb")

    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        times = [_duration(aes), _longest_stall(aes), _duration(control), _longest_stall(control)]
    finally:
        sys.setswitchinterval(previous)
    return dict(zip(("aes_call", "aes_stall", "control_call", "control_stall"), times, strict=True))


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
            r[name] = max(r[name], best(1, fn))
    half = max(1, mib // 2)
    for kind in ("raw", "hdh1"):
        for mode in ("threads", "processes"):
            r[f"{kind}_encrypt_2_{mode}"] = max(parallel(kind, half, mode) for _ in range(repeat))
    r.update({f"gil_{k}": v * 1e3 for k, v in gil_probe().items()})
    return r


def report(r: dict[str, float], mib: int) -> dict[str, object]:
    ratios = {
        "hdh1_memory_vs_raw_encrypt": r["hdh1_encrypt_memory"] / r["raw_encrypt"],
        "hdh1_memory_vs_raw_encrypt_into": r["hdh1_encrypt_memory"] / r["raw_encrypt_into"],
        "hdh1_stream_vs_raw_streamed": r["hdh1_encrypt_stream"] / r["raw_encrypt_streamed"],
        "hdh1_stream_vs_raw_encrypt": r["hdh1_encrypt_stream"] / r["raw_encrypt"],
        "hdh1_decrypt_vs_raw_decrypt": r["hdh1_decrypt_stream"] / r["raw_decrypt"],
        "raw_2_threads_speedup": r["raw_encrypt_2_threads"] / r["raw_encrypt_into"],
        "raw_2_processes_speedup": r["raw_encrypt_2_processes"] / r["raw_encrypt_into"],
        "hdh1_2_threads_speedup": r["hdh1_encrypt_2_threads"] / r["hdh1_encrypt_memory"],
        "hdh1_2_processes_speedup": r["hdh1_encrypt_2_processes"] / r["hdh1_encrypt_memory"],
    }
    accepted = (
        ratios["hdh1_memory_vs_raw_encrypt"] >= 0.7 and ratios["hdh1_stream_vs_raw_streamed"] >= 0.7
    )
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "cryptography": cryptography.__version__,
        "data_mib": mib,
        "segment": SEG,
        "mib_per_s": {k: round(v, 1) for k, v in r.items() if not k.startswith("gil")},
        "gil_probe_ms": {k[4:]: round(v, 1) for k, v in r.items() if k.startswith("gil_")},
        "aesgcm_releases_gil": r["gil_aes_stall"] < r["gil_aes_call"] / 2
        and r["gil_control_stall"] > r["gil_control_call"] / 2,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "acceptance_hdh1_encrypt_ge_70pct_raw": accepted,
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
    for name, value in result["mib_per_s"].items():  # type: ignore[union-attr]
        print(f"{name:28s} {value:10.1f} MiB/s")
    for name, value in result["ratios"].items():  # type: ignore[union-attr]
        print(f"{name:36s} {value:6.3f}")
    print(f"GIL probe (ms): {result['gil_probe_ms']}")
    print(f"AESGCM releases the GIL: {result['aesgcm_releases_gil']}")
    print(f"acceptance (HDH1 ≥ 70 % of raw): {result['acceptance_hdh1_encrypt_ge_70pct_raw']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
