"""Limits on compressed cpio archives: a member's own compression ratio, the byte and skip budgets.

A zero-filled member (a swap file in an initramfs backup, or a bomb) must be listed, not read and
not spooled, and must never hide the members after it; reaching them is bounded by
``max_skip_bytes``, and a stop there is named on the archive. The archives are built with the newc
writer of the container tests and compressed by Python's gzip, bz2 and lzma.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tessera.evidence import Limits, iter_evidence, open_item
from tessera.records import EvidenceItem
from tests.evidence.test_containers import newc

MiB = 1024 * 1024
REG = 0o100644
BOMB = "zip bomb guard: member expands past ratio 20 (limit max_ratio); not read, later members are"

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": lambda data: gzip.compress(data, mtime=0),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def _walk(tmp_path: Path, name: str, data: bytes, limits: Limits) -> dict[str, EvidenceItem]:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / name).write_bytes(data)
    return {i.locator: i for i in iter_evidence(ev, limits)}


def _sha256(item: EvidenceItem) -> str:
    assert item.opener is not None, item.error
    with open_item(item.opener) as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _later() -> dict[bytes, bytes]:
    return {f"after/{n}.bin".encode(): os.urandom(3000 + n) for n in range(3)}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_zero_member_not_read_not_spooled_and_later_members_read(
    tmp_path: Path, limits: Limits, suffix: str
) -> None:
    # A low ratio and a small in-memory limit: before the fix, the whole decompressed cpio was one
    # spooled member checked against the file's overall ratio, so the archive was refused whole.
    low = Limits(
        max_ratio=20, ratio_min_bytes=64 * 1024, max_member_bytes=256 * 1024, scratch_dir=limits.scratch_dir
    )
    later = _later()
    entries = [(b"before.txt", b"before", REG, 1, 1), (b"swapfile", bytes(8 * MiB), REG, 2, 1)]
    entries += [(name, data, REG, 3 + n, 1) for n, (name, data) in enumerate(later.items())]
    data = COMPRESSORS[suffix](newc(entries))
    assert len(data) * 20 < 8 * MiB  # the zero member alone is far past the ratio
    name = f"initrd.cpio.{suffix}"
    items = _walk(tmp_path, name, data, low)
    swap = items[f"/{name}!/swapfile"]
    assert swap.opener is None and swap.size == 8 * MiB and swap.error == BOMB
    assert items[f"/{name}!/before.txt"].error is None
    assert _sha256(items[f"/{name}!/before.txt"]) == hashlib.sha256(b"before").hexdigest()
    for member, content in later.items():
        item = items[f"/{name}!/{member.decode()}"]
        assert item.error is None and _sha256(item) == hashlib.sha256(content).hexdigest()
    assert f"/{name}!/" not in items  # no "rest of the archive not read"
    assert items[f"/{name}"].error is None
    assert limits.scratch_dir is not None and not list(limits.scratch_dir.iterdir())  # no spool left


def test_member_past_total_budget_does_not_hide_later_members(tmp_path: Path, limits: Limits) -> None:
    tight = Limits(max_total_bytes=2 * MiB, ratio_min_bytes=64 * 1024, scratch_dir=limits.scratch_dir)
    later = _later()
    entries = [(b"zeros", bytes(4 * MiB), REG, 1, 1)]
    entries += [(name, data, REG, 2 + n, 1) for n, (name, data) in enumerate(later.items())]
    items = _walk(tmp_path, "t.cpio.gz", gzip.compress(newc(entries), mtime=0), tight)
    zeros = items["/t.cpio.gz!/zeros"]
    assert (
        zeros.opener is None and zeros.error == "container expands past 2097152 bytes (limit max_total_bytes)"
    )
    for member, content in later.items():
        item = items[f"/t.cpio.gz!/{member.decode()}"]
        assert item.error is None and _sha256(item) == hashlib.sha256(content).hexdigest()
    assert "/t.cpio.gz!/" not in items
    assert limits.scratch_dir is not None and not list(limits.scratch_dir.iterdir())


def test_past_skip_budget_stops_with_a_named_note(tmp_path: Path, limits: Limits) -> None:
    # Reaching the next header means decompressing through the member: bounded, and the stop named.
    tight = Limits(
        max_total_bytes=1 * MiB,
        max_skip_bytes=2 * MiB,
        ratio_min_bytes=64 * 1024,
        scratch_dir=limits.scratch_dir,
    )
    entries = [(b"a", b"a", REG, 1, 1), (b"zeros", bytes(4 * MiB), REG, 2, 1), (b"b", b"b", REG, 3, 1)]
    items = _walk(tmp_path, "t.cpio.xz", lzma.compress(newc(entries)), tight)
    assert _sha256(items["/t.cpio.xz!/a"]) == hashlib.sha256(b"a").hexdigest()
    zeros = items["/t.cpio.xz!/zeros"]
    assert (
        zeros.opener is None and zeros.error == "container expands past 1048576 bytes (limit max_total_bytes)"
    )
    note = items["/t.cpio.xz!/"].error or ""
    assert note == (
        "the rest of the archive was not read: reaching it means decompressing past 2097152 bytes "
        "(limit max_skip_bytes)"
    )
    assert "/t.cpio.xz!/b" not in items


def test_damaged_compressed_cpio_keeps_members_before_the_damage(tmp_path: Path, limits: Limits) -> None:
    later = _later()
    entries = [(name, data, REG, 1 + n, 1) for n, (name, data) in enumerate(later.items())]
    data = gzip.compress(newc(entries), mtime=0)
    items = _walk(tmp_path, "t.cpio.gz", data[: len(data) - 2000], limits)
    first, content = next(iter(later.items()))
    assert _sha256(items[f"/t.cpio.gz!/{first.decode()}"]) == hashlib.sha256(content).hexdigest()
    errors = [i.error for i in items.values() if i.error]
    assert errors and all("corrupt" in e for e in errors), errors


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
@pytest.mark.parametrize(("tail", "why"), [(b"garbage!", "are not"), (None, "the file ends inside")])
def test_damage_after_the_last_member_is_named(
    tmp_path: Path, limits: Limits, suffix: str, tail: bytes | None, why: str
) -> None:
    # libarchive stops at the cpio trailer: the stream after it is still read, so a cut trailer or
    # appended bytes (something hidden there) are named. Python's xz and bzip2 readers dropped bytes
    # after the last stream without a word: for all three the stream is now read by hand.
    later = _later()
    entries = [(name, data, REG, 1 + n, 1) for n, (name, data) in enumerate(later.items())]
    data = COMPRESSORS[suffix](newc(entries))
    data = data[:-4] if tail is None else data + tail
    items = _walk(tmp_path, f"t.cpio.{suffix}", data, limits)
    for member, content in later.items():
        got = items[f"/t.cpio.{suffix}!/{member.decode()}"]
        assert _sha256(got) == hashlib.sha256(content).hexdigest()
    note = items[f"/t.cpio.{suffix}!/"].error or ""
    assert note.startswith("corrupt compressed stream after the last member") and why in note
