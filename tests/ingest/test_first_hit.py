from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import HitReport, IngestOptions, ingest
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics


def test_first_hit_stops_early_and_a_rerun_finishes(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    sc = build_scenario(n_known=1, n_unrelated=1)
    plant = {"/WhatsApp/Media/WhatsApp Images/IMG-hit.jpg": sc.known["known0"]}
    tree = make_device_tree(tmp_path / "dev", 3, n_photos=300, n_chat=0, plant=plant)
    import_hashset(sqlite_case, known_vics(sc, tmp_path / "k.json"), name="known")
    hits: list[str] = []

    class Watch:
        def start(self, total_files: int | None, total_bytes: int | None) -> None: ...
        def advance(self, files: int, nbytes: int) -> None: ...
        def hit(self, hit: HitReport) -> None:
            hits.append(hit.locator)

    res = ingest(
        sqlite_case, tree.root, IngestOptions("D1", workers=0), Watch(), should_stop=lambda: bool(hits)
    )
    assert hits and hits[0] == "/WhatsApp/Media/WhatsApp Images/IMG-hit.jpg"
    assert res.files_new < len(tree.locators) // 2
    with sqlite_case.session() as s:
        assert s.scalar(select(m.IngestRun.status).order_by(m.IngestRun.id.desc()).limit(1)) == "stopped"
    again = ingest(sqlite_case, tree.root, IngestOptions("D1", workers=0))
    assert again.files_skipped == res.files_new
    with sqlite_case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.File)) == len(tree.locators)
