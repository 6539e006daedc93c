"""Known benign from the workstation: POST /api/benign (reviewers, audited, CSRF) and the grid's b key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from sqlalchemy import select

from tessera.ingest.known import BENIGN_SET
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tessera.store.models_known import KnownHash
from tests.review.browser import needs_chromium, serving, signed_in
from tests.review.conftest import sign_in
from tests.review.helpers import Built, build_case


def _queued(client: TestClient) -> str:
    return client.get("/review").text


def test_api_marks_an_item_benign_for_reviewers_only(
    client: TestClient, case: CaseHandle, built: Built
) -> None:
    sha = built.singles[0]
    csrf = sign_in(client, "vic")  # a viewer may look, not decide
    r = client.post("/api/benign", json={"sha256": sha}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    csrf = sign_in(client, "rita")
    assert client.post("/api/benign", json={"sha256": sha}).status_code in (401, 403)  # no CSRF token
    assert (
        client.post("/api/benign", json={"sha256": "0" * 64}, headers={"X-CSRF-Token": csrf}).status_code
        == 404
    )
    assert sha in _queued(client)
    r = client.post("/api/benign", json={"sha256": sha, "note": "app icon"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json() == {"sha256": sha, "added": True}
    again = client.post("/api/benign", json={"sha256": sha}, headers={"X-CSRF-Token": csrf})
    assert again.json()["added"] is False
    assert sha not in _queued(client)
    with case.session() as s:
        entry = s.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "known-benign"))
        assert (
            entry is not None
            and entry.user == "rita"
            and entry.subject == sha
            and "app icon" in entry.details
        )
        hs = s.scalar(select(m.HashSet).where(m.HashSet.name == BENIGN_SET))
        assert hs is not None and hs.entry_count == 1
        assert s.get(KnownHash, (bytes.fromhex(sha), hs.id)) is not None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Built, CaseHandle]]:
    root = tmp_path_factory.mktemp("review-benign")
    handle = init_case(root / "case", "Operation Benign", "XX-TEST")
    built = build_case(handle, root)
    with serving(handle) as url:
        yield url, built, handle
    handle.close()


@needs_chromium
def test_the_b_key_marks_the_selected_item_benign(
    browser: Browser, served: tuple[str, Built, CaseHandle]
) -> None:
    url, built, handle = served
    page, _ = signed_in(browser, url, "rita")
    try:
        sha = built.singles[1]
        page.goto(url + "/review")
        item = page.locator(f'.item[data-sha="{sha}"]')
        item.locator("code").click()
        page.keyboard.press("b")
        item.locator(".cat-badge").filter(has_text="benign").wait_for()
        page.goto(url + "/review")
        assert page.locator(f'.item[data-sha="{sha}"]').count() == 0
    finally:
        page.context.close()
    with handle.session() as s:
        assert s.scalar(select(m.AuditEntry.user).where(m.AuditEntry.subject == sha)) == "rita"
