"""What every browser test needs: real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright, never a download), the workstation served by uvicorn on a free loopback port, a signed-in
page whose every request is recorded, and the check that nothing left the app's own origin."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tessera.review import create_app
from tessera.store.case import CaseHandle
from tests.review.helpers import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Screenshots (git-ignored).
OUTPUT = Path(__file__).resolve().parents[1] / "output" / "review"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="browser tests need Debian chromium at /usr/bin/chromium (make sysdeps)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(handle: CaseHandle) -> Iterator[str]:
    """The workstation for ``handle`` on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(handle), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def signed_in(
    browser: Browser, url: str, user: str, *, start: str = "/", width: int = 1400, height: int = 900
) -> tuple[Page, list[str]]:
    """A new context's page signed in as ``user`` through the form (reached from ``start``, which
    must send a stranger to the sign-in page), and the list every request URL is appended to."""
    pg = browser.new_context(viewport={"width": width, "height": height}).new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(url + start)
    assert pg.url.endswith("/login")
    pg.fill("#name", user)
    pg.fill("#password", PASSWORD)
    pg.click("#signin")
    pg.wait_for_selector("h1:has-text('Operation dashboard')")
    return pg, requests


def own_origin_only(requests: list[str], origin: str) -> None:
    """Every request the browser made went to the app itself (no CDN, tile server or anything else)."""
    assert requests
    foreign = [u for u in requests if not (u == origin or u.startswith(origin + "/"))]
    assert not foreign, foreign
