"""Generated device trees: a phone/computer file system with photos, chat media, archives and junk.

Everything is synthetic: pictures are :func:`tessera.synth.images.jpeg_bytes` abstract images, names
are invented. The manifest lists every locator the evidence walker is expected to yield, with the
SHA-256 of its bytes and flags, so tests can check completeness and the demo can find planted items.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from tessera.synth.images import jpeg_bytes

#: 2023-01-01T00:00:00Z: generated file times fall within the year after it.
_EPOCH_2023 = 1672531200
_ZIP_TIME = (2023, 6, 1, 12, 0, 0)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    locator: str
    raw_path: bytes
    sha256: str | None  # None for links (no content)
    size: int | None
    kind: str  # photo | chat | archive | member | junk | bad | link | planted | bomb
    in_archive: bool = False
    #: Defective on purpose (truncated image, corrupt archive, zip bomb).
    bad: bool = False
    #: The same bytes occur at another locator of the tree.
    duplicate: bool = False


@dataclass(slots=True)
class TreeManifest:
    root: Path
    seed: int
    entries: dict[str, ManifestEntry] = field(default_factory=dict)

    @property
    def locators(self) -> list[str]:
        return sorted(self.entries)

    def by_sha256(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for loc, entry in sorted(self.entries.items()):
            if entry.sha256 is not None:
                out.setdefault(entry.sha256, []).append(loc)
        return out

    def duplicates(self) -> dict[str, list[str]]:
        """SHA-256 -> every locator holding those bytes, for content found more than once."""
        return {sha: locs for sha, locs in self.by_sha256().items() if len(locs) > 1}


def _display(raw: bytes) -> str:
    # Same rule as the evidence walker: UTF-8, undecodable bytes as \xNN.
    return raw.decode("utf-8", errors="backslashreplace")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Tree:
    """Collects the plan (files, archives, links) and the manifest, then writes it once."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.manifest = TreeManifest(root, seed)
        self.files: dict[bytes, bytes] = {}
        self.zips: dict[bytes, dict[str, bytes]] = {}

    def add(self, rel: bytes, data: bytes, kind: str, *, bad: bool = False) -> None:
        self.files[rel] = data
        self._note(rel, data, kind, bad=bad)

    def add_member(self, zip_rel: bytes, name: str, data: bytes, kind: str) -> None:
        self.zips.setdefault(zip_rel, {})[name] = data
        self._note(zip_rel + b"!/" + name.encode(), data, kind, in_archive=True)

    def _note(
        self, raw: bytes, data: bytes, kind: str, *, bad: bool = False, in_archive: bool = False
    ) -> None:
        loc = _display(raw)
        self.manifest.entries[loc] = ManifestEntry(loc, raw, _sha(data), len(data), kind, in_archive, bad)

    def mtime(self) -> float:
        return float(_EPOCH_2023 + self.rng.randrange(365 * 86400))

    def write(self) -> None:
        for zip_rel, members in self.zips.items():
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in members.items():
                    zf.writestr(_deflated(name), data)
            self.add(zip_rel, buf.getvalue(), "archive")
        root = os.fsencode(self.root)
        for rel, data in sorted(self.files.items()):
            path = root + rel
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
            t = self.mtime()
            os.utime(path, (t, t))


def _tar_gz(members: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    # mtime=0 in the gzip header and fixed member times keep the bytes identical for a given seed.
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), _EPOCH_2023, 0o644
            tf.addfile(info, io.BytesIO(data))
    raw = bytearray(buf.getvalue())
    raw[4:8] = b"\0\0\0\0"
    return bytes(raw)


def _deflated(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, _ZIP_TIME)  # a fixed time keeps the archive bytes reproducible
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def zip_bomb_bytes(expanded: int, name: str = "zeros.bin") -> bytes:
    """A small zip whose one member expands to ``expanded`` zero bytes (about 1000:1)."""
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open(_deflated(name), "w", force_zip64=True) as member,
    ):
        block = bytes(1 << 20)
        left = expanded
        while left > 0:
            member.write(block[: min(left, len(block))])
            left -= len(block)
    return buf.getvalue()


