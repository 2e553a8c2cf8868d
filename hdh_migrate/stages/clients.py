"""Per-process caches of backends and key providers, built from plain specs.

Tasks receive specs, never clients; the first task in a process builds the client and the
next ones reuse it (boto3 clients and the other backends are thread-safe).
"""

from __future__ import annotations

import hashlib
import threading

from hdh_migrate.backends.base import Backend
from hdh_migrate.backends.registry import open_spec
from hdh_migrate.keys import KeyProvider, open_key_spec
from hdh_migrate.stages.items import Spec
from hdh_migrate.stages.retry import RetryingBackend


def spec_digest(spec: Spec) -> str:
    """Names a spec's exact configuration (references, not secrets): a long-lived worker that
    serves several plans never hands one plan's client to another with the same ident."""
    text = repr((spec.kind, spec.ident, spec.config))
    return hashlib.sha256(text.encode()).hexdigest()


class Clients:
    """Builds each backend or key provider once per spec digest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self._keys: dict[str, KeyProvider] = {}

    def backend(self, spec: Spec) -> Backend:
        """The backend of ``spec`` (cached by its digest), wrapped in its retry policy when it
        carries one."""
        digest = spec_digest(spec)
        with self._lock:
            if digest not in self._backends:
                backend = open_spec(spec.backend_spec)
                if spec.retry is not None:
                    backend = RetryingBackend(backend, spec.retry)
                self._backends[digest] = backend
            return self._backends[digest]

    def key(self, spec: Spec) -> KeyProvider:
        digest = spec_digest(spec)
        with self._lock:
            if digest not in self._keys:
                self._keys[digest] = open_key_spec(spec.key_spec)
            return self._keys[digest]

    def close(self) -> None:
        """Close every backend and key provider built (PKCS#11 sessions included)."""
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            for key in self._keys.values():
                key.close()
            self._backends.clear()
            self._keys.clear()


#: The cache tasks use when none is injected (one per process: threads share it).
PROCESS_CLIENTS = Clients()
