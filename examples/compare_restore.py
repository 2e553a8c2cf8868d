"""Compare restored files, byte for byte, with the source blobs they came from.

python examples/compare_restore.py DIR --container rehearsal --prefix referentiels/
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

from hdh_migrate.backends.registry import open_backend


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--container", default="rehearsal")
    parser.add_argument("--prefix", default="", help="the dataset's source prefix")
    args = parser.parse_args(argv)
    source = open_backend(
        "azure_blob",
        {
            "container": args.container,
            "connection_string": os.environ["AZURE_STORAGE_CONNECTION_STRING"],
        },
    )
    files = sorted(p for p in args.dir.rglob("*") if p.is_file())
    if not files:
        print(f"nothing restored under {args.dir}")
        return 1
    for path in files:
        key = args.prefix + path.relative_to(args.dir).as_posix()
        with source.open_read(key) as blob:
            expected = hashlib.sha256(blob.read()).hexdigest()
        if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            print(f"DIFFERENT: {key}")
            return 1
    print(f"{len(files)} restored file(s) identical to their source blobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
