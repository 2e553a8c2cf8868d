"""When a write's own answer confirms the object, so the HEAD after it can be skipped.

A single PUT sent with a Content-MD5 to a target the probe saw *validate* Content-MD5
(a wrong one is refused with BadDigest) and answered 200 with an ETag: the server stored
exactly the ``Content-Length`` bytes whose MD5 we computed over what we sent — what the
HEAD would have confirmed (the size), and more. Multipart uploads and targets that
ignore checksums keep their HEAD.
"""

from __future__ import annotations

from hdh_migrate.backends.base import ObjectInfo
from hdh_migrate.stages.items import CopyItem


def confirmed_by_write(item: CopyItem, written: ObjectInfo) -> bool:
    return (
        item.trust_write and written.extra.get("sent_content_md5") == "true" and bool(written.etag)
    )
