"""A forensic image's own stored hash is checked during ingest and the result recorded, pass or fail."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_video import ImageVerification
from tessera.synth.disks import fat_image, to_e01, tools_missing
from tessera.synth.images import jpeg_bytes

pytestmark = pytest.mark.skipif(bool(tools_missing()), reason=f"missing tools: {tools_missing()}")

FILES = {"DCIM/Camera/IMG_1.jpg": jpeg_bytes(1, 96, 64), "notes.txt": b"invented notes\n" * 40}


@pytest.fixture(scope="module")
def e01s(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("e01")
    fat_image(base / "disk.img", FILES)
    (base / "good").mkdir()
    good = to_e01(base / "disk.img", base / "good" / "disk")
    data = bytearray(good.read_bytes())
    at = data.find(FILES["notes.txt"][:64])
    data[at + 10] ^= 0xFF
    bad = base / "bad" / "disk.E01"
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    return good, bad


def test_verification_is_recorded_for_a_good_and_an_altered_image(
    case: CaseHandle, e01s: tuple[Path, Path]
) -> None:
    good, bad = e01s
    ingest(case, good, IngestOptions("E1", workers=0))
    ingest(case, bad, IngestOptions("E2", workers=0))
    with case.session() as s:
        rows = {r.device_id: r for r in s.scalars(select(ImageVerification))}
        dev = s.get(m.Device, "E1")
        bad_err = s.scalar(select(m.File.error).where(m.File.device_id == "E2", m.File.error.is_not(None)))
    assert rows["E1"].verified and rows["E1"].stored == rows["E1"].computed and rows["E1"].algorithm == "md5"
    assert dev is not None and dev.evidence_hash == f"md5:{rows['E1'].stored}"
    assert not rows["E2"].verified and rows["E2"].stored != rows["E2"].computed
    assert bad_err and "EWF verification failed" in bad_err


def test_the_report_states_the_verification(sqlite_case: CaseHandle, e01s: tuple[Path, Path]) -> None:
    from tessera.report.build import build_report

    ingest(sqlite_case, e01s[1], IngestOptions("E3", workers=0))
    (dev,) = build_report(sqlite_case, "E3")["devices"]
    (check,) = dev["verifications"]
    assert check["locator"] == "/disk.E01" and check["verified"] is False


def test_an_image_inside_the_evidence_is_verified_but_never_the_device_s_evidence_hash(
    sqlite_case: CaseHandle, e01s: tuple[Path, Path], tmp_path: Path
) -> None:
    # The device's evidence item is the folder or archive given; an image found in it is a file it
    # holds: its check is recorded against its own locator, the device gets no evidence hash from it.
    good, bad = e01s
    folder = tmp_path / "exhibit"
    folder.mkdir()
    shutil.copy(bad, folder / "disk.E01")
    archive = tmp_path / "exhibit.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(good, arcname="disk.E01")
    ingest(sqlite_case, folder, IngestOptions("F1", workers=0))
    ingest(sqlite_case, archive, IngestOptions("A1", workers=0))
    with sqlite_case.session() as s:
        checks = {(v.device_id, v.locator): v.verified for v in s.scalars(select(ImageVerification))}
        hashes = {d.id: d.evidence_hash for d in s.scalars(select(m.Device))}
    assert hashes == {"F1": None, "A1": None}
    assert checks == {("F1", "/disk.E01"): False, ("A1", "/exhibit.tar!/disk.E01"): True}
