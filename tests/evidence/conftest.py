"""Helpers for evidence tests: snapshots of a tree that do not disturb what they measure."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from tessera.evidence import Limits, open_readonly


def snapshot(root: Path) -> dict[bytes, tuple[object, ...]]:
    """Every entry under ``root`` (lstat, plus SHA-256 of regular files), read with O_NOATIME."""
    out: dict[bytes, tuple[object, ...]] = {}
    top = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open_readonly(path) as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            # Symlink atimes are left out: Linux updates them on readlink(), which nothing can avoid.
            atime = None if stat.S_ISLNK(st.st_mode) else st.st_atime_ns
            out[path] = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, atime, digest)
    return out


@pytest.fixture
def limits(tmp_path: Path) -> Limits:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Limits(scratch_dir=scratch)
