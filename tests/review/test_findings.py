"""Findings from using the workstation: each fixed and kept fixed here."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image, ImageChops, ImageOps, ImageStat
from sqlalchemy import select, update

from tessera.review.auth import MIN_BLUR, clamp_blur
from tessera.review.thumbs import blur_image
from tessera.store.case import CaseHandle
from tessera.store.models_review import ReviewUser
from tessera.synth.images import photo_image
from tests.review.conftest import sign_in
from tests.review.helpers import Built


def test_a_viewer_sets_their_own_blur_level(client: TestClient, case: CaseHandle) -> None:
    csrf = sign_in(client, "vic")
    assert 'action="/settings/blur"' in client.get("/review").text
    r = client.post("/settings/blur", data={"blur": 30, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.post("/settings/blur", data={"blur": 30}).status_code == 403  # CSRF still needed
    with case.session() as s:
        assert s.scalar(select(ReviewUser.blur).where(ReviewUser.name == "vic")) == 30


def _detail_below_8x8(img: Image.Image) -> float:
    """RMS of what an 8 x 8 grid of block means does not explain: the picture's layout and shapes."""
    g = ImageOps.grayscale(img).resize((256, 256))
    coarse = g.resize((8, 8), Image.Resampling.BOX).resize((256, 256), Image.Resampling.BILINEAR)
    return float(ImageStat.Stat(ImageChops.difference(g, coarse)).rms[0])


def test_the_lightest_blur_still_hides_the_layout() -> None:
    assert clamp_blur(0) == clamp_blur(4) == MIN_BLUR >= 12
    for seed in (9100, 9101, 9300, 9500):
        img = photo_image(seed, 480, 360).resize((256, 256))
        kept = _detail_below_8x8(blur_image(img, MIN_BLUR)) / _detail_below_8x8(img)
        assert kept < 0.45, (seed, kept)


def test_a_level_stored_below_the_minimum_is_served_at_the_minimum(
    client: TestClient, case: CaseHandle, built: Built
) -> None:
    with case.session() as s:
        s.execute(update(ReviewUser).where(ReviewUser.name == "rita").values(blur=4))
        s.commit()
    sign_in(client, "rita")
    sha = built.singles[0]
    img = Image.open(io.BytesIO(client.get(f"/thumb/{sha}.jpg").content))
    assert img.size
    assert f"--blur: {MIN_BLUR // 2}px" in client.get("/review").text


def test_the_sign_in_page_names_no_operation(client: TestClient, case: CaseHandle) -> None:
    page = client.get("/login").text
    assert case.name not in page
    if case.agency:
        assert case.agency not in page
    sign_in(client, "rita")
    assert case.name in client.get("/review").text


def test_sign_out_deletes_the_cookie_as_it_was_set(client: TestClient) -> None:
    csrf = sign_in(client, "rita")
    r = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    gone = [v.lower() for k, v in r.headers.multi_items() if k == "set-cookie" and "tessera_session=" in v]
    assert gone and "samesite=strict" in gone[0] and "httponly" in gone[0] and "max-age=0" in gone[0]


def test_older_only_when_there_is_something_older(client: TestClient, case: CaseHandle) -> None:
    from tessera.audit import append

    sign_in(client, "eva")
    page = client.get("/audit").text
    assert 'id="older"' not in page  # a handful of entries: one page, nothing older
    with case.session() as s:
        for k in range(210):
            append(s, "eva", "note", f"n{k}", {})
        s.commit()
    page = client.get("/audit").text
    assert 'id="older"' in page
    before = int(page.split("/audit?before=")[1].split('"')[0])
    assert 'id="older"' not in client.get(f"/audit?before={before}").text


def test_counts_agree_with_their_noun() -> None:
    from tessera.review.deps import count_of

    assert [count_of(n, "item") for n in (0, 1, 2, 1200)] == ["0 items", "1 item", "2 items", "1,200 items"]


def test_a_favicon_is_served(client: TestClient) -> None:
    page = client.get("/login").text
    assert 'rel="icon" href="/static/favicon.svg"' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
