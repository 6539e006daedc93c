from __future__ import annotations

import os
from pathlib import Path

import pytest

from tessera.evidence import EvidenceError, Limits, directory, iter_evidence
from tessera.evidence import walk as walk_module
from tessera.records import EvidenceItem, Opener


def _write(root: Path, rel: str | bytes, data: bytes = b"x") -> None:
    path = os.fsencode(root) + b"/" + (rel if isinstance(rel, bytes) else rel.encode())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def _items(root: Path, limits: Limits) -> list[EvidenceItem]:
    return list(iter_evidence(root, limits))


def test_locators_sorted_and_times_recorded(tmp_path: Path, limits: Limits) -> None:
    ev = tmp_path / "ev"
    for rel in ("b.txt", "a/z.txt", "a.txt", "a/b/c.txt", "A.txt"):
        _write(ev, rel, rel.encode())
    os.utime(ev / "a.txt", (1_600_000_000, 1_650_000_000))
    items = _items(ev, limits)
    locs = [i.locator for i in items]
    assert locs == ["/A.txt", "/a.txt", "/a/b/c.txt", "/a/z.txt", "/b.txt"]
    assert locs == sorted(locs)  # directories sort as "name/": the walk is in full-path order
    a = items[1]
    assert a.mtime == 1_650_000_000 and a.atime == 1_600_000_000 and a.ctime is not None
    assert a.size == 5 and a.depth == 0 and a.error is None
    assert a.opener is not None and a.opener.path == str(ev / "a.txt") and a.opener.data is None


def test_non_utf8_name_round_trips(tmp_path: Path, limits: Limits) -> None:
    ev = tmp_path / "ev"
    _write(ev, b"caf\xe9/\xff\xfe.jpg", b"data")
    (item,) = _items(ev, limits)
    assert item.raw_path == b"/caf\xe9/\xff\xfe.jpg"
    assert item.locator == "/caf\\xe9/\\xff\\xfe.jpg"
    assert item.opener is not None and item.opener.path is not None
    assert os.fsencode(item.opener.path) == os.fsencode(ev) + item.raw_path
    with open(os.fsencode(item.opener.path), "rb") as fh:
        assert fh.read() == b"data"


def test_symlinks_recorded_not_followed(tmp_path: Path, limits: Limits) -> None:
    ev, outside = tmp_path / "ev", tmp_path / "outside"
    _write(ev, "real.txt")
    _write(outside, "secret.txt", b"outside")
    os.symlink(outside, ev / "dir-link")
    os.symlink(outside / "secret.txt", ev / "file-link")
    os.symlink("..", ev / "loop")
    os.symlink("missing", ev / "dangling")
    items = {i.locator: i for i in _items(ev, limits)}
    assert set(items) == {"/dangling", "/dir-link", "/file-link", "/loop", "/real.txt"}
    for loc in ("/dangling", "/dir-link", "/file-link", "/loop"):
        link = items[loc]
        assert link.is_symlink and link.opener is None and link.size is None and link.error is None
    assert items["/file-link"].link_target == str(outside / "secret.txt")
    assert items["/loop"].link_target == ".."


def test_fifo_recorded_never_opened(tmp_path: Path, limits: Limits) -> None:
    ev = tmp_path / "ev"
    _write(ev, "a.txt")
    os.mkfifo(ev / "pipe")  # opening it for reading would block the walk forever
    items = {i.locator: i for i in _items(ev, limits)}
    assert items["/pipe"].error == "not a regular file: fifo"
    assert items["/pipe"].opener is None
    assert items["/a.txt"].error is None


def test_unreadable_file_recorded_and_walk_goes_on(
    tmp_path: Path, limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = tmp_path / "ev"
    for rel in ("a.txt", "locked.txt", "z.txt"):
        _write(ev, rel)
    real = walk_module.read_head

    def denying(opener: Opener, size: int = 8192) -> bytes:
        if opener.path and opener.path.endswith("locked.txt"):
            raise PermissionError(13, "Permission denied")
        return real(opener, size)

    # Running as root ignores file modes, so the denial is simulated where the walker reads.
    monkeypatch.setattr(walk_module, "read_head", denying)
    items = {i.locator: i for i in _items(ev, limits)}
    assert items["/locked.txt"].error == "cannot read: Permission denied"
    assert items["/locked.txt"].opener is None
    assert items["/a.txt"].error is None and items["/z.txt"].error is None


def test_unreadable_directory(tmp_path: Path, limits: Limits, monkeypatch: pytest.MonkeyPatch) -> None:
    ev = tmp_path / "ev"
    _write(ev, "closed/a.txt")
    _write(ev, "open/b.txt")
    real = directory.open_dir_fd

    def denying(path: bytes) -> int:
        if path.endswith(b"/closed"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(directory, "open_dir_fd", denying)
    items = {i.locator: i for i in _items(ev, limits)}
    assert items["/closed"].error == "cannot list directory: Permission denied"
    assert items["/closed"].opener is None and items["/closed"].mtime is not None
    assert items["/open/b.txt"].error is None
    assert "/closed/a.txt" not in items


def test_single_file_root(tmp_path: Path, limits: Limits) -> None:
    _write(tmp_path, "one.bin", b"12345")
    (item,) = _items(tmp_path / "one.bin", limits)
    assert item.locator == "/one.bin" and item.size == 5


def test_bad_roots(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="no such evidence source"):
        iter_evidence(tmp_path / "missing")
    with pytest.raises(EvidenceError, match="unknown evidence source"):
        iter_evidence(tmp_path, source="nope")
    with pytest.raises(EvidenceError, match="inside the evidence"):
        iter_evidence(tmp_path, Limits(scratch_dir=tmp_path / "sub"))
