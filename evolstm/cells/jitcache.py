"""Keep Numba's on-disk kernel cache in step with the kernels' sources.

Numba checks a cached kernel against its own source file only. A kernel that inlines another
module's jitted function (the double pole's `balance` inlines `kernels.cell_step`; the fast
kernels inline `fastmath`) keeps its old machine code when only that other module changes,
as after a `git pull` into an editable install. `refresh` keeps one fingerprint of every
kernel source and deletes the package's cached kernels when it changes; the next use
compiles them again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

STAMP = "kernel-sources.sha256"  # in the package's __pycache__
KERNEL_DIRS = ("cells", "tasks")  # the subpackages that define jitted functions


def fingerprint(package_dir: Path) -> str:
    """SHA-256 over the names and contents of the kernel subpackages' .py files."""
    digest = hashlib.sha256()
    for path in sorted(p for name in KERNEL_DIRS for p in (package_dir / name).glob("*.py")):
        digest.update(f"{path.parent.name}/{path.name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def refresh(package_dir: Path) -> bool:
    """Delete every cached kernel (``*.nbi``, ``*.nbc``) under `package_dir` when the sources'
    fingerprint differs from the stamp left by the last refresh; True if any was deleted.
    Read-only installs are left alone (their sources are never edited in place)."""
    try:
        current = fingerprint(package_dir)
        stamp = package_dir / "__pycache__" / STAMP
        if stamp.is_file() and stamp.read_text(encoding="ascii") == current:
            return False
        stale = [*package_dir.rglob("*.nbi"), *package_dir.rglob("*.nbc")]
        for path in stale:
            path.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(current, encoding="ascii")
        return bool(stale)
    except OSError:
        return False
