"""The workstation in real headless Chromium (Playwright driving /usr/bin/chromium, never a download).

Screenshots of the dashboard, the review grid and the network go to tests/output/review/ (git-ignored).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PIL import Image, ImageFilter, ImageStat
from playwright.sync_api import Browser, Locator, Page
from sqlalchemy import select

from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tests.review.browser import OUTPUT, needs_chromium, serving, signed_in
from tests.review.helpers import Built, build_case

pytestmark = needs_chromium


@dataclass
class Server:
    url: str
    built: Built
    case: CaseHandle


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("review-browser")
    handle = init_case(root / "case", "Operation Browser", "XX-TEST")
    built = build_case(handle, root, network=True)
    with serving(handle) as url:
        yield Server(url, built, handle)
    handle.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    pg, _ = signed_in(browser, server.url, "rita")
    yield pg
    pg.context.close()


def tile(pg: Page, sha: str) -> Locator:
    return pg.locator(f'.item[data-sha="{sha}"]')


def test_sign_in_and_dashboard(page: Page, server: Server) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    assert page.locator(".tile").count() >= 6
    assert page.locator("figure.chart svg").count() >= 3
    page.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)
    assert (OUTPUT / "dashboard.png").stat().st_size > 5000


def test_first_thumbnail_is_blurred(page: Page, server: Server) -> None:
    pg = page
    pg.goto(server.url + "/review")
    img = pg.locator(".item .thumb img").first
    img.scroll_into_view_if_needed()
    pg.wait_for_function(
        "() => { const i = document.querySelector('.item .thumb img');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    style = img.evaluate("el => getComputedStyle(el).filter")
    assert "grayscale(1)" in style and "blur(" in style, style
    # The pixels that reached the browser are themselves grayscale and low-detail.
    src = img.get_attribute("src")
    assert src and "clear" not in src
    data = pg.request.get(server.url + src).body()
    im = Image.open(io.BytesIO(data)).convert("RGB")
    r, g, b = im.split()
    assert r.tobytes() == g.tobytes() == b.tobytes()
    edges = sum(ImageStat.Stat(im.convert("L").filter(ImageFilter.FIND_EDGES)).mean)
    assert edges < 3.0, edges  # a blurred image has almost no edges
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUTPUT / "review-grid.png"), full_page=True)


def _decisions(case: CaseHandle, sha: str) -> list[int | None]:
    with case.session() as s:
        return list(s.scalars(select(m.Decision.category).where(m.Decision.sha256 == sha)))


def test_keyboard_categorises_the_selected_item(page: Page, server: Server) -> None:
    sha = server.built.singles[0]
    page.goto(server.url + "/review")
    t = tile(page, sha)
    t.locator("code").click()
    assert "selected" in (t.get_attribute("class") or "")
    page.keyboard.press("1")
    badge = t.locator(".cat-badge")
    badge.filter(has_text="cat 1").wait_for()
    assert _decisions(server.case, sha) == [1]


def test_cluster_decision_changes_every_member(page: Page, server: Server) -> None:
    base, members = list(server.built.clusters.items())[-1]
    page.goto(server.url + "/review")
    tile(page, base).locator("code").click()
    page.keyboard.press("c")
    for sha in members:
        assert "in-cluster" in (tile(page, sha).get_attribute("class") or "")
    page.keyboard.press("3")
    for sha in members:
        tile(page, sha).locator(".cat-badge").filter(has_text="cat 3").wait_for()
        assert _decisions(server.case, sha) == [3]


def test_reveal_is_a_click_and_audited(page: Page, server: Server) -> None:
    sha = server.built.singles[1]
    page.goto(server.url + "/review")
    t = tile(page, sha)
    t.locator("button.reveal").click()
    page.wait_for_selector(f'.item.revealed[data-sha="{sha}"]')
    assert "clear.png" in (t.locator("img").get_attribute("src") or "")
    assert t.locator("img").evaluate("el => getComputedStyle(el).filter") == "none"
    others = page.locator(".item:not(.revealed) .thumb img").first
    assert "blur(" in others.evaluate("el => getComputedStyle(el).filter")
    with server.case.session() as s:
        rows = s.scalars(
            select(m.AuditEntry).where(m.AuditEntry.action == "reveal", m.AuditEntry.subject == sha)
        )
        assert [e.user for e in rows] == ["rita"]


def test_network_view_click_a_node(page: Page, server: Server) -> None:
    page.goto(server.url + "/network")
    page.wait_for_selector("#cy[data-ready='1']")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "network.png"))
    x, y, href = page.evaluate(
        """() => { const cy = window.tesseraGraph; const n = cy.nodes('[type = "account"]')[0];
                   const p = n.renderedPosition(); const b = cy.container().getBoundingClientRect();
                   return [b.left + p.x, b.top + p.y, n.data('href')]; }"""
    )
    assert href.startswith("/account/")
    page.mouse.click(x, y)
    page.wait_for_url("**" + href)
    assert page.locator("h1").inner_text().startswith("Account")


def test_digit_key_on_the_media_page_says_so_and_refreshes_history(page: Page, server: Server) -> None:
    sha = server.built.singles[-1]
    page.goto(f"{server.url}/media/{sha}")
    before = page.locator("#history tr").count()
    page.keyboard.press("3")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('category 3')")
    page.wait_for_function(f"() => document.querySelectorAll('#history tr').length > {before}")
    assert "rita" in page.locator("#history").inner_text()


def _reveals(case: CaseHandle, sha: str) -> int:
    with case.session() as s:
        q = select(m.AuditEntry).where(m.AuditEntry.action == "reveal", m.AuditEntry.subject == sha)
        return len(list(s.scalars(q)))


def test_reveal_selects_its_item(page: Page, server: Server) -> None:
    # Two members of the first series (no other test decides them, so both stay in the grid).
    base = list(server.built.clusters)[0]
    first, target = sorted(server.built.clusters[base] - {base})[:2]
    page.goto(server.url + "/review")
    tile(page, first).locator("code").click()  # another item is selected
    t = tile(page, target)
    t.locator("button.reveal").click()
    page.wait_for_selector(f'.item.revealed[data-sha="{target}"]')
    assert "selected" in (t.get_attribute("class") or "")
    assert "selected" not in (tile(page, first).get_attribute("class") or "")
    page.keyboard.press("2")  # the decision goes to the picture just revealed
    t.locator(".cat-badge").filter(has_text="cat 2").wait_for()
    assert _decisions(server.case, target)[-1] == 2


def test_enter_never_reveals_twice(page: Page, server: Server) -> None:
    # In the grid: Enter on the focused Reveal button reveals once; the next Enter opens the item.
    sha = list(server.built.clusters)[0]
    page.goto(server.url + "/review")
    before = _reveals(server.case, sha)
    tile(page, sha).locator("button.reveal").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.item.revealed[data-sha="{sha}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/media/{sha}")
    assert _reveals(server.case, sha) == before + 1
    # On the media page (one item, focus stays on the button): Enter pressed again and again.
    other = server.built.zipped
    page.goto(f"{server.url}/media/{other}")
    before = _reveals(server.case, other)
    page.locator("button.reveal").focus()
    for _ in range(3):
        page.keyboard.press("Enter")
    page.wait_for_selector(".item.revealed")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)  # any second request would have reached the server by now
    assert _reveals(server.case, other) == before + 1
    assert page.locator("button.reveal").is_disabled()


def test_a_long_operation_name_keeps_the_header_on_one_line(page: Page, server: Server) -> None:
    page.goto(server.url + "/review")
    one_line = page.locator("header.top").bounding_box()
    assert one_line is not None
    page.evaluate(
        "() => { document.querySelector('.case-name').textContent = 'Operation ' + 'Longname '.repeat(40); }"
    )
    box = page.locator("header.top").bounding_box()
    assert box is not None and box["height"] <= one_line["height"] + 1, (one_line, box)
    signout = page.locator("header .who button").bounding_box()
    assert signout is not None and signout["x"] + signout["width"] <= 1400  # still on screen
