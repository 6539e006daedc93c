"""Series (issue 14): named by reviewers, members added and removed (audited), resolved through items,
carried in VICS exports (round trip through the reader and the importer) and in referral packages."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from tessera.hashsets.vics import VicsReader
from tessera.ingest.importer import import_hashset
from tessera.report.export import export_vics
from tessera.series import series_map
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_items import Item, ItemMember
from tessera.store.models_series import Series, SeriesMember
from tests.review.conftest import sign_in
from tests.review.helpers import Built, build_case

H = "X-CSRF-Token"


def _audit(case: CaseHandle, action: str) -> list[m.AuditEntry]:
    with case.session() as s:
        return list(s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == action)))


def _group(case: CaseHandle, shas: set[str]) -> None:
    """What the item grouping (another part of issue 14) writes: one item for near-duplicates."""
    key = min(shas)
    with case.session() as s:
        item = Item(key=key, kind="image", members=len(shas))
        s.add(item)
        s.flush()
        for sha in shas:
            s.add(ItemMember(sha256=sha, item_id=item.id, via="self" if sha == key else "pdq", distance=4))
        s.commit()


def test_series_named_filled_and_audited(client: TestClient, built: Built, case: CaseHandle) -> None:
    csrf = sign_in(client, "rita")
    r = client.post("/series", data={"csrf": csrf, "name": "  Blue   room ", "notes": "same wallpaper"})
    assert r.status_code == 200 and "Blue room" in r.text  # followed the redirect to the series page
    with case.session() as s:
        sid = s.scalar(select(Series.id).where(Series.name == "Blue room"))
    assert sid
    one, two = built.singles[0], built.singles[1]
    for sha in (one, two):
        r = client.post(f"/api/series/{sid}/members", json={"sha256": sha}, headers={H: csrf})
        assert r.json() == {"series": sid, "name": "Blue room", "added": True}
    again = client.post(f"/api/series/{sid}/members", json={"sha256": one}, headers={H: csrf})
    assert again.json()["added"] is False
    assert (
        client.post(f"/api/series/{sid}/members", json={"sha256": "0" * 64}, headers={H: csrf}).status_code
        == 404
    )
    assert client.post("/series", data={"csrf": csrf, "name": "Blue room"}).status_code == 422  # names unique
    assert client.get(f"/api/series/of/{one}").json() == [
        {"id": sid, "name": "Blue room", "direct": True, "via": []}
    ]
    page = client.get(f"/series/{sid}").text
    assert one in page and two in page and "same wallpaper" in page
    assert 'id="series-bar" class="series-bar" data-sha="' + one in client.get(f"/media/{one}").text
    assert 'id="series-bar"' in client.get("/review").text
    r = client.post(f"/series/{sid}", data={"csrf": csrf, "name": "Blue room", "notes": "wallpaper; lamp"})
    assert "wallpaper; lamp" in r.text
    assert client.post(f"/series/{sid}/remove", data={"csrf": csrf, "sha256": two}).status_code == 200
    with case.session() as s:
        assert list(s.scalars(select(SeriesMember.sha256).where(SeriesMember.series_id == sid))) == [one]
    assert len(_audit(case, "series-create")) == 1
    assert [json.loads(e.details)["sha256"] for e in _audit(case, "series-add")] == [one, two]
    assert [json.loads(e.details)["sha256"] for e in _audit(case, "series-remove")] == [two]
    assert json.loads(_audit(case, "series-update")[0].details)["before"]["notes"] == "same wallpaper"
    # Without a CSRF token nothing changes; a viewer can read but not change.
    assert client.post(f"/api/series/{sid}/members", json={"sha256": two}).status_code == 403
    client.post("/logout", data={"csrf": csrf})
    csrf = sign_in(client, "vic")
    assert client.get(f"/series/{sid}").status_code == 200
    r = client.post(f"/api/series/{sid}/members", json={"sha256": two}, headers={H: csrf})
    assert r.status_code == 403


def test_member_stands_for_its_item_and_travels_in_vics(
    client: TestClient, built: Built, case: CaseHandle, tmp_path: Path
) -> None:
    base, members = next(iter(built.clusters.items()))
    single = built.singles[2]
    csrf = sign_in(client, "eva")
    # A series named before any item exists: its member is a bare SHA-256.
    r = client.post("/api/series", json={"name": "Scene A", "notes": "", "sha256": base}, headers={H: csrf})
    sid = r.json()["id"]
    client.post(f"/api/series/{sid}/members", json={"sha256": single}, headers={H: csrf})
    other = client.post("/api/series", json={"name": "Scene B", "sha256": single}, headers={H: csrf}).json()
    with case.session() as s:
        assert series_map(s) == {base: ["Scene A"], single: ["Scene A", "Scene B"]}
    # Items grouped later: the series now covers every copy of the picture, with nothing re-entered.
    _group(case, members)
    with case.session() as s:
        named = series_map(s)
    assert {sha for sha, names in named.items() if "Scene A" in names} == members | {single}
    copy = sorted(members - {base})[0]
    via = client.get(f"/api/series/of/{copy}").json()
    assert via == [{"id": sid, "name": "Scene A", "direct": False, "via": [base]}]
    assert other["name"] == "Scene B"

    out = tmp_path / "export.vics.json"
    n = export_vics(case, out, scope="all", version="2.0")
    assert n >= len(members) + 1
    doc = json.loads(out.read_text())
    by_sha = {
        a["HashValue"].lower(): v.get("Series")
        for v in doc["value"]
        for a in v.get("AlternativeHashes", [])
        if a["HashName"] == "SHA256"
    }
    for sha in members:
        assert by_sha[sha] == "Scene A"
    assert by_sha[single] == "Scene A; Scene B"
    assert sum(1 for v in by_sha.values() if v) == len(members) + 1  # nothing else carries a series
    with out.open("rb") as fh:
        read = {r.value: r.series for r in VicsReader(fh) if r.algorithm == "sha256"}
    assert read == by_sha
    # And back into a case as a hash set: the series name is what the importer keeps per entry.
    import_hashset(case, out, name="exported-series")
    with case.session() as s:
        entries = dict(
            s.execute(
                select(m.HashEntry.value, m.HashEntry.series)
                .join(m.HashSet, m.HashSet.id == m.HashEntry.hashset_id)
                .where(m.HashSet.name == "exported-series", m.HashEntry.algorithm == "sha256")
            ).all()
        )
    assert {sha: entries[sha] for sha in members | {single}} == {
        sha: by_sha[sha] for sha in members | {single}
    }


def test_series_travel_in_referral_packages(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    from tessera.network.referrals import write_referrals
    from tessera.series import add, create

    build_case(sqlite_case, tmp_path, n_series=1, n_single=1, network=True)

    def vics_media(out: Path) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for doc in out.glob("*/cases.vics.json"):
            for media in json.loads(doc.read_text())["value"][0]["Media"]:
                for alt in media.get("AlternativeHashes", []):
                    if alt["HashName"] == "SHA256":
                        found[alt["HashValue"].lower()] = media.get("Series")
        return found

    with sqlite_case.session() as s:
        write_referrals(s, tmp_path / "before", "Operation Test", "XX-TEST")
    before = vics_media(tmp_path / "before")
    assert before and not any(before.values())
    chosen = sorted(before)[0]
    with sqlite_case.session() as s:
        add(s, "rita", create(s, "rita", "Garden scene", "abstract test data"), chosen)
        s.commit()
        write_referrals(s, tmp_path / "after", "Operation Test", "XX-TEST")
    after = vics_media(tmp_path / "after")
    assert after == {**before, chosen: "Garden scene"}


def test_migration_0014_matches_the_models(case: CaseHandle) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tessera.store.models import Base

    mine = {
        "series",
        "series_member",
        "exposure_event",
        "exposure_session",
        "exposure_seen",
        "exposure_break",
    }
    with case.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if any(f"'{t}'" in repr(d) or f"<{t}>" in repr(d) for t in mine)] == []


def test_cli_lists_series(case: CaseHandle, built: Built) -> None:
    from tessera.series import add, create
    from tests.review.test_cli import tessera

    with case.session() as s:
        row = create(s, "eva", "Hall scene", "tiles")
        add(s, "eva", row, built.singles[0])
        s.commit()
    listed = tessera("series", "list", "--format", "json", case=case.directory)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert (entry["name"], entry["members"], entry["notes"], entry["created_by"]) == (
        "Hall scene",
        1,
        "tiles",
        "eva",
    )
    shown = tessera("series", "show", "Hall scene", "--format", "csv", case=case.directory)
    assert shown.returncode == 0 and built.singles[0] in shown.stdout
    assert tessera("series", "show", "Nope", case=case.directory).returncode != 0
