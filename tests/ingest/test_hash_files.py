"""The workers' compact batches: paths out, plain tuples back, the same records stored."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from tessera.hashing import hash_item
from tessera.ingest.hashwork import hash_files, record_of
from tessera.ingest.pipeline import RAMP_FILES, IngestOptions, hash_batch, ingest
from tessera.records import MediaRecord, Opener
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.images import jpeg_bytes


def test_results_in_order_plain_tuple_record_or_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello\n" * 100)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg_bytes(3, 320, 240))
    missing = str(tmp_path / "gone.bin")
    member = Opener(data=b"SQLite format 3\x00" + bytes(200))
    out = hash_files([str(text), str(photo), missing, member], True)

    assert isinstance(out[0], tuple)  # only digests, size and type: travels as a tuple
    assert record_of(out[0]) == (hash_item(Opener(path=str(text))), None)
    assert isinstance(out[1], MediaRecord) and out[1].pdq is not None  # an image keeps its whole record
    assert record_of(out[1])[0] == hash_item(Opener(path=str(photo)))
    assert isinstance(out[2], str) and out[2].startswith("unreadable: ")
    assert record_of(out[2]) == (None, out[2])
    rec, err = record_of(out[3])
    assert err is None and rec == hash_item(member) and rec.mime == "application/x-sqlite3"
    # hash_batch, the older entry point executors may still be handed, answers as it did.
    assert [(i, r) for i, r, _ in hash_batch([(0, Opener(path=str(text)))], True)] == [
        (0, record_of(out[0])[0])
    ]


def test_a_tree_past_the_ramp_is_stored_whole(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    """Past RAMP_FILES the walk sends a few hundred files per task: every file still gets its row."""
    root = tmp_path / "dev"
    expected: dict[str, str] = {}
    for i in range(RAMP_FILES + 300):
        folder = root / f"d{i // 400}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"f{i}.bin"
        path.write_bytes(os.urandom(1 + i % 700))
        expected[f"/d{i // 400}/f{i}.bin"] = hash_item(Opener(path=str(path))).sha256
    res = ingest(sqlite_case, root, IngestOptions("D1", workers=2))
    with sqlite_case.session() as s:
        stored = dict(s.execute(select(m.File.locator, m.File.sha256).where(m.File.device_id == "D1")).all())
    assert stored == expected and res.files_new == len(expected) and res.errors == 0
