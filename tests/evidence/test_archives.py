from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from tessera.evidence import Limits, discard_spool, is_spooled, iter_evidence, open_item
from tessera.records import EvidenceItem
from tessera.synth.images import jpeg_bytes
from tessera.synth.trees import zip_bomb_bytes

MiB = 1024 * 1024
BOMB = "zip bomb guard: member expands past ratio 200 (limit max_ratio)"
TOTAL = "container expands past 2097152 bytes (limit max_total_bytes)"


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _walk(tmp_path: Path, files: dict[str, bytes], limits: Limits) -> dict[str, EvidenceItem]:
    ev = tmp_path / "ev"
    for rel, data in files.items():
        (ev / rel).parent.mkdir(parents=True, exist_ok=True)
        (ev / rel).write_bytes(data)
    return {i.locator: i for i in iter_evidence(ev, limits)}


def _read(item: EvidenceItem) -> bytes:
    assert item.opener is not None
    with open_item(item.opener) as fh:
        return fh.read()


def test_nested_zip_tar_gz_locators(tmp_path: Path, limits: Limits) -> None:
    pic = jpeg_bytes(1, 32, 24)
    inner = _tar({"x/y.jpg": pic, "x/note.txt": b"hello"}, "w:gz")
    outer = _zip({"photos/a.png": b"\x89PNG-ish", "inner.tar.gz": inner, "empty/": b""})
    items = _walk(tmp_path, {"Download/backup.zip": outer}, limits)
    assert list(items) == [
        "/Download/backup.zip",
        "/Download/backup.zip!/photos/a.png",
        "/Download/backup.zip!/inner.tar.gz",
        "/Download/backup.zip!/inner.tar.gz!/x/y.jpg",
        "/Download/backup.zip!/inner.tar.gz!/x/note.txt",
    ]
    y = items["/Download/backup.zip!/inner.tar.gz!/x/y.jpg"]
    assert y.depth == 2 and y.size == len(pic) and _read(y) == pic
    assert y.raw_path == b"/Download/backup.zip!/inner.tar.gz!/x/y.jpg"
    assert items["/Download/backup.zip"].opener is not None  # the container is content too
    assert items["/Download/backup.zip!/photos/a.png"].mtime is not None


@pytest.mark.parametrize(
    "mode,name", [("w", "a.tar"), ("w:gz", "a.tgz"), ("w:bz2", "a.tar.bz2"), ("w:xz", "a.bin")]
)
def test_tar_variants(tmp_path: Path, limits: Limits, mode: str, name: str) -> None:
    items = _walk(tmp_path, {name: _tar({"d/f.txt": b"content"}, mode)}, limits)
    member = items[f"/{name}!/d/f.txt"]
    assert _read(member) == b"content" and member.error is None


@pytest.mark.parametrize(
    "name,data,member",
    [
        ("log.txt.gz", gzip.compress(b"text", mtime=0), "log.txt"),
        ("log.txt.bz2", bz2.compress(b"text"), "log.txt"),
        ("log.txt.xz", lzma.compress(b"text"), "log.txt"),
        ("blob", gzip.compress(b"text", mtime=0), "blob.out"),
    ],
)
def test_single_compressed_files(tmp_path: Path, limits: Limits, name: str, data: bytes, member: str) -> None:
    items = _walk(tmp_path, {name: data}, limits)
    assert _read(items[f"/{name}!/{member}"]) == b"text"


