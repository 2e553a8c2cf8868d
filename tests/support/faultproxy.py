"""A fault-injecting TCP/HTTP proxy for the reliability suite (Toxiproxy's fault types).

``FaultProxy(upstream_port, Faults(...))`` listens on 127.0.0.1 (a free port) and forwards
each connection to the upstream server, applying:

- ``latency``: seconds added before each forwarded chunk (both directions);
- ``rate``: bytes per second per connection and direction (``1 << 20`` = 1 MB/s);
- ``slice``: forward at most this many bytes per write (slicing);
- ``reset_after`` with ``reset_fraction``: that fraction of connections is reset (RST)
  after the server sent that many bytes — an error in the middle of a response body;
- ``stall_after`` with ``stall_fraction``: that fraction of connections stops forwarding
  the server's bytes after that many, keeping the socket open (a stalled peer);
- ``http_error_fraction``: that fraction of HTTP requests is answered by the proxy with
  ``http_error`` (default 503 SlowDown in S3's XML) without reaching the server; the
  request (headers and Content-Length body) is consumed, the connection kept alive.

Counters (``connections``, ``resets``, ``stalls``, ``injected``) say what was done, so a
test can check the faults really happened. Deterministic for a given ``seed``.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

S3_SLOWDOWN = (
    b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {n}\r\n"
    b"x-ms-error-code: ServerBusy\r\n\r\n"
)
SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@dataclass
class Faults:
    latency: float = 0.0
    rate: int | None = None
    slice: int = 65536
    reset_after: int | None = None
    reset_fraction: float = 0.0
    stall_after: int | None = None
    stall_fraction: float = 0.0
    http_error_fraction: float = 0.0
    seed: int = 18


@dataclass
class Counters:
    connections: int = 0
    resets: int = 0
    stalls: int = 0
    injected: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


class FaultProxy:
    """One listening socket in front of ``127.0.0.1:upstream_port``."""

    def __init__(self, upstream_port: int, faults: Faults | None = None) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.faults = faults or Faults()
        self.counters = Counters()
        self._rng = random.Random(self.faults.seed)
        self._rng_lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for sock in list(self._sockets):
            _reset(sock)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _draw(self, fraction: float) -> bool:
        with self._rng_lock:
            return self._rng.random() < fraction

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self.counters.add("connections")
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _reset(client)
            return
        server.settimeout(None)
        self._sockets |= {client, server}
        f = self.faults
        reset_at = f.reset_after if self._draw(f.reset_fraction) else None
        stall_at = f.stall_after if self._draw(f.stall_fraction) else None
        write_lock = threading.Lock()  # the client socket: server bytes and injected answers
        threading.Thread(
            target=self._downstream,
            args=(server, client, write_lock, reset_at, stall_at),
            daemon=True,
        ).start()
        self._upstream(client, server, write_lock)

    # client → server: HTTP requests, some answered here
    def _upstream(self, client: socket.socket, server: socket.socket, lock: threading.Lock) -> None:
        buffer = b""
        try:
            while True:
                if self.faults.http_error_fraction <= 0:
                    chunk = client.recv(65536)
                    if not chunk:
                        break
                    self._send(server, chunk)
                    continue
                head, length, expect, buffer = _read_head(client, buffer)
                if head is None:
                    break
                self.counters.add("requests")
                if self._draw(self.faults.http_error_fraction):
                    self.counters.add("injected")
                    if not expect:  # the body comes anyway: consume it
                        buffer = _skip(client, buffer, length)
                    body = SLOWDOWN_BODY
                    answer = S3_SLOWDOWN.replace(b"{n}", str(len(body)).encode()) + body
                    with lock:
                        client.sendall(answer)
                    continue
                self._send(server, head)
                buffer = self._forward_body(client, server, buffer, length)
        except OSError:
            pass
        finally:
            _shutdown(server)

    # server → client: latency, rate, slicing, reset and stall
    def _downstream(
        self,
        server: socket.socket,
        client: socket.socket,
        lock: threading.Lock,
        reset_at: int | None,
        stall_at: int | None,
    ) -> None:
        sent = 0
        try:
            while True:
                chunk = server.recv(self.faults.slice)
                if not chunk:
                    break
                if reset_at is not None and sent + len(chunk) > reset_at:
                    with lock:
                        client.sendall(chunk[: max(0, reset_at - sent)])
                    self.counters.add("resets")
                    _reset(client)
                    _reset(server)
                    return
                if stall_at is not None and sent + len(chunk) > stall_at:
                    self.counters.add("stalls")
                    self._closed.wait()  # hold everything open until the proxy closes
                    return
                self._pace(len(chunk))
                with lock:
                    client.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            _shutdown(client)

    def _forward_body(
        self, client: socket.socket, server: socket.socket, buffer: bytes, length: int
    ) -> bytes:
        """Forward ``length`` body bytes (some already in ``buffer``); return the rest."""
        head, buffer = buffer[:length], buffer[length:]
        self._send(server, head)
        left = length - len(head)
        while left > 0:
            chunk = client.recv(min(1 << 20, left))
            if not chunk:
                raise OSError("client closed mid-body")
            self._send(server, chunk)
            left -= len(chunk)
        return buffer

    def _send(self, sock: socket.socket, data: bytes) -> None:
        step = self.faults.slice
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            self._pace(len(piece))
            sock.sendall(piece)

    def _pace(self, size: int) -> None:
        delay = self.faults.latency + (size / self.faults.rate if self.faults.rate else 0.0)
        if delay:
            time.sleep(delay)


def _read_head(sock: socket.socket, buffer: bytes) -> tuple[bytes | None, int, bool, bytes]:
    """An HTTP/1.1 request head from ``sock``: (head, Content-Length, Expect: 100-continue,
    the bytes already read past the head)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None, 0, False, b""
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length, expect = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"expect":
            expect = value.strip().lower() == b"100-continue"
    return head + b"\r\n\r\n", length, expect, rest


def _skip(sock: socket.socket, buffer: bytes, length: int) -> bytes:
    while len(buffer) < length:
        chunk = sock.recv(min(1 << 20, length - len(buffer)))
        if not chunk:
            return b""
        buffer += chunk
    return buffer[length:]


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a peer that died."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)  # wakes a thread blocked in recv: the close then sends RST
    with contextlib.suppress(OSError):
        sock.close()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