def make_device_tree(
    root: Path,
    seed: int,
    *,
    n_photos: int = 12,
    n_chat: int = 8,
    n_duplicates: int = 3,
    image_size: tuple[int, int] = (160, 120),
    zip_bomb_size: int = 0,
    symlink_target: str = "/nonexistent/outside-the-tree",
    plant: Mapping[str, bytes] | None = None,
) -> TreeManifest:
    """Write a synthetic device tree under ``root`` (created if missing) and return its manifest.

    ``plant`` maps locators to bytes: a plain path (``/WhatsApp/Media/WhatsApp Images/IMG-1.jpg``)
    or a member of a zip in the tree (``/Download/backup.zip!/photos/p.jpg``; the zip is created
    when the tree has none by that name). A planted locator replaces a generated one.
    ``zip_bomb_size`` > 0 adds ``/Download/bomb.zip`` expanding to that many zero bytes.
    """
    tree = _Tree(root, seed)
    rng = tree.rng
    w, h = image_size
    picture = iter(range(seed * 100_003, seed * 100_003 + 10_000))

    def image() -> bytes:
        return jpeg_bytes(next(picture), w, h)

    camera: list[bytes] = []
    # Distinct capture seconds, so no two generated photos share a name.
    for offset in sorted(rng.sample(range(365 * 86400), n_photos)):
        stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(_EPOCH_2023 + offset))
        data = image()
        camera.append(data)
        tree.add(f"/DCIM/Camera/IMG_{stamp}.jpg".encode(), data, "photo")

    wa = "/WhatsApp/Media/WhatsApp Images"
    for i in range(n_chat):
        tree.add(f"{wa}/IMG-20230{1 + i % 9}{10 + i:02d}-WA{i:04d}.jpg".encode(), image(), "chat")
    for i in range(n_duplicates):  # forwarded copies of camera photos: the same bytes again
        if camera:
            tree.add(
                f"{wa}/Sent/IMG-20231{i % 3}01-WA{900 + i:04d}.jpg".encode(), camera[i % len(camera)], "chat"
            )

    backup = b"/Download/backup.zip"
    for i in range(3):
        tree.add_member(backup, f"photos/holiday-{i + 1}.jpg", image(), "member")
    if camera:
        tree.add_member(backup, "photos/copy-of-camera.jpg", camera[0], "member")
    tree.add_member(backup, "readme.txt", b"Backup made by an invented phone app.\n", "member")
    inner_members = {"x/y.jpg": image(), "x/z.jpg": camera[-1] if camera else image()}
    inner = _tar_gz(inner_members)
    tree.add_member(backup, "inner.tar.gz", inner, "archive")
    for name, data in inner_members.items():
        loc = f"{backup.decode()}!/inner.tar.gz!/{name}"
        tree.manifest.entries[loc] = ManifestEntry(loc, loc.encode(), _sha(data), len(data), "member", True)

    tree.add(b"/Download/notes.txt", b"shopping: bread, milk\nmeeting at 10\n" * 3, "junk")
    tree.add(b"/Download/data.bin", rng.randbytes(4096), "junk")
    tree.add(
        b"/Download/report.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(2048) + b"\n%%EOF\n", "junk"
    )
    tree.add(b"/Download/empty.dat", b"", "junk")
    tree.add(b"/Download/caf\xe9.jpg", image(), "photo")  # Latin-1 name: not valid UTF-8
    full = image()
    tree.add(b"/Download/broken.jpg", full[: len(full) // 2], "bad", bad=True)

    # A zip cut short inside its second member: no central directory, the first member recoverable.
    first, second = image(), rng.randbytes(8192)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("first.jpg", _ZIP_TIME), first)
        zf.writestr(zipfile.ZipInfo("second.bin", _ZIP_TIME), second)
    corrupt = buf.getvalue()[: len(first) + 200 + 4096]
    tree.add(b"/Download/corrupt.zip", corrupt, "bad", bad=True)
    tree._note(b"/Download/corrupt.zip!/first.jpg", first, "member", in_archive=True)
    loc = "/Download/corrupt.zip!/second.bin"  # reported, with an error: its data is cut short
    tree.manifest.entries[loc] = ManifestEntry(loc, loc.encode(), None, len(second), "bad", True, True)

    if zip_bomb_size > 0:
        tree.add(b"/Download/bomb.zip", zip_bomb_bytes(zip_bomb_size), "bomb", bad=True)
        sha = hashlib.sha256()
        block = bytes(1 << 20)
        for start in range(0, zip_bomb_size, len(block)):
            sha.update(block[: min(len(block), zip_bomb_size - start)])
        loc = "/Download/bomb.zip!/zeros.bin"
        tree.manifest.entries[loc] = ManifestEntry(
            loc, loc.encode(), sha.hexdigest(), zip_bomb_size, "bomb", True, True
        )

    for loc, data in (plant or {}).items():
        outer, sep, member = loc.partition("!/")
        if sep and "!/" not in member:
            tree.add_member(outer.encode(), member, data, "planted")
            tree.zips.setdefault(outer.encode(), {})
        elif not sep:
            tree.add(os.fsencode(loc), data, "planted")
        else:
            raise ValueError(f"cannot plant into a nested archive: {loc}")

    tree.write()
    link = os.fsencode(root) + b"/Download/outside-link"
    os.symlink(symlink_target, link)
    os.utime(link, (tree.mtime(),) * 2, follow_symlinks=False)
    tree.manifest.entries["/Download/outside-link"] = ManifestEntry(
        "/Download/outside-link", b"/Download/outside-link", None, None, "link", bad=False
    )

    dupes = set(tree.manifest.duplicates())
    tree.manifest.entries = {
        loc: replace(e, duplicate=e.sha256 in dupes) for loc, e in sorted(tree.manifest.entries.items())
    }
    return tree.manifest
