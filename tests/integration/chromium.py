"""Headless Chromium for report rendering tests: find it, or install Debian's ``chromium``.

    python tests/integration/chromium.py      # install both if missing, print their paths

``ensure_chromium()`` and ``ensure_pdftoppm()`` run ``apt-get install -y chromium`` /
``poppler-utils`` (after ``apt-get update`` when the first attempt fails) as root; they
raise RuntimeError naming the package when they cannot.
``screenshot``/``dump_dom`` run it with everything network-related switched off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def ensure_chromium() -> str:
    """The chromium executable, installed with apt-get when missing."""
    found = find_chromium()
    if not found:
        _apt_install("chromium")
        found = find_chromium()
    if not found:
        raise RuntimeError("chromium installed but not on PATH")
    return found


def _apt_install(package: str) -> None:
    """``apt-get install -y PACKAGE`` as root (after ``apt-get update`` when the first
    attempt fails: a fresh CI image has no package lists); RuntimeError naming the
    package and apt's last words when it cannot."""
    if os.geteuid() != 0:
        raise RuntimeError(f"{package} is missing and installing it needs root: "
                           f"apt-get install {package}")  # fmt: skip
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get install {package} failed: {done.stderr[-500:]}")


def _run(binary: str, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="hdh-chromium-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def screenshot(binary: str, page: Path, out: Path, size: tuple[int, int] = (1280, 2000)) -> None:
    """Render ``page`` (a local file) to PNG ``out``."""
    done = _run(
        binary,
        [f"--screenshot={out}", f"--window-size={size[0]},{size[1]}", page.absolute().as_uri()],
    )
    if not out.exists():
        raise RuntimeError(
            f"chromium wrote no screenshot (rc {done.returncode}): {done.stderr[-800:]}"
        )


def dump_dom(binary: str, page: Path) -> str:
    """The DOM after rendering, serialised."""
    done = _run(binary, ["--dump-dom", page.absolute().as_uri()])
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(
            f"chromium --dump-dom failed (rc {done.returncode}): {done.stderr[-800:]}"
        )
    return done.stdout


def print_pdf(binary: str, page: Path, out: Path) -> None:
    """Print ``page`` to PDF ``out`` with Chromium's print-to-PDF (the page's print CSS)."""
    done = _run(
        binary, [f"--print-to-pdf={out}", "--no-pdf-header-footer", page.absolute().as_uri()]
    )
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF (rc {done.returncode}): {done.stderr[-800:]}")


def ensure_pdftoppm() -> str:
    """pdftoppm (poppler-utils), installed with apt-get when missing (as root)."""
    found = shutil.which("pdftoppm")
    if not found:
        _apt_install("poppler-utils")
        found = shutil.which("pdftoppm")
    if not found:
        raise RuntimeError("poppler-utils installed but pdftoppm is not on PATH")
    return found


if __name__ == "__main__":
    try:
        print(ensure_chromium())
        print(ensure_pdftoppm())
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
