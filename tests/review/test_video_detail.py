"""The media page of a video: its duration, frame hashes and how it matched (never the video itself)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.review import create_app
from tessera.review.auth import add_user
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.videos import video_scenario
from tests.review.conftest import sign_in
from tests.review.helpers import PASSWORD

pytest.importorskip("vpdq")


def test_video_page_shows_frames_and_match_detail(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    sc = video_scenario(tmp_path / "v")
    import_hashset(sqlite_case, sc.known_vpdq, name="known-videos")
    import_hashset(sqlite_case, sc.known_stills, name="known-stills", algorithm="pdq", category=1)
    ingest(sqlite_case, sc.root, IngestOptions("V1", workers=0))
    with sqlite_case.session() as s:
        add_user(s, "eva", "examiner", PASSWORD)
        s.commit()
        clip = s.scalar(select(m.File.sha256).where(m.File.locator.like("%VID-0002.mp4")))
        still = s.scalar(select(m.File.sha256).where(m.File.locator.like("%VID_0003.mp4")))
    with TestClient(create_app(sqlite_case)) as client:
        sign_in(client, "eva")
        page = client.get(f"/media/{clip}").text
        assert "vPDQ frame hashes" in page and "known video 100.0 %" in page
        # The tile's label is text over the blurred tile, not pixels blurred with it (a finding).
        assert 'class="tile-label">VIDEO' in page
        grid = client.get("/review?page=1").text
        assert grid.count('class="tile-label">VIDEO') == grid.count('data-kind="video"') > 0
        page = client.get(f"/media/{still}").text
        assert "<td>pdq</td>" in page and " s</td>" in page and "frame " in page
