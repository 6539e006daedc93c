"""Timeline and map in real headless Chromium (/usr/bin/chromium, never a download): they render from
the app's own origin only (every request the browser makes is recorded and checked), the timeline pages
add up to the case timeline, and the map draws the bundled basemap and every capture place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page

from tessera.review.auth import add_user
from tessera.store.case import CaseHandle, init_case
from tessera.timeline import events as E
from tests.review.browser import OUTPUT, needs_chromium, own_origin_only, serving, signed_in
from tests.review.helpers import PASSWORD
from tests.timeline.helpers import Truth, build

pytestmark = needs_chromium


@dataclass
class Server:
    url: str
    case: CaseHandle
    truth: Truth


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("timeline-browser")
    handle = init_case(root / "case", "Operation Timeline", "XX-TEST")
    truth = build(handle, root)
    with handle.session() as s:
        add_user(s, "rita", "reviewer", PASSWORD)
        s.commit()
    with serving(handle) as url:
        yield Server(url, handle, truth)
    handle.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[tuple[Page, list[str]]]:
    """A signed-in page whose every request URL is recorded (sign-in included)."""
    pg, requests = signed_in(browser, server.url, "rita", start="/timeline")  # signed-in users only
    yield pg, requests
    pg.context.close()


def _all_events(case: CaseHandle, f: E.Filters | None = None) -> list[dict]:
    with case.session() as s:
        return [e for _, e in E.stream(s, f)]


def test_timeline_pages_filters_and_no_outbound_request(page: tuple[Page, list[str]], server: Server) -> None:
    pg, requests = page
    pg.click("nav a:has-text('Timeline')")
    pg.wait_for_selector("#timeline tr.ev")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUTPUT / "timeline.png"), full_page=False)
    every = _all_events(server.case)
    refs: list[str] = []
    while True:
        refs += pg.locator("#timeline tr.ev").evaluate_all("rows => rows.map(r => r.dataset.ref)")
        nxt = pg.locator("#tl-next")
        if nxt.count() == 0:
            break
        nxt.click()
        pg.wait_for_load_state()
    assert refs == [e["ref"] for e in every] and len(refs) > 100  # more than one page of 100
    # Filter by device through the form: exactly that device's events (and its suspect's status).
    pg.goto(server.url + "/timeline")
    pg.select_option("select[name=device]", "CAM-2")
    pg.click("#tl-apply")
    pg.wait_for_selector("#timeline tr.ev")
    want = [e["ref"] for e in _all_events(server.case, E.Filters(device="CAM-2"))]
    assert pg.locator("#timeline tr.ev").evaluate_all("rows => rows.map(r => r.dataset.ref)") == want
    # Pictures only as blurred thumbnails of this origin.
    img = pg.locator("#timeline .thumb img").first
    pg.wait_for_function("() => { const i = document.querySelector('#timeline .thumb img');"
                         " return i && i.complete && i.naturalWidth > 0; }")  # fmt: skip
    src = img.get_attribute("src") or ""
    assert src.startswith("/thumb/") and "clear" not in src
    assert "blur(" in img.evaluate("el => getComputedStyle(el).filter")
    # Item filter (by item id) keeps its pictures' events only (on CAM-2: cam0; on every device: both).
    pg.fill("input[name=item]", str(server.truth.item_id))
    pg.click("#tl-apply")
    pg.wait_for_selector("#timeline tr.ev")
    assert set(pg.locator("#timeline tr.ev td:nth-child(6) code").all_inner_texts()) == {
        server.truth.pictures["cam0"].sha256[:10]
    }
    pg.select_option("select[name=device]", "")
    pg.fill("input[name=item]", str(server.truth.item_id))
    pg.click("#tl-apply")
    pg.wait_for_selector("#timeline tr.ev")
    shas = set(pg.locator("#timeline tr.ev td:nth-child(6) code").all_inner_texts())
    assert shas == {s[:10] for s in server.truth.item_members}
    pg.fill("input[name=account]", "nobody-at-all")
    pg.click("#tl-apply")
    assert "no account" in pg.locator("p.error").inner_text()
    own_origin_only(requests, server.url)


def test_map_draws_basemap_and_places_with_no_outbound_request(
    page: tuple[Page, list[str]], server: Server
) -> None:
    pg, requests = page
    pg.goto(server.url + "/map")
    pg.wait_for_selector("#map[data-ready='1']")
    assert pg.locator("#map path.land").count() > 150  # Natural Earth 110m: 177 countries
    located = {p.sha256: p for p in server.truth.pictures.values() if p.exif.gps_lat is not None}
    circles = pg.locator("#map circle.place")
    assert circles.count() == len(located)
    drawn = {
        (round(float(c.get_attribute("data-lat") or 0), 5), round(float(c.get_attribute("data-lon") or 0), 5))
        for c in circles.all()
    }
    assert drawn == {(round(p.exif.gps_lat or 0, 5), round(p.exif.gps_lon or 0, 5)) for p in located.values()}
    # Each dot sits where the projection puts its coordinates.
    for c in circles.all():
        lat, lon = float(c.get_attribute("data-lat") or 0), float(c.get_attribute("data-lon") or 0)
        assert abs(float(c.get_attribute("cx") or 0) - (lon + 180)) < 1e-6
        assert abs(float(c.get_attribute("cy") or 0) - (90 - lat)) < 1e-6
    # Clicking cam0's place lists its picture with both files, blurred.
    cam0 = server.truth.pictures["cam0"]
    target = next(
        c
        for c in circles.all()
        if abs(float(c.get_attribute("data-lat") or 0) - (cam0.exif.gps_lat or 0)) < 1e-5
    )
    target.dispatch_event("click")
    pg.wait_for_selector("#place-list[data-ready='1'] .pic")
    assert pg.locator("#place-list .pic").evaluate_all("els => els.map(e => e.dataset.sha)") == [cam0.sha256]
    files = pg.locator("#place-list .pic li").all_inner_texts()
    assert sorted(files) == ["CAM-1 /DCIM/cam0.jpg", "CAM-2 /DCIM/cam0.jpg"]
    img = pg.locator("#place-list .thumb img")
    assert (img.get_attribute("src") or "") == f"/thumb/{cam0.sha256}.jpg"
    pg.wait_for_function("() => { const i = document.querySelector('#place-list .thumb img');"
                         " return i && i.complete && i.naturalWidth > 0; }")  # fmt: skip
    assert "blur(" in img.evaluate("el => getComputedStyle(el).filter")
    # Zooming keeps working (the view box shrinks around the pointer).
    before = pg.locator("#map svg").get_attribute("viewBox")
    pg.mouse.move(500, 400)
    pg.mouse.wheel(0, -300)
    pg.wait_for_function(f"() => document.querySelector('#map svg').getAttribute('viewBox') !== {before!r}")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUTPUT / "map.png"), full_page=True)
    assert any(u.endswith("/static/basemap.geojson") for u in requests)
    own_origin_only(requests, server.url)
