from __future__ import annotations

import hashlib
from pathlib import Path

from tessera.evidence import Limits, iter_evidence, open_item
from tessera.records import EvidenceItem
from tessera.synth.images import jpeg_bytes
from tessera.synth.trees import make_device_tree


def _sha(item: EvidenceItem) -> str:
    assert item.opener is not None
    with open_item(item.opener) as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_walk_finds_exactly_the_manifest(tmp_path: Path) -> None:
    planted = {
        "/WhatsApp/Media/WhatsApp Images/IMG-1.jpg": jpeg_bytes(9001, 64, 48),
        "/Download/backup.zip!/photos/planted.jpg": jpeg_bytes(9002, 64, 48),
        "/Download/new.zip!/edited.jpg": jpeg_bytes(9001, 64, 48, quality=60),
    }
    manifest = make_device_tree(tmp_path / "ev", 11, zip_bomb_size=4 * 1024 * 1024, plant=planted)
    limits = Limits(scratch_dir=tmp_path)
    items = {i.locator: i for i in iter_evidence(tmp_path / "ev", limits)}
    assert set(items) == set(manifest.entries)
    for loc, entry in manifest.entries.items():
        item = items[loc]
        assert item.raw_path == entry.raw_path
        assert item.depth == loc.count("!")
        if entry.sha256 is None:  # links and members that cannot be read
            assert item.opener is None
        elif not entry.bad or not entry.in_archive:
            assert _sha(item) == entry.sha256, loc
    for loc, data in planted.items():
        assert _sha(items[loc]) == hashlib.sha256(data).hexdigest()
        assert manifest.entries[loc].kind == "planted"


def test_manifest_flags(tmp_path: Path) -> None:
    manifest = make_device_tree(tmp_path / "ev", 5, n_photos=6, n_duplicates=3, zip_bomb_size=2 * 1024 * 1024)
    entries = manifest.entries
    dupes = manifest.duplicates()
    assert len(dupes) >= 3
    for locs in dupes.values():
        assert len(locs) >= 2 and all(entries[loc].duplicate for loc in locs)
    assert any("!/" in loc for locs in dupes.values() for loc in locs)  # a copy inside an archive
    assert entries["/Download/backup.zip!/inner.tar.gz!/x/y.jpg"].in_archive
    assert entries["/Download/broken.jpg"].bad and entries["/Download/corrupt.zip"].bad
    assert entries["/Download/bomb.zip!/zeros.bin"].bad
    assert entries["/Download/caf\\xe9.jpg"].raw_path == b"/Download/caf\xe9.jpg"
    assert entries["/Download/empty.dat"].size == 0
    assert entries["/Download/outside-link"].kind == "link"
    assert (tmp_path / "ev" / "Download" / "outside-link").is_symlink()


def test_same_seed_same_tree(tmp_path: Path) -> None:
    a = make_device_tree(tmp_path / "a", 21, n_photos=3, n_chat=2)
    b = make_device_tree(tmp_path / "b", 21, n_photos=3, n_chat=2)
    c = make_device_tree(tmp_path / "c", 22, n_photos=3, n_chat=2)
    assert {k: v.sha256 for k, v in a.entries.items()} == {k: v.sha256 for k, v in b.entries.items()}
    assert a.by_sha256() != c.by_sha256()
    assert (tmp_path / "a/Download/backup.zip").read_bytes() == (
        tmp_path / "b/Download/backup.zip"
    ).read_bytes()
