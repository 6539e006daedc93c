from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tessera.hashing import hash_item
from tessera.hashing.algorithms import hamming_hex
from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.records import Opener
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.queries import device_stats, iter_matches
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics

SCENARIO = build_scenario()


def _stored(case: CaseHandle, device: str) -> dict[str, str | None]:
    with case.session() as s:
        return dict(s.execute(select(m.File.locator, m.File.sha256).where(m.File.device_id == device)).all())  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [0, 2])
def test_every_file_once_and_known_material_found(case: CaseHandle, tmp_path: Path, workers: int) -> None:
    tree = make_device_tree(tmp_path / "D1", 11, plant=SCENARIO.plant)
    import_hashset(case, known_vics(SCENARIO, tmp_path / "known.json"), name="known")
    res = ingest(case, tree.root, IngestOptions("D1", kind="phone", workers=workers))

    stored = _stored(case, "D1")
    assert set(stored) == set(tree.locators)
    for loc, entry in tree.entries.items():
        if entry.sha256 and not entry.bad:
            assert stored[loc] == entry.sha256, loc
    assert res.files_new == len(tree.locators) and res.files_skipped == 0
    assert res.errors >= 1  # the tree's truncated image and corrupt zip are recorded, not fatal

    with case.session() as s:
        rows = list(iter_matches(s, "D1"))
        stats = device_stats(s, "D1")
    by_loc: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_loc.setdefault(str(r["locator"]), []).append(r)
    # Exact copies, including the one inside the zip, match on MD5 and SHA-1 (and PDQ at distance 0).
    for loc in [
        *(k for k in SCENARIO.plant if "IMG-known" in k),
        "/Download/backup.zip!/photos/known0-copy.jpg",
    ]:
        algs = {r["algorithm"] for r in by_loc[loc]}
        assert {"md5", "sha1", "pdq"} <= algs, (loc, algs)
        assert all(r["hashset"] == "known" and r["category"] in (1, 2, 3) for r in by_loc[loc])
    # Every edited copy whose full-resolution distance to its original is <= 31 (quality >= 50) matches.
    checked = 0
    for loc, (name, _edit) in SCENARIO.edited.items():
        ref = hash_item(Opener(data=SCENARIO.known[name]), fast_decode=False)
        got = hash_item(Opener(data=SCENARIO.plant[loc]), fast_decode=False)
        assert ref.pdq and got.pdq and got.pdq_quality is not None
        if hamming_hex(ref.pdq, got.pdq) <= 31 and got.pdq_quality >= 50:
            checked += 1
            assert any(r["algorithm"] == "pdq" for r in by_loc.get(loc, [])), loc
    assert checked >= len(SCENARIO.edited) - 2, "the edits should mostly stay within PDQ's threshold"
    # No unrelated image and no generated tree photo is reported.
    for loc in SCENARIO.unrelated:
        assert loc not in by_loc
    assert all("known" in loc or "edited" in loc for loc in by_loc), sorted(by_loc)
    assert stats["new_material"] >= len(SCENARIO.unrelated)
    assert stats["matched_media"] >= len(SCENARIO.known)


def test_rerun_skips_everything_and_late_import_matches(case: CaseHandle, tmp_path: Path) -> None:
    tree = make_device_tree(tmp_path / "D2", 12, plant=SCENARIO.plant)
    first = ingest(case, tree.root, IngestOptions("D2", workers=0))
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Match)) == 0
    again = ingest(case, tree.root, IngestOptions("D2", workers=0))
    assert again.files_new == 0 and again.files_skipped == first.files_new
    # A set imported after ingest is matched against the media already in the case.
    res = import_hashset(case, known_vics(SCENARIO, tmp_path / "late.json", version="1.3"), name="late")
    assert res.hits > 0
    with case.session() as s:
        locs = {r["locator"] for r in iter_matches(s, "D2")}
    assert "/Download/backup.zip!/photos/known0-copy.jpg" in locs
    assert len(_stored(case, "D2")) == len(tree.locators)


def test_same_content_on_two_devices_is_one_media(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    plant = {"/a/x.jpg": SCENARIO.known["known1"], "/b/y.jpg": SCENARIO.known["known1"]}
    t1 = make_device_tree(tmp_path / "P1", 1, n_photos=2, n_chat=0, plant=plant)
    t2 = make_device_tree(tmp_path / "P2", 2, n_photos=2, n_chat=0, plant=plant)
    ingest(sqlite_case, t1.root, IngestOptions("P1", workers=0))
    ingest(sqlite_case, t2.root, IngestOptions("P2", workers=0))
    with sqlite_case.session() as s:
        sha = s.scalar(select(m.File.sha256).where(m.File.locator == "/a/x.jpg"))
        assert s.scalar(select(func.count()).select_from(m.Media).where(m.Media.sha256 == sha)) == 1
        assert s.scalar(select(func.count()).select_from(m.File).where(m.File.sha256 == sha)) == 4


def test_case_inside_the_evidence_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    from tessera.evidence import EvidenceError
    from tessera.store.case import init_case

    handle = init_case(tmp_path / "evidence" / "case", "Op", "XX")
    (tmp_path / "evidence" / "a.txt").write_text("x")
    with pytest.raises(EvidenceError, match="keep the case directory outside the evidence"):
        ingest(handle, tmp_path / "evidence", IngestOptions("D1", workers=0))
    with handle.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Device)) == 0
        assert s.scalar(select(func.count()).select_from(m.IngestRun)) == 0
    handle.close()
