"""VICS and ICSE exports of a case's own media: flags from the matched known set, and the case's files as
VICS ``MediaFiles`` (name, locator as path, device as source, times, deleted as unallocated)."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.report.export import export_icse, export_vics
from tessera.report.hashset_export import export_set_vics
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.images import jpeg_bytes


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_case_media_with_flags_and_files(case: CaseHandle, tmp_path: Path) -> None:
    known, other = jpeg_bytes(11, 48, 32), jpeg_bytes(12, 48, 32)
    root = tmp_path / "D1"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "a.jpg").write_bytes(known)
    (root / "copy.jpg").write_bytes(known)
    (root / "photos" / "b.jpg").write_bytes(other)
    md5 = hashlib.md5(known).hexdigest()
    vics = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
        "value": [
            {
                "MediaID": 1,
                "Category": 1,
                "MD5": md5,
                "Series": "S-1",
                "VictimIdentified": True,
                "OffenderIdentified": False,
                "IsDistributed": True,
            }
        ],
    }
    (tmp_path / "known.json").write_text(json.dumps(vics), encoding="utf-8")
    import_hashset(case, tmp_path / "known.json", name="known")
    ingest(case, root, IngestOptions("D1", workers=0))
    with case.session() as s:  # a disk source sets it; the mapping to Unallocated is what is tested
        s.execute(update(m.File).where(m.File.locator == "/copy.jpg").values(deleted=True))
        s.commit()
        files = {f.locator: f for f in s.scalars(select(m.File))}

    out = tmp_path / "case.json"
    assert export_vics(case, out, scope="all", version="2.0") == 2
    media = {v["MD5"].lower(): v for v in json.loads(out.read_text())["value"]}
    hit = media[md5]
    assert (hit["Category"], hit["Series"], hit["VictimIdentified"]) == (1, "S-1", True)
    assert (hit["OffenderIdentified"], hit["IsDistributed"], hit["MimeType"]) == (False, True, "image/jpeg")
    want = []
    for locator in ("/copy.jpg", "/photos/a.jpg"):
        f = files[locator]
        entry = {
            "MD5": md5.upper(),
            "FileName": locator.rsplit("/", 1)[-1],
            "FilePath": locator,
            "SourceID": "D1",
            "Created": _iso(f.crtime),
            "Written": _iso(f.mtime),
            "Accessed": _iso(f.atime),
            "Unallocated": locator == "/copy.jpg",
        }
        want.append({k: v for k, v in entry.items() if v is not None})  # unknown times stay absent
    assert hit["MediaFiles"] == want
    new = media[hashlib.md5(other).hexdigest()]
    # Nothing states flags for the unmatched picture: they are absent, not made false.
    assert not {"VictimIdentified", "OffenderIdentified", "IsDistributed", "Series"} & set(new)
    assert new["Category"] is None and [f["FilePath"] for f in new["MediaFiles"]] == ["/photos/b.jpg"]

    # The export read back as a hash set and written again says the same, field for field.
    import_hashset(case, out, name="findings")
    export_set_vics(case, "findings", tmp_path / "again.json", "2.0")
    assert json.loads((tmp_path / "again.json").read_text()) == json.loads(out.read_text())

    csv_out = tmp_path / "case.csv"
    assert export_icse(case, csv_out, scope="all") == 2
    with csv_out.open(encoding="utf-8", newline="") as fh:
        rows = {r["MD5"].lower(): r for r in csv.DictReader(fh, delimiter=";")}
    row = rows[md5]
    assert [row[c] for c in ("Victim identified", "Offender identified", "Is distributed")] == [
        "Yes",
        "No",
        "Yes",
    ]
    assert (row["Series name"], row["File Available"], row["Media Type"]) == ("S-1", "No", "Image")
    assert row["Image ID"] == hit["MediaID"] and row["Number of submissions"] == row["Baseline"] == ""


def test_case_media_export_asks_a_fixed_number_of_questions(case: CaseHandle, tmp_path: Path) -> None:
    """Four set-based queries per page of media, not a round per media (the export was N+1)."""
    from tests.sqlcount import counted

    def grow(first: int, n: int) -> None:
        root = tmp_path / f"D{first}"
        root.mkdir()
        for k in range(first, first + n):
            (root / f"{k}.jpg").write_bytes(jpeg_bytes(k, 40, 30))
        ingest(case, root, IngestOptions(f"D{first}", workers=0))

    def statements() -> tuple[int, int]:
        with counted(case) as seen:
            n = export_vics(case, tmp_path / "out.json", scope="all")
        return n, len(seen)

    grow(100, 5)
    small = statements()
    grow(200, 60)
    large = statements()
    assert (small[0], large[0]) == (5, 65)
    assert large[1] == small[1], (small, large)
