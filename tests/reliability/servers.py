"""Kill and restart one server of the local stack (the stack this test session uses)."""

from __future__ import annotations

import os
import signal
import time

import devstack
from devstack.config import stack_dir
from devstack.orchestrate import running_pid, services
from devstack.services.base import Context


def kill_server(name: str) -> int:
    """``kill -9`` the stack's ``name`` server (azurite, seaweedfs); return its old pid."""
    svc = next(s for s in services(Context(stack_dir())) if s.name == name)
    pid = running_pid(svc)
    assert pid is not None, f"{name} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    return pid


def restart_stack() -> devstack.Stack:
    """Start again whatever is not healthy (the killed server), reusing its data."""
    return devstack.ensure_up()
