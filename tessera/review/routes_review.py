"""The review grid: blurred thumbnails, audited reveals, keyboard decisions over items or clusters."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from tessera.audit import append
from tessera.ingest.known import mark_benign_in
from tessera.review import clusters, data, exposure
from tessera.review.auth import clamp_blur
from tessera.review.deps import Examiner, User, Writer, render
from tessera.store import models as m

router = APIRouter()
PER_PAGE = 60
SHA = re.compile(r"^[0-9a-f]{64}$")


def _media(ctx: User, sha256: str) -> m.Media:
    if not SHA.match(sha256):
        raise HTTPException(404, "no such media")
    media = ctx.db.get(m.Media, sha256)
    if media is None:
        raise HTTPException(404, "no such media")
    return media


def _revealed(request: Request, ctx: User) -> set[str]:
    key = hashlib.sha256(ctx.token.encode()).hexdigest()
    store: dict[str, set[str]] = request.app.state.revealed
    return store.setdefault(key, set())


@router.get("/review")
def review(request: Request, ctx: User, page: Annotated[int, Query(ge=-(10**9), le=10**9)] = 1) -> Response:
    page = max(1, page)
    items, total = data.review_page(ctx.db, page, PER_PAGE)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return render(
        request,
        "review.html",
        ctx,
        items=items,
        total=total,
        page=page,
        pages=pages,
        categories=data.CATEGORIES,
    )


@router.get("/thumb/{sha256}.jpg")
def thumb(request: Request, ctx: User, sha256: str) -> Response:
    """Always blurred and grayscale, at the signed-in user's blur level."""
    media = _media(ctx, sha256)
    # Clamped again here: a level stored before the minimum was raised must not be served lighter.
    path = request.app.state.thumbs.blurred(ctx.db, sha256, media.kind, clamp_blur(ctx.user.blur))
    if exposure.note_seen(ctx.db, ctx.token, ctx.user.name, sha256):  # items seen per session
        ctx.db.commit()
    # Never kept by the browser: a cached copy outlived sign-out (and a blur change); the case folder holds
    # the cache that matters, so serving it again is cheap.
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/thumb/{sha256}/clear.png")
def thumb_clear(request: Request, ctx: User, sha256: str) -> Response:
    """The unblurred thumbnail: only for an item this session revealed (the reveal is audited)."""
    media = _media(ctx, sha256)
    if sha256 not in _revealed(request, ctx):
        raise HTTPException(403, "reveal this item first")
    path = request.app.state.thumbs.clear(ctx.db, sha256, media.kind)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})


class RevealIn(BaseModel):
    sha256: str


@router.post("/api/reveal")
def reveal(request: Request, ctx: Writer, body: RevealIn) -> dict[str, str]:
    _media(ctx, body.sha256)
    append(ctx.db, ctx.user.name, "reveal", body.sha256, {"view": "thumbnail"})
    exposure.note_reveal(ctx.db, ctx.token, ctx.user.name, body.sha256)  # metered (tessera.review.exposure)
    ctx.db.commit()
    _revealed(request, ctx).add(body.sha256)
    return {"url": f"/thumb/{body.sha256}/clear.png"}


class DecideIn(BaseModel):
    sha256: str
    category: int
    cluster: bool = False


@router.post("/api/decide")
def decide(ctx: Writer, body: DecideIn) -> dict[str, object]:
    _media(ctx, body.sha256)
    try:
        changed = data.decide(ctx.db, ctx.user.name, body.sha256, body.category, body.cluster)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    ctx.db.commit()
    return {"category": body.category, "changed": changed}


class BenignIn(BaseModel):
    sha256: str
    # No NUL: PostgreSQL text cannot hold one (the audit log keeps the note).
    note: str | None = Field(default=None, max_length=500, pattern=r"^[^\x00]*$")


@router.post("/api/benign")
def benign(ctx: Writer, body: BenignIn) -> dict[str, object]:
    """Mark an item known benign (a sticker, an app icon): it leaves the queue and the counts (audited)."""
    _media(ctx, body.sha256)
    added = mark_benign_in(ctx.db, ctx.user.name, [body.sha256], body.note)
    ctx.db.commit()
    return {"sha256": body.sha256, "added": bool(added)}


@router.post("/api/clusters/update")
def update_clusters(ctx: Examiner) -> dict[str, int]:
    n = clusters.update_clusters(ctx.db)
    ctx.db.commit()
    return {"assigned": n}