def test_tar_links_and_devices(tmp_path: Path, limits: Limits) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, target in [
            ("link", tarfile.SYMTYPE, "/etc/passwd"),
            ("hard", tarfile.LNKTYPE, "file"),  # "file" is not in this archive
            ("dev", tarfile.CHRTYPE, ""),
            ("fifo", tarfile.FIFOTYPE, ""),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tf.addfile(info)
    items = _walk(tmp_path, {"t.tar": buf.getvalue()}, limits)
    assert set(items) == {"/t.tar", "/t.tar!/link", "/t.tar!/hard"}
    link, hard = items["/t.tar!/link"], items["/t.tar!/hard"]
    assert link.is_symlink and link.link_target == "/etc/passwd" and link.link_kind == "symlink"
    assert not hard.is_symlink and hard.link_kind == "hard" and hard.link_target == "file"
    assert hard.opener is None and hard.error is None  # its content is not in this archive: no loss


@pytest.mark.parametrize("mode,name", [("w", "h.tar"), ("w:gz", "h.tar.gz")])
def test_tar_hard_links_carry_their_targets_content(
    tmp_path: Path, limits: Limits, mode: str, name: str
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for member, data in [("a/orig.bin", b"original bytes"), ("a/other.txt", b"other")]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for member, target in [("b/hard1", "a/orig.bin"), ("b/hard2", "b/hard1")]:  # a link to a link
            info = tarfile.TarInfo(member)
            info.type, info.linkname = tarfile.LNKTYPE, target
            tf.addfile(info)
        info = tarfile.TarInfo("z/after.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"after"))
    items = _walk(tmp_path, {name: buf.getvalue()}, limits)
    for link in ("b/hard1", "b/hard2"):
        hard = items[f"/{name}!/{link}"]
        assert hard.link_kind == "hard" and not hard.is_symlink and hard.error is None
        assert _read(hard) == b"original bytes" and hard.size == 14
    assert items[f"/{name}!/b/hard1"].link_target == "a/orig.bin"
    assert _read(items[f"/{name}!/z/after.txt"]) == b"after"


def test_zip_names_cp437_and_utf8(tmp_path: Path, limits: Limits) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("фото.jpg", b"utf8 flagged")  # non-ASCII: zipfile sets the UTF-8 flag
        info = zipfile.ZipInfo("x.jpg")
        zf.writestr(info, b"cp437")
    raw = buf.getvalue().replace(b"x.jpg", b"\x82.jpg")  # a cp437 byte, not valid UTF-8, no flag
    items = _walk(tmp_path, {"n.zip": raw}, limits)
    assert "/n.zip!/фото.jpg" in items
    cp = items["/n.zip!/é.jpg"]  # 0x82 is é in code page 437
    assert cp.raw_path == b"/n.zip!/\x82.jpg"


def test_encrypted_member(tmp_path: Path, limits: Limits) -> None:
    data = bytearray(_zip({"secret.jpg": b"s" * 100, "open.txt": b"o"}, zipfile.ZIP_STORED))
    central = data.index(b"PK\x01\x02")  # set the "encrypted" flag of the first central entry
    data[central + 8] |= 1
    items = _walk(tmp_path, {"e.zip": bytes(data)}, limits)
    assert items["/e.zip!/secret.jpg"].error == "encrypted member"
    assert items["/e.zip!/secret.jpg"].opener is None
    assert _read(items["/e.zip!/open.txt"]) == b"o"


def test_corrupt_zip_recovers_members_and_walk_goes_on(tmp_path: Path, limits: Limits) -> None:
    full = _zip({"a.txt": b"A" * 5000, "b.txt": b"B" * 5000, "c.txt": b"C" * 5000})
    cut = full[: full.index(b"c.txt") + 20]  # inside the third member's data, no central directory
    garbage = b"PK\x03\x04" + b"\xff" * 100
    items = _walk(tmp_path, {"a-cut.zip": cut, "b-garbage.zip": garbage, "z.txt": b"after"}, limits)
    assert items["/a-cut.zip"].error is not None and items["/a-cut.zip"].error.startswith("corrupt archive")
    assert items["/a-cut.zip"].opener is not None  # still hashed as a file
    assert _read(items["/a-cut.zip!/a.txt"]) == b"A" * 5000
    assert _read(items["/a-cut.zip!/b.txt"]) == b"B" * 5000
    assert items["/a-cut.zip!/c.txt"].error is not None
    assert items["/b-garbage.zip"].error is not None
    assert items["/z.txt"].error is None


def test_truncated_tar_gz(tmp_path: Path, limits: Limits) -> None:
    data = _tar({"a.bin": os.urandom(20000), "b.bin": os.urandom(20000)}, "w:gz")
    items = _walk(tmp_path, {"t.tar.gz": data[: len(data) // 2 + 4000]}, limits)
    assert items["/t.tar.gz!/a.bin"].error is None
    problems = [i for loc, i in items.items() if loc != "/t.tar.gz!/a.bin" and i.error]
    assert problems, "the cut must be reported"


def test_zip_bomb_stopped(tmp_path: Path, limits: Limits) -> None:
    items = _walk(tmp_path, {"bomb.zip": zip_bomb_bytes(30 * MiB), "ok.txt": b"fine"}, limits)
    bomb = items["/bomb.zip!/zeros.bin"]
    assert bomb.error == BOMB
    assert bomb.opener is None and bomb.size == 30 * MiB
    assert items["/ok.txt"].error is None


def test_zip_bomb_in_damaged_zip_stopped(tmp_path: Path, limits: Limits) -> None:
    bomb = zip_bomb_bytes(30 * MiB)
    items = _walk(tmp_path, {"cut.zip": bomb[: len(bomb) // 2]}, limits)  # recovery path
    assert (
        items["/cut.zip!/zeros.bin"].error
        == "zip bomb guard: member expands past ratio 200 (limit max_ratio)"
    )


def test_gzip_bomb_stopped(tmp_path: Path, limits: Limits) -> None:
    items = _walk(tmp_path, {"z.bin.gz": gzip.compress(bytes(20 * MiB))}, limits)
    assert "limit max_ratio" in (items["/z.bin.gz!/z.bin"].error or "")


def test_tar_gz_bomb_member_skipped_and_later_members_read(tmp_path: Path, limits: Limits) -> None:
    # A zero-filled member (a swap file, say) used to end the walk: every member after it unlisted.
    small = Limits(ratio_min_bytes=64 * 1024, max_member_bytes=256 * 1024, scratch_dir=limits.scratch_dir)
    later = {f"after/{n}.bin": os.urandom(3000 + n) for n in range(3)}
    data = _tar({"before.txt": b"before", "swapfile": bytes(8 * MiB), **later}, "w:gz")
    assert len(data) < 8 * MiB // 200  # a ratio far past the limit
    items = _walk(tmp_path, {"t.tar.gz": data}, small)
    swap = items["/t.tar.gz!/swapfile"]
    assert swap.opener is None and swap.size == 8 * MiB
    assert swap.error == BOMB + "; not read, later members are"
    assert _read(items["/t.tar.gz!/before.txt"]) == b"before"
    for member, content in later.items():
        item = items[f"/t.tar.gz!/{member}"]
        assert item.error is None and _read(item) == content
    assert "/t.tar.gz!/" not in items  # no "rest of the archive not read"
    assert limits.scratch_dir is not None and not list(limits.scratch_dir.iterdir())  # spool removed


def test_tar_gz_member_past_total_budget_does_not_hide_later_members(tmp_path: Path, limits: Limits) -> None:
    # A member bigger than the whole byte budget (a 20 GiB zero-filled swap file gzips to 20 MB) is
    # not read; the stream is still decompressed through it, unkept, so every later member is listed.
    tight = Limits(max_total_bytes=2 * MiB, ratio_min_bytes=64 * 1024, scratch_dir=limits.scratch_dir)
    later = {f"after/{n}.bin": os.urandom(1000 + n) for n in range(3)}
    data = _tar({"zeros": bytes(4 * MiB), "big": os.urandom(3 * MiB), **later}, "w:gz")
    items = _walk(tmp_path, {"t.tar.gz": data}, tight)
    for member in ("zeros", "big"):
        item = items[f"/t.tar.gz!/{member}"]
        assert item.opener is None and item.error == TOTAL + "; not read, later members are"
    for member, content in later.items():
        item = items[f"/t.tar.gz!/{member}"]
        assert item.error is None and _read(item) == content
    assert "/t.tar.gz!/" not in items
    assert limits.scratch_dir is not None and not list(limits.scratch_dir.iterdir())


def test_tar_gz_past_skip_budget_stops_with_a_named_note(tmp_path: Path, limits: Limits) -> None:
    # Reaching the next header means decompressing through the member: that is bounded too (a bzip2
    # or xz stream can expand a million-fold), and the stop is named, never silent.
    tight = Limits(
        max_total_bytes=1 * MiB,
        max_skip_bytes=2 * MiB,
        ratio_min_bytes=64 * 1024,
        scratch_dir=limits.scratch_dir,
    )
    items = _walk(tmp_path, {"t.tar.gz": _tar({"zeros": bytes(4 * MiB), "b": b"b"}, "w:gz")}, tight)
    assert items["/t.tar.gz!/zeros"].error == TOTAL.replace("2097152", "1048576")
    note = items["/t.tar.gz!/"].error or ""
    assert note.startswith("the rest of the archive was not read") and "max_skip_bytes" in note
    assert "/t.tar.gz!/b" not in items


def test_depth_limit(tmp_path: Path, limits: Limits) -> None:
    data = b"deep"
    for level in range(5):
        data = _zip({f"l{level}.zip" if level else "core.txt": data})
    limited = Limits(max_depth=3, scratch_dir=limits.scratch_dir)
    items = _walk(tmp_path, {"top.zip": data}, limited)
    stopped = [i for i in items.values() if i.error]
    assert len(stopped) == 1
    assert stopped[0].error == "nesting depth 4 exceeds limit max_depth=3"
    assert stopped[0].depth == 3 and stopped[0].opener is not None
    assert max(i.depth for i in items.values()) == 3


def test_member_count_and_total_limits(tmp_path: Path, limits: Limits) -> None:
    data = _zip({f"f{i}.txt": b"x" * 100 for i in range(10)})
    few = Limits(max_members=4, scratch_dir=limits.scratch_dir)
    items = _walk(tmp_path, {"m.zip": data}, few)
    assert [loc for loc in items if "!" in loc][-1] == "/m.zip!/f4.txt"
    assert (
        items["/m.zip!/f4.txt"].error
        == "container has more than 4 members; rest not listed (limit max_members)"
    )
    small = Limits(max_total_bytes=350, scratch_dir=limits.scratch_dir)
    items = {i.locator: i for i in iter_evidence(tmp_path / "ev", small)}
    assert items["/m.zip!/f2.txt"].error is None
    assert items["/m.zip!/f3.txt"].error == "container expands past 350 bytes (limit max_total_bytes)"


def test_large_member_spooled_outside_evidence(tmp_path: Path, limits: Limits) -> None:
    payload = os.urandom(300_000)
    small = Limits(max_member_bytes=100_000, scratch_dir=limits.scratch_dir)
    items = _walk(tmp_path, {"big.zip": _zip({"big.bin": payload})}, small)
    member = items["/big.zip!/big.bin"]
    assert member.opener is not None and is_spooled(member.opener) and member.opener.data is None
    assert Path(member.opener.path or "").parent == limits.scratch_dir
    assert _read(member) == payload
    discard_spool(member)
    assert not Path(member.opener.path or "").exists()
    assert not is_spooled(items["/big.zip"].opener)
