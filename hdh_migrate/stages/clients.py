"""Per-process caches of backends and key providers, built from plain specs.

Tasks receive specs, never clients; the first task in a process builds the client and the
next ones reuse it (boto3 clients and the other backends are thread-safe).
"""

from __future__ import annotations

import threading

from hdh_migrate.backends.base import Backend
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.keys import KeyProvider, open_key_provider
from hdh_migrate.stages.items import Spec
from hdh_migrate.stages.retry import RetryingBackend


class Clients:
    """Builds each backend or key provider once per ``Spec.ident``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self._keys: dict[str, KeyProvider] = {}

    def backend(self, spec: Spec) -> Backend:
        """The backend of ``spec``, wrapped in its retry policy when it carries one."""
        with self._lock:
            if spec.ident not in self._backends:
                backend = open_backend(spec.kind, spec.config)
                if spec.retry is not None:
                    backend = RetryingBackend(backend, spec.retry)
                self._backends[spec.ident] = backend
            return self._backends[spec.ident]

    def key(self, spec: Spec) -> KeyProvider:
        with self._lock:
            if spec.ident not in self._keys:
                self._keys[spec.ident] = open_key_provider(spec.kind, spec.config)
            return self._keys[spec.ident]

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
