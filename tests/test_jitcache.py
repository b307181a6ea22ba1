"""Numba's cache is dropped when any kernel source changes, not only the kernel's own file."""

from __future__ import annotations

from pathlib import Path

from evolstm.cells import jitcache


def package(tmp_path: Path) -> Path:
    for name, text in (("cells/kernels.py", "def step(): pass\n"),
                       ("tasks/physics.py", "def balance(): pass\n")):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def cached(root: Path) -> Path:
    path = root / "tasks" / "__pycache__" / "physics.balance-1.py311.nbi"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"index")
    return path


def test_a_change_in_another_kernel_module_drops_the_cached_kernels(tmp_path):
    root = package(tmp_path)
    jitcache.refresh(root)  # first sight: stamp written
    kept = cached(root)
    assert not jitcache.refresh(root) and kept.exists()  # nothing changed
    (root / "cells" / "kernels.py").write_text("def step(): return 1\n")  # the callee only
    assert jitcache.refresh(root) and not kept.exists()
    again = cached(root)
    assert not jitcache.refresh(root) and again.exists()


def test_the_installed_package_carries_a_current_stamp():
    root = Path(jitcache.__file__).resolve().parent.parent
    stamp = root / "__pycache__" / jitcache.STAMP
    assert stamp.read_text(encoding="ascii") == jitcache.fingerprint(root)
