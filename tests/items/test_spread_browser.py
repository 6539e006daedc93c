"""The spread view in real headless Chromium: it renders from the app's own origin only (every request
the browser makes is recorded and checked), one node per post, blurred thumbnails only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tessera.items.grouping import item_of, update_items
from tessera.review.auth import add_user
from tessera.store.case import CaseHandle, init_case
from tessera.synth.hops import load
from tests.items.conftest import OP
from tests.review.browser import OUTPUT, needs_chromium, own_origin_only, serving, signed_in
from tests.review.helpers import PASSWORD

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def hop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, CaseHandle]]:
    root: Path = tmp_path_factory.mktemp("spread-browser")
    handle = init_case(root / "case", "Operation Spread", "XX-TEST")
    with handle.session() as s:
        load(s, OP)
        update_items(s)
        add_user(s, "rita", "reviewer", PASSWORD)
        s.commit()
    with serving(handle) as url:
        yield url, handle
    handle.close()


def test_spread_view_in_chromium_with_no_outbound_request(
    browser: Browser, hop_server: tuple[str, CaseHandle]
) -> None:
    url, handle = hop_server
    item = "M001"
    with handle.session() as s:
        item_id = item_of(s, OP.copies[f"{item}.0"].sha256)
    pg, requests = signed_in(browser, url, "rita")
    pg.goto(f"{url}/spread/{item_id}")
    pg.wait_for_selector("circle.post")
    assert pg.locator("circle.post").count() == len(OP.spread(item))
    srcs = pg.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
    assert srcs and all(s.startswith("/thumb/") and s.endswith(".jpg") for s in srcs)  # blurred route only
    pg.wait_for_load_state("networkidle")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUTPUT / "spread.png"), full_page=True)
    own_origin_only(requests, url)
    pg.context.close()
