"""Containers inside files: cpio, gzip/bzip2/xz, nesting, against the real corpus and generated files.

The corpus files are read in place from ``../shared/corpus/disk``; oracles are independent readers
(Python's tarfile, GNU gzip, a cpio header parser written here) rather than the code under test.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tessera.evidence import Limits, iter_evidence, open_item
from tessera.evidence import cpio as cpio_mod
from tessera.evidence.base import split_raw_path
from tessera.records import EvidenceItem
from tests.conftest import shared_dir

DISK = shared_dir() / "corpus" / "disk"
MTIME = 1_600_000_000


def _items(root: Path, limits: Limits) -> dict[str, EvidenceItem]:
    out: dict[str, EvidenceItem] = {}
    for item in iter_evidence(root, limits):
        assert item.locator not in out
        out[item.locator] = item
    return out


def _read(item: EvidenceItem) -> bytes:
    assert item.opener is not None, item
    with open_item(item.opener) as fh:
        return fh.read()


def _corpus(name: str) -> Path:
    path = DISK / name
    if not path.exists():
        pytest.skip(f"corpus file {path} not present")
    return path


def newc(entries: list[tuple[bytes, bytes, int, int, int]]) -> bytes:
    """A newc cpio: (name, data, mode, inode, nlink) per entry, then the trailer."""
    out = b""
    for name, data, mode, ino, nlink in [*entries, (b"TRAILER!!!", b"", 0, 0, 1)]:
        n = name + b"\0"
        fields = [ino, mode, 0, 0, nlink, MTIME, len(data), 0, 0, 0, 0, len(n), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + n + b"\0" * (-(110 + len(n)) % 4)
        out += data + b"\0" * (-len(data) % 4)
    return out


def odc(entries: list[tuple[bytes, bytes, int]]) -> bytes:
    """A POSIX portable-ASCII (odc) cpio: (name, data, mode) per entry."""
    out = b""
    for ino, (name, data, mode) in enumerate([*entries, (b"TRAILER!!!", b"", 0)], 1):
        n = name + b"\0"
        head = b"%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o" % (
            0,
            ino,
            mode,
            0,
            0,
            1,
            0,
            MTIME,
            len(n),
            len(data),
        )
        out += b"070707" + head + n + data
    return out


def _cpio_oracle(data: bytes) -> dict[bytes, bytes]:
    """Member name -> bytes of a newc archive, parsed straight from its headers."""
    out: dict[bytes, bytes] = {}
    pos = 0
    while True:
        assert data[pos : pos + 6] in (b"070701", b"070702")
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        size, namesize = fields[6], fields[11]
        name = data[pos + 110 : pos + 110 + namesize - 1]
        start = pos + 110 + namesize + (-(110 + namesize) % 4)
        if name == b"TRAILER!!!":
            return out
        out[name] = data[start : start + size]
        pos = start + size + (-size % 4)


# --- the real corpus ----------------------------------------------------------------------------


def test_corpus_cpio_and_tgz_hold_the_same_syslog(limits: Limits) -> None:
    cpio_path, tgz_path = _corpus("syslog.newc.cpio"), _corpus("syslog.tgz")
    cpio_items = _items(cpio_path, limits)
    member = cpio_items["/syslog.newc.cpio!/syslog"]
    expected = _cpio_oracle(cpio_path.read_bytes())[b"syslog"]
    assert member.error is None and _read(member) == expected and member.size == 1247
    with tarfile.open(tgz_path) as tf:
        info = tf.getmember("syslog")
        from_tar = tf.extractfile(info).read()  # type: ignore[union-attr]
    tgz = _items(tgz_path, limits)["/syslog.tgz!/syslog"]
    assert _read(tgz) == from_tar and tgz.mtime == info.mtime
    assert (
        hashlib.sha256(from_tar).digest() == hashlib.sha256(expected).digest()
    )  # one syslog, two containers
    assert set(cpio_items) == {"/syslog.newc.cpio", "/syslog.newc.cpio!/syslog"}


def test_corpus_corrupt_gzip_names_the_damage_and_keeps_what_it_read(limits: Limits) -> None:
    path = _corpus("corrupt1.gz")
    items = _items(path, limits)
    outer, member = items["/corrupt1.gz"], items["/corrupt1.gz!/corrupt1"]
    assert outer.error is None and outer.opener is not None  # the file itself is hashed as found
    assert member.error is not None and member.error.startswith("corrupt gzip stream: the file ends inside")
    assert "(partial)" in member.error
    gzip_tool = shutil.which("gzip")
    if gzip_tool:  # GNU gzip as the oracle: what it writes before it gives up
        got = subprocess.run([gzip_tool, "-dc", str(path)], capture_output=True, check=False)
        assert got.returncode != 0
        expected = got.stdout
    else:
        expected = zlib_prefix(path.read_bytes())
    assert len(expected) > 0 and _read(member) == expected and member.size == len(expected)


def zlib_prefix(data: bytes) -> bytes:
    import zlib

    return zlib.decompressobj(31).decompress(data)


@pytest.mark.parametrize("name", ["absolute_paths.tar", "mixed_paths.tar"])
def test_corpus_absolute_member_names(limits: Limits, name: str) -> None:
    path = _corpus(name)
    items = _items(path, limits)
    with tarfile.open(path) as tf:
        members = [(i.name, tf.extractfile(i).read()) for i in tf if i.isreg()]  # type: ignore[union-attr]
    assert len(members) == 2
    for raw, content in members:
        item = items[f"/{name}!/{raw.lstrip('/')}"]  # never "!//"
        assert _read(item) == content and item.error is None
        assert split_raw_path(item.raw_path, item.locator) == [f"/{name}".encode(), b"/" + raw.encode()]
    assert all("!//" not in loc for loc in items)


# --- generated cpio -----------------------------------------------------------------------------


def test_newc_and_odc_members_links_and_duplicates(tmp_path: Path, limits: Limits) -> None:
    reg, sym = 0o100644, 0o120777
    archive = newc(
        [
            (b"dir/a!b.txt", b"bang", reg, 1, 1),
            (b"dup.txt", b"one", reg, 2, 1),
            (b"dup.txt", b"two", reg, 3, 1),
            (b"link", b"dir/a!b.txt", sym, 4, 1),
            (b"h1", b"", reg, 5, 2),  # newc: a hard-linked file's bytes come with its last name
            (b"h2", b"linked bytes", reg, 5, 2),
            (b"empty", b"", reg, 6, 1),
            (b"caf\xe9", b"latin-1 name", reg, 7, 1),
        ]
    )
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "n.cpio").write_bytes(archive)
    (ev / "o.cpio").write_bytes(odc([(b"x/y.txt", b"odc data", reg), (b"z", b"zz", reg)]))
    items = _items(ev, limits)
    assert _read(items["/n.cpio!/dir/a%21b.txt"]) == b"bang"
    assert (_read(items["/n.cpio!/dup.txt"]), _read(items["/n.cpio!/dup.txt#2"])) == (b"one", b"two")
    link = items["/n.cpio!/link"]
    assert link.is_symlink and link.link_kind == "symlink" and link.link_target == "dir/a!b.txt"
    for name in ("h1", "h2"):
        hard = items[f"/n.cpio!/{name}"]
        assert hard.link_kind == "hard" and not hard.is_symlink and _read(hard) == b"linked bytes"
    assert _read(items["/n.cpio!/empty"]) == b"" and items["/n.cpio!/empty"].link_kind is None
    latin = items["/n.cpio!/caf\\xe9"]
    assert latin.raw_path == b"/n.cpio!/caf\xe9" and _read(latin) == b"latin-1 name"
    assert items["/n.cpio!/dup.txt"].mtime == MTIME
    assert _read(items["/o.cpio!/x/y.txt"]) == b"odc data" and _read(items["/o.cpio!/z"]) == b"zz"


def test_cpio_member_over_budget_recorded_and_later_members_read(tmp_path: Path, limits: Limits) -> None:
    reg = 0o100644
    archive = newc([(b"big", os.urandom(5000), reg, 1, 1), (b"small", b"s" * 100, reg, 2, 1)])
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "b.cpio").write_bytes(archive)
    items = _items(ev, Limits(max_total_bytes=1000, scratch_dir=limits.scratch_dir))
    assert items["/b.cpio!/big"].error == "container expands past 1000 bytes (limit max_total_bytes)"
    assert items["/b.cpio!/big"].opener is None and items["/b.cpio!/big"].size == 5000
    assert _read(items["/b.cpio!/small"]) == b"s" * 100


def test_nested_cpio_gz_in_tar_in_zip(tmp_path: Path, limits: Limits) -> None:
    initramfs = gzip.compress(newc([(b"init", b"#!/bin/sh\n", 0o100755, 1, 1)]), mtime=0)
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w:xz") as tf:
        info = tarfile.TarInfo("boot/initrd.cpio.gz")
        info.size = len(initramfs)
        tf.addfile(info, io.BytesIO(initramfs))
    zip_buf = io.BytesIO()
    with zipfile.ZipFile(zip_buf, "w") as zf:
        zf.writestr("backup.tar.xz", tar_buf.getvalue())
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "dump.zip").write_bytes(zip_buf.getvalue())
    items = _items(ev, limits)
    # A compressed cpio is one cpio stream, as a .tar.gz is one tar (each member's ratio is measured).
    deep = items["/dump.zip!/backup.tar.xz!/boot/initrd.cpio.gz!/init"]
    assert deep.depth == 3 and _read(deep) == b"#!/bin/sh\n"


def test_cpio_without_libarchive_is_named(
    tmp_path: Path, limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpio_mod, "_libarchive", lambda: None)
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "n.cpio").write_bytes(newc([(b"a", b"a", 0o100644, 1, 1)]))
    item = _items(ev, limits)["/n.cpio"]
    assert item.error is not None and "libarchive-c" in item.error and item.opener is not None


# --- single compressed files ----------------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 400 + os.urandom(50_000)
COMPRESS = {"gz": lambda d: gzip.compress(d, mtime=0), "bz2": bz2.compress, "xz": lzma.compress}
KIND = {"gz": "gzip", "bz2": "bzip2", "xz": "xz"}


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_truncated_stream_keeps_its_prefix(tmp_path: Path, limits: Limits, suffix: str) -> None:
    whole = COMPRESS[suffix](PAYLOAD)
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / f"p.bin.{suffix}").write_bytes(whole[: len(whole) * 3 // 4])
    member = _items(ev, limits)[f"/p.bin.{suffix}!/p.bin"]
    assert member.error is not None and member.error.startswith(f"corrupt {KIND[suffix]} stream")
    got = _read(member) if member.opener is not None else b""
    assert PAYLOAD.startswith(got)  # a prefix, never invented bytes
    if suffix != "bz2":  # bzip2 yields whole 900 kB blocks only: a cut inside the first leaves nothing
        assert len(got) > 0


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_concatenated_streams_and_padding(tmp_path: Path, limits: Limits, suffix: str) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / f"cat.{suffix}").write_bytes(
        COMPRESS[suffix](b"first,") + COMPRESS[suffix](b"second") + bytes(1024)
    )
    (ev / f"junk.{suffix}").write_bytes(COMPRESS[suffix](b"data") + b"hidden trailing bytes")
    items = _items(ev, limits)
    cat = items[f"/cat.{suffix}!/cat"]
    assert cat.error is None and _read(cat) == b"first,second"
    junk = items[f"/junk.{suffix}!/junk"]
    assert junk.error is not None and "after the end of the" in junk.error and _read(junk) == b"data"
