"""A forensic image's own stored hash is checked during ingest and the result recorded, pass or fail."""

from __future__ import annotations

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
