"""DFXML out: the exported listing read back with ElementTree equals the case database, row for row."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.report.dfxml import DFXML_NS, TESSERA_NS, DeviceNotFound, export_dfxml
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.images import jpeg_bytes

NS = {"d": DFXML_NS, "t": TESSERA_NS}


def _tree(root: Path) -> None:
    root.mkdir()
    (root / "photos").mkdir()
    (root / "photos" / "a.jpg").write_bytes(jpeg_bytes(3, 40, 30))
    (root / "Tom & Jerry <1>.txt").write_bytes(b"markup in the name")
    (root / "bang!name.png").write_bytes(b"png-ish")
    (root / "ctl\x01char.txt").write_bytes(b"a control character in the name")
    with open(os.fsencode(root) + b"/caf\xe9-latin1.bin", "wb") as fh:  # not UTF-8
        fh.write(b"latin-1 name")
    (root / "empty.txt").write_bytes(b"")
    os.symlink("photos/a.jpg", root / "link.jpg")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate member names, on purpose
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("dup.txt", b"first")
            zf.writestr("dup.txt", b"second")
            zf.writestr("x!y.txt", b"bang member")
    (root / "backup.zip").write_bytes(buf.getvalue())


@pytest.fixture
def exported(sqlite_case: CaseHandle, tmp_path: Path) -> tuple[CaseHandle, Path, int]:
    _tree(tmp_path / "D1")
    ingest(sqlite_case, tmp_path / "D1", IngestOptions("D1", workers=0))
    with sqlite_case.session() as s:  # a disk source would set it; the mapping is what is tested
        s.execute(update(m.File).where(m.File.locator == "/empty.txt").values(deleted=True))
        s.commit()
    out = tmp_path / "d1.dfxml"
    n = export_dfxml(sqlite_case, "D1", out)
    return sqlite_case, out, n


def test_dfxml_equals_the_database(exported: tuple[CaseHandle, Path, int]) -> None:
    case, out, n = exported
    root = ET.parse(out).getroot()  # well-formed, or this raises
    assert root.tag == f"{{{DFXML_NS}}}dfxml"
    assert root.findtext("d:creator/d:program", namespaces=NS) == "Tessera"
    assert root.findtext("d:source/t:device", namespaces=NS) == "D1"
    objects = root.findall("d:fileobject", NS)
    with case.session() as s:
        rows = s.execute(
            select(m.File, m.Media.md5, m.Media.sha1)
            .outerjoin(m.Media, m.Media.sha256 == m.File.sha256)
            .where(m.File.device_id == "D1")
            .order_by(m.File.id)
        ).all()
        db = [
            (f.locator, f.raw_path, f.size, f.deleted, f.sha256, md5, sha1, f.is_symlink)
            for f, md5, sha1 in rows
        ]
    assert n == len(objects) == len(db) > 10
    for obj, (locator, raw_path, size, deleted, sha256, md5, sha1, is_symlink) in zip(
        objects, db, strict=True
    ):
        name = obj.findtext("d:filename", namespaces=NS)
        raw_b64 = obj.findtext("t:raw_path", namespaces=NS)
        if raw_b64 is None:  # the filename is exactly the raw bytes' UTF-8 reading
            assert name == locator and raw_path == locator.encode()
        else:
            assert base64.b64decode(raw_b64) == raw_path
        assert obj.findtext("d:filesize", namespaces=NS) == (None if size is None else str(size))
        alloc = "0" if deleted else "1"
        assert obj.findtext("d:alloc_name", namespaces=NS) == alloc
        assert obj.findtext("d:alloc_inode", namespaces=NS) == alloc
        assert obj.findtext("d:name_type", namespaces=NS) == ("l" if is_symlink else "r")
        digests = {h.get("type"): h.text for h in obj.findall("d:hashdigest", NS)}
        expected = {k: v for k, v in (("md5", md5), ("sha1", sha1), ("sha256", sha256)) if v}
        assert digests == expected
    names = [o.findtext("d:filename", namespaces=NS) for o in objects]
    assert "/Tom & Jerry <1>.txt" in names  # escaped in the file, itself again once parsed
    assert "/bang%21name.png" in names and "/backup.zip!/x%21y.txt" in names
    assert "/backup.zip!/dup.txt" in names and "/backup.zip!/dup.txt#2" in names
    assert "/ctl\\x01char.txt" in names  # XML cannot carry U+0001: written as text, raw bytes kept
    assert "/caf\\xe9-latin1.bin" in names
    text = out.read_text("utf-8")
    assert "&amp;" in text and "&lt;1&gt;" in text and "\x01" not in text


def test_dfxml_deleted_and_link_facts(exported: tuple[CaseHandle, Path, int]) -> None:
    _, out, _ = exported
    objects = {
        o.findtext("d:filename", namespaces=NS): o
        for o in ET.parse(out).getroot().findall("d:fileobject", NS)
    }
    assert objects["/empty.txt"].findtext("d:alloc_name", namespaces=NS) == "0"
    link = objects["/link.jpg"]
    assert link.findtext("d:name_type", namespaces=NS) == "l"
    assert link.findtext("d:link_target", namespaces=NS) == "photos/a.jpg"
    assert link.find("d:hashdigest", NS) is None
    mtime = objects["/photos/a.jpg"].findtext("d:mtime", namespaces=NS)
    assert mtime is not None and mtime.endswith("Z") and "T" in mtime


def test_unknown_device_and_cli(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound):
        export_dfxml(sqlite_case, "NOPE", tmp_path / "x.xml")
    assert not (tmp_path / "x.xml").exists() and not (tmp_path / "x.xml.part").exists()
    _tree(tmp_path / "D2")
    ingest(sqlite_case, tmp_path / "D2", IngestOptions("D2", workers=0))
    case_dir = str(sqlite_case.directory)
    out = tmp_path / "cli.xml"
    run = [sys.executable, "-m", "tessera", "export", "dfxml", "--case", case_dir, "--device", "D2"]
    done = subprocess.run([*run, "--out", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "file object(s) of device D2" in done.stdout
    assert len(ET.parse(out).getroot().findall("d:fileobject", NS)) > 10
    bad = subprocess.run([*run[:-1], "NOPE", "--out", str(out)], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "no device 'NOPE'" in (bad.stdout + bad.stderr)
    assert "Traceback" not in bad.stderr
