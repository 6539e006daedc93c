"""The workstation's spread view on the hop operation (TestClient; server-rendered, no script)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tessera.items.grouping import item_of
from tessera.review import create_app
from tessera.review.auth import add_user
from tessera.store.case import CaseHandle
from tests.items.conftest import OP
from tests.review.conftest import sign_in
from tests.review.helpers import PASSWORD


@pytest.fixture
def client(hop_case: CaseHandle) -> Iterator[TestClient]:
    with hop_case.session() as s:
        add_user(s, "rita", "reviewer", PASSWORD)
        s.commit()
    with TestClient(create_app(hop_case)) as c:
        yield c


def test_spread_view_renders_the_item(client: TestClient, hop_case: CaseHandle) -> None:
    item = "M001"
    origin = OP.copies[f"{item}.0"]
    with hop_case.session() as s:
        item_id = item_of(s, origin.sha256)
    assert client.get(f"/spread/{item_id}", follow_redirects=False).status_code in (302, 303, 401)
    sign_in(client, "rita")
    # From the media page of any copy, through the item, to the view.
    copy = next(c for c in OP.copies.values() if c.item == item and c.parent is not None)
    page = client.get(f"/media/{copy.sha256}")
    assert page.status_code == 200 and f'href="/spread/media/{copy.sha256}"' in page.text
    r = client.get(f"/spread/media/{copy.sha256}")
    assert r.status_code == 200 and str(r.url).endswith(f"/spread/{item_id}")
    html = r.text
    truth = OP.first_poster(item)
    earliest = html.split('id="earliest"')[1].split("</p>")[0]
    assert OP.net.people[truth.sender].wa_jid in earliest and OP.net.groups[truth.group].title in earliest
    spread = OP.spread(item)
    assert html.count('<circle class="post"') == len(spread)
    assert html.count('<line class="edge"') == len(spread) - 1
    # Thumbnails: only the blurred route of this origin, one per copy; no script, no other origin.
    imgs = re.findall(r'<img src="([^"]+)"', html)
    copies = {c.sha256 for c in OP.copies.values() if c.item == item}
    assert sorted(imgs) == sorted(f"/thumb/{s}.jpg" for s in copies)
    assert "/clear.png" not in html and "http://" not in html.split("</head>")[1] and "https://" not in html
    assert client.get(imgs[0]).status_code == 200
    assert client.get("/spread/999999").status_code == 404
