"""One resolver: every locator a walk yields reopens to exactly the bytes the walk read.

The tree holds what the review workstation once could not show: a name with ``!``, members of a zip
of the same name, a gzip, a zip inside a FAT partition of a disk image, the same disk as an E01, and a
tar.gz inside a zip.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest

from tessera.evidence import Limits, iter_evidence, open_item
from tessera.evidence.base import discard_spool
from tessera.evidence.resolve import ResolveError, reopen
from tessera.synth.disks import fat_image, to_e01, tools_missing
from tessera.synth.images import jpeg_bytes


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name, on purpose here
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


def _tgz(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "dev"
    (root / "DCIM").mkdir(parents=True)
    (root / "DCIM/a!b.jpg").write_bytes(jpeg_bytes(1, 64, 48))
    (root / "dup.zip").write_bytes(_zip([("p.jpg", jpeg_bytes(2, 64, 48)), ("p.jpg", jpeg_bytes(3, 64, 48))]))
    (root / "one.jpg.gz").write_bytes(gzip.compress(jpeg_bytes(4, 64, 48)))
    (root / "nest.zip").write_bytes(_zip([("in/x.tgz", _tgz([("deep!er.jpg", jpeg_bytes(5, 64, 48))]))]))
    if not tools_missing():
        inner = _zip([("z.jpg", jpeg_bytes(6, 64, 48))])
        disk = fat_image(tmp_path / "disk.raw", {"PICS/C.JPG": jpeg_bytes(7, 64, 48), "ARC.ZIP": inner})
        (root / "images").mkdir()
        shutil.copy(disk, root / "images/disk.raw")
        to_e01(disk, root / "images/disk")
    return root


def _bytes(item_opener: object) -> bytes:
    with open_item(item_opener) as fh:  # type: ignore[arg-type]
        return fh.read()


def test_every_walked_locator_reopens_to_the_same_bytes(tree: Path, tmp_path: Path) -> None:
    limits = Limits(scratch_dir=tmp_path)
    walked = {}
    for item in iter_evidence(tree, limits):
        if item.opener is not None and item.error is None:
            walked[item.locator] = (item.raw_path, hashlib.sha256(_bytes(item.opener)).hexdigest())
            discard_spool(item)
    expected = {
        "/DCIM/a%21b.jpg",
        "/dup.zip!/p.jpg",
        "/dup.zip!/p.jpg#2",
        "/nest.zip!/in/x.tgz!/deep%21er.jpg",
    }
    assert expected <= set(walked), sorted(walked)
    assert any(loc.startswith("/one.jpg.gz!/") for loc in walked)
    if not tools_missing():
        inside = [loc for loc in walked if "/images/disk" in loc and loc.endswith((".JPG", ".jpg"))]
        assert {loc.rsplit("/", 1)[-1] for loc in inside} >= {"C.JPG", "z.jpg"}
        assert any(loc.startswith("/images/disk.E01!") for loc in inside)
    roots = [(str(tree), "")]
    for loc, (raw, sha) in walked.items():
        item = reopen(roots, loc, raw, limits)
        assert item.opener is not None
        assert hashlib.sha256(_bytes(item.opener)).hexdigest() == sha, loc
        discard_spool(item)
        # Without the raw bytes the display locator alone finds it too (all names here are UTF-8).
        again = reopen(roots, loc, None, limits)
        assert again.opener is not None and hashlib.sha256(_bytes(again.opener)).hexdigest() == sha


def test_unknown_locators_are_named(tree: Path) -> None:
    roots = [(str(tree), "")]
    with pytest.raises(ResolveError, match="not found"):
        reopen(roots, "/nothing.jpg")
    with pytest.raises(ResolveError, match="no such member"):
        reopen(roots, "/dup.zip!/p.jpg#3")
    with pytest.raises(ResolveError, match="not a container"):
        reopen(roots, "/DCIM/a%21b.jpg!/x")


def test_a_single_file_source_and_an_added_folder(tree: Path) -> None:
    item = reopen([(str(tree / "dup.zip"), "")], "/dup.zip!/p.jpg#2")
    assert item.opener is not None and _bytes(item.opener) == jpeg_bytes(3, 64, 48)
    # A folder added to a device later is stored under /<its name>.
    item = reopen([(str(tree / "missing"), ""), (str(tree / "DCIM"), "/DCIM")], "/DCIM/a%21b.jpg")
    assert item.opener is not None and _bytes(item.opener) == jpeg_bytes(1, 64, 48)
