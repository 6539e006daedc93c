"""Which source a device was ingested from: a source named through a symbolic link is stored as the
folder the link reached, so a link later pointed at other evidence is a different source, never a
silent resume of the first one (FINDINGS, evidence and ingest: a different source under an existing
device id was treated as a resume)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.ingest.runs import SourceConflict
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.images import jpeg_bytes
from tessera.synth.trees import make_device_tree


def test_a_link_repointed_at_other_evidence_is_a_different_source(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    phone = make_device_tree(tmp_path / "evidence/phone1", 61, n_photos=2, n_chat=1).root
    other = tmp_path / "evidence/phone2"
    (other / "DCIM").mkdir(parents=True)
    (other / "DCIM/other.jpg").write_bytes(jpeg_bytes(5, 32, 24))
    current = tmp_path / "current"
    current.symlink_to(phone)
    ingest(sqlite_case, current, IngestOptions("P1", workers=0))
    with sqlite_case.session() as s:
        dev = s.get(m.Device, "P1")
        assert dev is not None and dev.source_path == os.path.realpath(phone)
        assert set(s.scalars(select(m.IngestRun.source_path))) == {os.path.realpath(phone)}
    # The same evidence by its own path, or through the link again: a resume.
    assert ingest(sqlite_case, phone, IngestOptions("P1", workers=0)).files_new == 0
    assert ingest(sqlite_case, current, IngestOptions("P1", workers=0)).files_new == 0
    current.unlink()
    current.symlink_to(other)
    with pytest.raises(SourceConflict, match="--add-source"):
        ingest(sqlite_case, current, IngestOptions("P1", workers=0))
    with sqlite_case.session() as s:
        assert s.scalar(select(m.File.id).where(m.File.locator.like("%other.jpg"))) is None


def test_an_added_source_keeps_its_place_whichever_path_names_it(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    phone = make_device_tree(tmp_path / "phone", 62, n_photos=1, n_chat=1).root
    card = tmp_path / "mnt/vol3"
    (card / "DCIM").mkdir(parents=True)
    (card / "DCIM/sd.jpg").write_bytes(jpeg_bytes(6, 32, 24))
    link = tmp_path / "sdcard"
    link.symlink_to(card)
    ingest(sqlite_case, phone, IngestOptions("P2", workers=0))
    added = ingest(sqlite_case, link, IngestOptions("P2", workers=0, add_source=True))
    assert added.files_new == 1 and not added.primary
    # Resumed through the folder's own path: the same source, its files where they were.
    again = ingest(sqlite_case, card, IngestOptions("P2", workers=0))
    assert again.files_new == 0 and again.files_skipped == 1
    with sqlite_case.session() as s:
        locs = set(s.scalars(select(m.File.locator).where(m.File.locator.like("%sd.jpg"))))
    assert len(locs) == 1
