"""The web API on SQLite and PostgreSQL: sign-in, CSRF, roles, reveals, decisions, pages, evidence."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image, ImageStat
from sqlalchemy import func, select

from tessera.review.clusters import update_clusters
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_review import MediaCluster
from tests.review.conftest import sign_in
from tests.review.helpers import Built, tree_state


def audit_rows(case: CaseHandle, action: str) -> list[m.AuditEntry]:
    with case.session() as s:
        return list(
            s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == action).order_by(m.AuditEntry.id))
        )


def test_sign_in_cookie_flags_and_audit(client: TestClient, case: CaseHandle) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/graph").status_code == 401
    page = client.get("/login")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    sign_in(client, "rita")
    assert [e.subject for e in audit_rows(case, "sign-in")] == ["rita"]
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp


def test_session_cookie_is_httponly_strict(client: TestClient) -> None:
    page = client.get("/login")
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    from tests.review.helpers import PASSWORD

    r = client.post(
        "/login", data={"name": "rita", "password": PASSWORD, "csrf": token.group(1)}, follow_redirects=False
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("tessera_session=") and "httponly" in cookie and "samesite=strict" in cookie


def test_wrong_password_and_login_without_csrf(client: TestClient, case: CaseHandle) -> None:
    client.get("/login")
    assert client.post("/login", data={"name": "rita", "password": "x" * 10}).status_code == 403  # no token
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    r = client.post("/login", data={"name": "rita", "password": "wrong-password", "csrf": token.group(1)})
    assert r.status_code == 401
    assert audit_rows(case, "sign-in failed")


def test_post_without_csrf_is_refused(client: TestClient, built: Built, case: CaseHandle) -> None:
    sign_in(client, "rita")
    sha = built.singles[0]
    assert client.post("/api/decide", json={"sha256": sha, "category": 1}).status_code == 403
    bad = {"X-CSRF-Token": "forged"}
    assert client.post("/api/decide", json={"sha256": sha, "category": 1}, headers=bad).status_code == 403
    assert client.post("/api/reveal", json={"sha256": sha}).status_code == 403
    assert client.post("/settings/blur", data={"blur": 20}).status_code == 403
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Decision)) == 0


def test_viewer_cannot_change_anything(client: TestClient, built: Built, case: CaseHandle) -> None:
    csrf = sign_in(client, "vic")
    h = {"X-CSRF-Token": csrf}
    sha = built.singles[0]
    assert client.get("/review").status_code == 200  # may look
    assert client.post("/api/decide", json={"sha256": sha, "category": 1}, headers=h).status_code == 403
    assert client.post("/api/reveal", json={"sha256": sha}, headers=h).status_code == 403
    assert client.post("/export/decisions.csv", data={"csrf": csrf}).status_code == 403
    assert client.post("/api/clusters/update", headers=h).status_code == 403
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Decision)) == 0
    assert not audit_rows(case, "reveal")


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_thumbnail_blurred_until_revealed_and_reveal_audited(
    client: TestClient, built: Built, case: CaseHandle
) -> None:
    before = tree_state(built.evidence)
    csrf = sign_in(client, "rita")
    sha = built.zipped  # inside backup.zip: the member is re-read through the chained locator
    blurred = client.get(f"/thumb/{sha}.jpg")
    assert blurred.status_code == 200 and blurred.headers["content-type"] == "image/jpeg"
    img = _image(blurred.content)
    r, g, b = img.split()
    assert r.tobytes() == g.tobytes() == b.tobytes()  # grayscale
    assert client.get(f"/thumb/{sha}/clear.png").status_code == 403  # not revealed yet
    res = client.post("/api/reveal", json={"sha256": sha}, headers={"X-CSRF-Token": csrf})
    assert res.status_code == 200
    rows = audit_rows(case, "reveal")
    assert [(e.user, e.subject) for e in rows] == [("rita", sha)]
    clear = client.get(res.json()["url"])
    assert clear.status_code == 200 and clear.headers["cache-control"] == "no-store"
    cimg = _image(clear.content)
    # The clear thumbnail has colour and detail; the blurred one has neither.
    assert max(ImageStat.Stat(cimg).stddev) > 1.5 * max(ImageStat.Stat(img).stddev)
    assert cimg.split()[0].tobytes() != cimg.split()[1].tobytes()  # the clear one keeps its colour
    # Revealing one item reveals nothing else.
    assert client.get(f"/thumb/{built.singles[0]}/clear.png").status_code == 403
    assert (case.directory / "thumbs" / sha[:2] / f"{sha}.png").is_file()
    assert tree_state(built.evidence) == before  # nothing written into evidence


def test_cluster_decision_covers_every_member(client: TestClient, built: Built, case: CaseHandle) -> None:
    csrf = sign_in(client, "rita")
    base, members = next(iter(built.clusters.items()))
    r = client.post(
        "/api/decide", json={"sha256": base, "category": 2, "cluster": True}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200
    assert set(r.json()["changed"]) == members
    with case.session() as s:
        got = dict(s.execute(select(m.Decision.sha256, m.Decision.category)).all())
        assert got == dict.fromkeys(members, 2)
        assert len({d.cluster_id for d in s.scalars(select(m.Decision))}) == 1
    assert {e.subject for e in audit_rows(case, "decision")} == members
    page = client.get("/review").text
    assert not any(s in page for s in members)  # decided items leave the queue
    bad = client.post("/api/decide", json={"sha256": base, "category": 9}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422


def test_pages_render(client: TestClient, built: Built) -> None:
    sign_in(client, "eva")
    for path in (
        "/",
        "/review",
        "/review?page=2",
        "/network",
        "/audit",
        "/audit?check=1",
        f"/media/{built.zipped}",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
    assert "chain intact" in client.get("/audit?check=1").text
    media = client.get(f"/media/{built.zipped}").text
    assert "/backup.zip!/saved/inner.jpg" in media and "D100" in media
    assert client.get("/media/" + "0" * 64).status_code == 404
    g = client.get("/api/graph").json()
    assert "elements" in g


def test_export_is_examiner_only_and_audited(client: TestClient, built: Built, case: CaseHandle) -> None:
    csrf = sign_in(client, "eva")
    client.post(
        "/api/decide", json={"sha256": built.singles[0], "category": 0}, headers={"X-CSRF-Token": csrf}
    )
    r = client.post("/export/decisions.csv", data={"csrf": csrf})
    assert r.status_code == 200 and built.singles[0] in r.text
    assert audit_rows(case, "export")


def test_clusters_update_incrementally(case: CaseHandle, built: Built) -> None:
    with case.session() as s:
        before = dict(s.execute(select(MediaCluster.sha256, MediaCluster.cluster_id)).all())
        assert update_clusters(s) == 0  # nothing new: nothing recomputed
        s.query(MediaCluster).delete()
        s.commit()
        assert update_clusters(s) == len(before)
        s.commit()
        assert dict(s.execute(select(MediaCluster.sha256, MediaCluster.cluster_id)).all()) == before
        # Remove one member: re-adding it joins its old cluster again.
        base, members = next(iter(built.clusters.items()))
        one = sorted(members)[-1]
        s.query(MediaCluster).filter(MediaCluster.sha256 == one).delete()
        s.commit()
        assert update_clusters(s) == 1
        s.commit()
        assert s.get(MediaCluster, one).cluster_id == before[one]  # type: ignore[union-attr]
    for members in built.clusters.values():
        assert len({before[x] for x in members}) == 1
    assert len({before[x] for x in built.singles}) == len(built.singles)
