"""The local server stack for tests and rehearsals: Azurite, SeaweedFS S3, rclone S3,
OpenSSH SFTP and a SoftHSM2 token, all on 127.0.0.1, state under $HDH_DEVSTACK_DIR.

``ensure_up()`` starts what is not healthy (idempotent, safe across processes) and returns a
:class:`Stack`; ``load()`` returns the recorded Stack without starting anything.
"""

from __future__ import annotations

from pathlib import Path

from devstack.errors import DevstackError
from devstack.orchestrate import load, up
from devstack.stack import Stack

__all__ = ["DevstackError", "Stack", "ensure_up", "load"]


def ensure_up(directory: Path | None = None) -> Stack:
    """Start every service that is not healthy (reusing the healthy ones); return the Stack."""
    stack, _ = up(directory)
    return stack
