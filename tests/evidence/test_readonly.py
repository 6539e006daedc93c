"""Forensic soundness: the walk changes nothing in the evidence and streams instead of collecting."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.evidence import Limits, iter_evidence
from tessera.synth.trees import make_device_tree

from .conftest import snapshot


def test_tree_unchanged_by_walk(tmp_path: Path, limits: Limits) -> None:
    ev = tmp_path / "ev"
    make_device_tree(ev, 3, n_photos=4, n_chat=3, zip_bomb_size=8 * 1024 * 1024)
    # Old access times: a read that touched them would now update them even under "relatime".
    # (This os.walk also settles the directories' atimes, so the snapshots' own listings keep them.)
    old = time.time() - 3 * 86400
    for dirpath, _, files in os.walk(ev):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.utime(path, (old, os.lstat(path).st_mtime))
    before = snapshot(ev)
    items = list(iter_evidence(ev, limits))
    assert len(items) > 30
    assert snapshot(ev) == before  # contents, sizes, modes, inodes, mtimes, ctimes and atimes


def test_symlink_target_outside_tree_never_read(tmp_path: Path, limits: Limits) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"never to be read")
    old = time.time() - 3 * 86400
    os.utime(outside, (old - 86400, old))  # atime older than mtime: any read would update it
    before = os.stat(outside).st_atime_ns
    ev = tmp_path / "ev"
    make_device_tree(ev, 4, n_photos=2, n_chat=1, symlink_target=str(outside))
    items = {i.locator: i for i in iter_evidence(ev, limits)}
    link = items["/Download/outside-link"]
    assert link.is_symlink and link.link_target == str(outside) and link.opener is None
    assert not any("outside.bin" in loc for loc in items)
    assert os.stat(outside).st_atime_ns == before


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A memory-backed directory where one exists: creating 20k files on a busy disk takes long."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(dir=shm, prefix="tessera-test-"))
        yield path
        shutil.rmtree(path)
    else:
        yield tmp_path


def test_walk_streams(fast_dir: Path, limits: Limits) -> None:
    ev = fast_dir / "ev"
    n_dirs, per_dir = 200, 100
    for d in range(n_dirs):
        sub = os.fsencode(ev / f"d{d:03d}")
        os.makedirs(sub)
        for f in range(per_dir):
            os.close(os.open(sub + b"/f%03d.txt" % f, os.O_WRONLY | os.O_CREAT, 0o644))
    tracemalloc.start()
    try:
        count = 0
        for _ in iter_evidence(ev, limits):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n_dirs * per_dir
    assert peak < 500_000, f"walk held {peak} bytes at peak"  # 20k items collected: ~9 MB
