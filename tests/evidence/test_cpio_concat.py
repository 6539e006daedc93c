"""Several cpio archives in one file: every member of every archive listed, nothing after a trailer
dropped unnamed.

libarchive stops at the first trailer. An initramfs with early microcode (what Debian, Ubuntu and
Fedora install as ``initrd.img``) is a plain cpio padded with NULs and followed by a compressed cpio;
``cat a.cpio b.cpio | gzip`` is one stream of two archives. Before the fix the second archive was never
listed and nothing said so, and a plain cpio named ``.img`` was taken for a disk image.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from tessera.evidence import Limits, open_item
from tessera.evidence.resolve import reopen
from tessera.records import EvidenceItem
from tests.evidence.test_containers import newc, odc
from tests.evidence.test_cpio_limits import COMPRESSORS, _walk

REG = 0o100644
MICROCODE = newc([(b"kernel/x86/microcode/AuthenticAMD.bin", b"\x01\x02" * 1500, REG, 1, 1)])
MAIN = {b"init": b"#!/bin/sh\nexec /sbin/init\n", b"etc/fstab": b"proc /proc proc defaults 0 0\n"}
MAIN_CPIO = newc([(name, data, REG, i, 1) for i, (name, data) in enumerate(MAIN.items(), 2)])


def _bytes(item: EvidenceItem) -> bytes:
    assert item.opener is not None, item.error
    with open_item(item.opener) as fh:
        return fh.read()


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def _assert_all(items: dict[str, EvidenceItem], top: str) -> None:
    assert _bytes(items[f"{top}!/kernel/x86/microcode/AuthenticAMD.bin"]) == b"\x01\x02" * 1500
    for name, data in MAIN.items():
        assert _bytes(items[f"{top}!/{name.decode()}"]) == data
    assert not [i for i in items.values() if i.error], [i.error for i in items.values() if i.error]


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_early_microcode_initramfs_lists_both_archives(tmp_path: Path, limits: Limits, suffix: str) -> None:
    data = _pad(MICROCODE) + COMPRESSORS[suffix](MAIN_CPIO)
    items = _walk(tmp_path, "initrd.img-6.1.0-13-amd64", data, limits)
    _assert_all(items, "/initrd.img-6.1.0-13-amd64")


def test_an_initramfs_named_img_is_read_as_cpio_not_taken_for_a_disk(tmp_path: Path, limits: Limits) -> None:
    items = _walk(tmp_path, "initrd.img", _pad(MICROCODE) + gzip.compress(MAIN_CPIO), limits)
    _assert_all(items, "/initrd.img")


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_two_archives_in_one_compressed_stream(tmp_path: Path, limits: Limits, suffix: str) -> None:
    items = _walk(tmp_path, f"initrd.cpio.{suffix}", COMPRESSORS[suffix](MICROCODE + MAIN_CPIO), limits)
    _assert_all(items, f"/initrd.cpio.{suffix}")


def test_two_plain_archives_of_two_dialects(tmp_path: Path, limits: Limits) -> None:
    second = odc([(name, data, REG) for name, data in MAIN.items()])
    items = _walk(tmp_path, "two.cpio", MICROCODE + second, limits)
    _assert_all(items, "/two.cpio")


def test_a_name_in_both_archives_keeps_both(tmp_path: Path, limits: Limits) -> None:
    again = newc([(b"init", b"the second init\n", REG, 9, 1)])
    items = _walk(tmp_path, "x.cpio", _pad(MAIN_CPIO) + again, limits)
    assert _bytes(items["/x.cpio!/init"]) == MAIN[b"init"]
    assert _bytes(items["/x.cpio!/init#2"]) == b"the second init\n"


def test_bytes_after_the_trailer_that_are_no_archive_are_named(tmp_path: Path, limits: Limits) -> None:
    hidden = b"\xff" * 700
    items = _walk(tmp_path, "x.cpio", _pad(MAIN_CPIO) + hidden, limits)
    for name, data in MAIN.items():
        assert _bytes(items[f"/x.cpio!/{name.decode()}"]) == data
    note = items["/x.cpio!/"].error
    assert note is not None and "700 bytes after the cpio trailer" in note and "not read" in note, note


def test_bytes_after_a_compressed_stream_are_named(tmp_path: Path, limits: Limits) -> None:
    data = _pad(MICROCODE) + gzip.compress(MAIN_CPIO, mtime=0)
    # gzip reads NUL padding after its stream as padding; anything else is damage, named as such.
    items = _walk(tmp_path, "initrd.img", data + b"\x00\x01junk", limits)
    note = items["/initrd.img!/"].error
    assert note is not None and "corrupt compressed stream" in note, note
    for name, body in MAIN.items():
        assert _bytes(items[f"/initrd.img!/{name.decode()}"]) == body


def test_the_resolver_reopens_members_of_the_second_archive(tmp_path: Path, limits: Limits) -> None:
    items = _walk(tmp_path, "initrd.img", _pad(MICROCODE) + gzip.compress(MAIN_CPIO), limits)
    roots = [(str(tmp_path / "ev"), "")]
    for loc, item in items.items():
        if item.opener is None or "!" not in loc:
            continue
        again = reopen(roots, loc, item.raw_path, limits)
        assert hashlib.sha256(_bytes(again)).digest() == hashlib.sha256(_bytes(item)).digest(), loc
