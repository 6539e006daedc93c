"""What follows a tar's end-of-archive is read or named, never dropped.

tarfile stops at the first end block: a second archive after it (``cat a.tar b.tar``; two compressed
streams, ``cat a.tar.xz b.tar.xz``), bytes appended after the archive or after its compressed stream,
or a damaged header in the middle all ended the listing without a word before this fix. Python's
xz and bzip2 readers also drop what follows the last stream.
"""

from __future__ import annotations

import bz2
import io
from pathlib import Path

import pytest

from tessera.evidence import Limits, open_item
from tessera.evidence.compressed import _OUT, decompressed_chunks
from tessera.evidence.resolve import reopen
from tessera.records import EvidenceItem
from tessera.synth.archives import COMPRESS, concatenated, tar_bytes
from tests.evidence.test_cpio_limits import _walk

A = {"a/one.txt": b"first archive\n", "a/big.bin": bytes(range(256)) * 300}
B = {"b/two.txt": b"second archive, hidden from a tool that stops at the first end\n"}


def _read(item: EvidenceItem) -> bytes:
    assert item.opener is not None, item.error
    with open_item(item.opener) as fh:
        return fh.read()


def _assert_members(items: dict[str, EvidenceItem], top: str, *parts: dict[str, bytes]) -> None:
    for part in parts:
        for name, data in part.items():
            assert _read(items[f"{top}!/{name}"]) == data


@pytest.mark.parametrize(
    ("suffix", "streams"), [(s, False) for s in sorted(COMPRESS)] + [(s, True) for s in sorted(COMPRESS) if s]
)
def test_concatenated_archives_are_all_listed(
    tmp_path: Path, limits: Limits, suffix: str, streams: bool
) -> None:
    name = f"t.tar{suffix}"
    items = _walk(tmp_path, name, concatenated([tar_bytes(A), tar_bytes(B)], suffix, streams=streams), limits)
    _assert_members(items, f"/{name}", A, B)
    assert not [i.error for i in items.values() if i.error]


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_bytes_after_the_compressed_stream_are_named(tmp_path: Path, limits: Limits, suffix: str) -> None:
    name = f"t.tar{suffix}"
    items = _walk(tmp_path, name, COMPRESS[suffix](tar_bytes(A)) + b"appended, not compressed", limits)
    _assert_members(items, f"/{name}", A)
    note = items[f"/{name}!/"].error or ""
    kind = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz"}[suffix]
    assert note.startswith("corrupt compressed stream after the end of the tar archive")
    assert f"are not {kind}" in note


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_bytes_after_the_archive_end_are_named_with_offset_and_size(
    tmp_path: Path, limits: Limits, suffix: str
) -> None:
    plain = tar_bytes(A)
    tail = b"\x00" * 700 + b"not a tar header" * 40  # after the record padding, some zeros, then text
    name = f"t.tar{suffix}"
    items = _walk(tmp_path, name, COMPRESS[suffix](plain + tail), limits)
    _assert_members(items, f"/{name}", A)
    start = len(plain) + 512  # the text begins in the second block after the archive
    assert items[f"/{name}!/"].error == (
        f"{len(plain) + len(tail) - start:,} bytes after the end of the tar archive (from byte {start:,}) "
        "are not tar: not read"
    )


def test_zero_padding_after_the_end_is_the_normal_end(tmp_path: Path, limits: Limits) -> None:
    items = _walk(tmp_path, "t.tar", tar_bytes(A) + bytes(3 * 10240), limits)
    _assert_members(items, "/t.tar", A)
    assert not [i.error for i in items.values() if i.error]


def test_a_damaged_header_in_the_middle_is_named(tmp_path: Path, limits: Limits) -> None:
    # tarfile ends the listing at an invalid header after the first: the members behind it were lost.
    first = tar_bytes({"a/one.txt": A["a/one.txt"]})
    end = first.index(bytes(1024), 1024)  # the end-of-archive blocks after the one member
    damaged = first[:end] + b"\xff" * 512 + tar_bytes(B)
    items = _walk(tmp_path, "t.tar", damaged, limits)
    assert _read(items["/t.tar!/a/one.txt"]) == A["a/one.txt"]
    note = items["/t.tar!/"].error or ""
    assert note.endswith("are not tar: not read") and f"(from byte {end:,})" in note


@pytest.mark.parametrize("suffix", ["", ".xz"])
def test_a_hard_link_into_the_second_archive_gets_its_content(
    tmp_path: Path, limits: Limits, suffix: str
) -> None:
    second = tar_bytes(B, links={"b/again.txt": "b/two.txt"})
    name = f"t.tar{suffix}"
    items = _walk(tmp_path, name, concatenated([tar_bytes(A), second], suffix, streams=True), limits)
    link = items[f"/{name}!/b/again.txt"]
    assert link.link_kind == "hard" and _read(link) == B["b/two.txt"]


def test_no_decompression_step_makes_more_than_a_bounded_chunk() -> None:
    # 8 MiB of zeros is ~40 bytes of bzip2: one unbounded decompress call held all of it (a 2 KiB file
    # of 3 GiB of zeros took the walker to 6 GiB of memory).
    data = bz2.compress(bytes(8 << 20))
    sizes = [len(c) for c in decompressed_chunks("bzip2", io.BytesIO(data))]
    assert sum(sizes) == 8 << 20 and max(sizes) <= _OUT


def test_the_resolver_reopens_members_of_the_second_archive(tmp_path: Path, limits: Limits) -> None:
    data = concatenated(
        [tar_bytes(A), tar_bytes(B, links={"b/again.txt": "b/two.txt"})], ".bz2", streams=True
    )
    items = _walk(tmp_path, "t.tar.bz2", data, limits)
    for loc in ("/t.tar.bz2!/b/two.txt", "/t.tar.bz2!/b/again.txt", "/t.tar.bz2!/a/big.bin"):
        again = reopen([(str(tmp_path / "ev"), "")], loc, items[loc].raw_path, limits)
        assert _read(again) == _read(items[loc]), loc
