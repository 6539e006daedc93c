"""The FastAPI application: one case per server process, pages split into route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from tessera.review import (
    errors,
    routes_auth,
    routes_media,
    routes_network,
    routes_pages,
    routes_review,
    routes_series,
    routes_spread,
    routes_timeline,
    routes_wellbeing,
)
from tessera.review.deps import NotSignedIn
from tessera.review.guards import Guards
from tessera.review.signin import LOCK_AFTER, SigninGuard
from tessera.review.thumbs import ThumbCache
from tessera.store.case import CaseHandle

STATIC = Path(__file__).with_name("static")

# Everything is served from this origin: no CDN, no outbound request, nothing inline but styles
# (inline SVG charts use presentation attributes; the blur level is a CSS variable on <body>).
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; media-src 'none'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def create_app(
    handle: CaseHandle,
    *,
    lock_after: int = LOCK_AFTER,
    secure_cookies: bool = False,
    allowed_hosts: frozenset[str] | None = None,
) -> Any:
    """The workstation as an ASGI app. ``allowed_hosts`` None accepts any Host (tests); `tessera serve`
    always passes a list. The FastAPI app itself is ``.app`` of the returned guard."""
    guards: Guards | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if guards is not None:  # the refusal counts of the last, unfinished minute
            guards.flush_refusals(everything=True)

    app = FastAPI(title="Tessera review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.case = handle
    app.state.signin = SigninGuard(lock_after=lock_after)
    app.state.secure_cookies = secure_cookies
    app.state.thumbs = ThumbCache(handle.directory)
    #: session token hash -> media a reviewer revealed in that session (the clear thumbnail is served
    #: for these only); held in memory: after a restart a reviewer reveals again, which is audited again.
    app.state.revealed = {}
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (routes_auth, routes_pages, routes_review, routes_media, routes_network):
        app.include_router(module.router)
    for module in (routes_series, routes_wellbeing, routes_timeline):
        app.include_router(module.router)
    app.include_router(routes_spread.router)

    @app.exception_handler(NotSignedIn)
    async def _signin(request: Request, _exc: NotSignedIn) -> Response:
        if request.method == "GET" and not request.url.path.startswith(("/api/", "/thumb/")):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse({"detail": "sign in first"}, status_code=401)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    errors.install(app)
    guards = Guards(app, allowed_hosts)
    return guards
