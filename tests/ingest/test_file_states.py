"""File states stored and exported (migration 0006): deleted, orphan, alternate data stream, hard link.

The walk flags them (tests/evidence); here they must reach the case database, the review's reopening
of a stored locator, and the DFXML export, so an examiner sees them wherever the file is listed.
"""

from __future__ import annotations

import io
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.report.dfxml import export_dfxml
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tests.evidence.test_disk import ntfs  # noqa: F401  (the fixture)

NS = {"d": "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML", "t": "urn:tessera:dfxml:1"}


def _rows(case: CaseHandle, device: str) -> dict[str, m.File]:
    with case.session() as s:
        rows = list(s.scalars(select(m.File).where(m.File.device_id == device)))
        s.expunge_all()
    return {r.locator: r for r in rows}


def _dfxml(case: CaseHandle, device: str, out: Path) -> dict[str, ET.Element]:
    export_dfxml(case, device, out)
    objs = ET.parse(out).getroot().iter(f"{{{NS['d']}}}fileobject")
    return {fo.findtext("d:filename", namespaces=NS) or "": fo for fo in objs}


def test_ntfs_states_are_stored_and_exported(case: CaseHandle, ntfs: Path, tmp_path: Path) -> None:  # noqa: F811
    res = ingest(case, ntfs, IngestOptions("N1", workers=0))
    assert res.errors == 0, res.problems
    rows = _rows(case, "N1")
    img = "/ntfs.img!/"
    stream = rows[img + "Windows/file.dll:hidden"]
    assert (stream.stream, stream.deleted, stream.orphan) == ("hidden", False, False)
    orphan = rows[img + "$OrphanFiles/orphan.jpg"]
    assert orphan.orphan and orphan.deleted and orphan.sha256
    assert rows[img + "Old/sub/b.txt"].deleted and not rows[img + "Users/x/a.jpg"].deleted
    objs = _dfxml(case, "N1", tmp_path / "n1.xml")
    assert objs[img + "Windows/file.dll:hidden"].findtext("t:stream", namespaces=NS) == "hidden"
    assert objs[img + "$OrphanFiles/orphan.jpg"].findtext("t:orphan", namespaces=NS) == "1"
    assert objs[img + "$OrphanFiles/orphan.jpg"].findtext("d:alloc_name", namespaces=NS) == "0"


def test_tar_hard_links_are_stored_as_hard_links(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
        link = tarfile.TarInfo("b.txt")
        link.type, link.linkname = tarfile.LNKTYPE, "a.txt"
        tf.addfile(link)
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/x.tar").write_bytes(buf.getvalue())
    ingest(sqlite_case, tmp_path / "dev", IngestOptions("H1", workers=0))
    rows = _rows(sqlite_case, "H1")
    a, b = rows["/x.tar!/a.txt"], rows["/x.tar!/b.txt"]
    assert (b.link_kind, b.is_symlink, b.sha256) == ("hard", False, a.sha256)
    objs = _dfxml(sqlite_case, "H1", tmp_path / "h1.xml")
    assert objs["/x.tar!/b.txt"].findtext("t:link_kind", namespaces=NS) == "hard"
