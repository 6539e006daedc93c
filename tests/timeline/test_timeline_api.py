"""The timeline and map routes through the app (SQLite and PostgreSQL): signed-in users only, filters
that cannot be read are reported (never silently widened), and the places API gives every position."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tessera.review import create_app
from tessera.review.auth import add_user
from tessera.store.case import CaseHandle
from tests.timeline.helpers import build

PASSWORD = "correct horse battery"


def test_routes(case: CaseHandle, tmp_path: Path) -> None:
    truth = build(case, tmp_path)
    with case.session() as s:
        add_user(s, "vic", "viewer", PASSWORD)
        s.commit()
    with TestClient(create_app(case)) as c:
        assert c.get("/api/places").status_code == 401
        assert c.get("/timeline", follow_redirects=False).status_code == 303
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert token
        r = c.post("/login", data={"name": "vic", "password": PASSWORD, "csrf": token.group(1)})
        assert r.status_code == 200
        located = {p.sha256: p for p in truth.pictures.values() if p.exif.gps_lat is not None}
        pts = c.get("/api/places").json()
        assert not pts["truncated"] and len(pts["points"]) == len(located)
        one = c.get("/api/places", params={"item": truth.pictures["cam2"].sha256}).json()["points"]
        assert len(one) == 1 and abs(one[0]["lat"] - (truth.pictures["cam2"].exif.gps_lat or 0)) < 1e-6
        assert c.get("/api/places", params={"device": "CAM-2"}).json()["points"][0]["pictures"] == 1
        assert "no item" in c.get("/api/places", params={"item": "nope"}).json()["error"]
        at = c.get("/api/places/at", params=one[0]).json()["pictures"]
        assert [p["sha256"] for p in at] == [truth.pictures["cam2"].sha256]
        assert at[0]["thumb"] == f"/thumb/{at[0]['sha256']}.jpg"
        page = c.get("/timeline", params={"since": "last tuesday"})
        assert (
            page.status_code == 200 and "since: not an ISO date" in page.text and 'class="ev' not in page.text
        )
        # A cursor that cannot be read starts at the beginning rather than failing.
        assert c.get("/timeline", params={"after": "garbage"}).text.count('class="ev ') == 100
        assert c.get("/map").status_code == 200
