"""Series pages and calls: name a series, keep notes, add and remove members (all audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from tessera import series as ser
from tessera.review.deps import User, Writer, render
from tessera.review.routes_review import _media
from tessera.store.models_series import Series, SeriesMember

router = APIRouter()
SeriesId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _series(ctx: User, series_id: int) -> Series:
    row = ctx.db.get(Series, series_id)
    if row is None:
        raise HTTPException(404, "no such series")
    return row


@router.get("/series")
def series_list(request: Request, ctx: User) -> Response:
    counts = dict(
        ctx.db.execute(select(SeriesMember.series_id, func.count()).group_by(SeriesMember.series_id)).all()
    )
    rows = [(s, counts.get(s.id, 0)) for s in ctx.db.scalars(select(Series).order_by(Series.name))]
    return render(request, "series_list.html", ctx, rows=rows, error=request.query_params.get("error"))


@router.post("/series")
def series_create(
    ctx: Writer,
    name: Annotated[str, Form(max_length=1000)],
    notes: Annotated[str, Form(max_length=ser.MAX_NOTES)] = "",
) -> Response:
    try:
        row = ser.create(ctx.db, ctx.user.name, name, notes)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    ctx.db.commit()
    return RedirectResponse(f"/series/{row.id}", status_code=303)


@router.get("/series/{series_id}")
def series_page(request: Request, ctx: User, series_id: SeriesId) -> Response:
    row = _series(ctx, series_id)
    return render(request, "series.html", ctx, s=row, members=ser.members(ctx.db, row.id))


@router.post("/series/{series_id}")
def series_update(
    ctx: Writer,
    series_id: SeriesId,
    name: Annotated[str, Form(max_length=1000)],
    notes: Annotated[str, Form(max_length=ser.MAX_NOTES)] = "",
) -> Response:
    row = _series(ctx, series_id)
    try:
        ser.update(ctx.db, ctx.user.name, row, name, notes)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    ctx.db.commit()
    return RedirectResponse(f"/series/{row.id}", status_code=303)


@router.post("/series/{series_id}/remove")
def series_remove_form(
    ctx: Writer, series_id: SeriesId, sha256: Annotated[str, Form(max_length=64)]
) -> Response:
    row = _series(ctx, series_id)
    ser.remove(ctx.db, ctx.user.name, row, sha256)
    ctx.db.commit()
    return RedirectResponse(f"/series/{row.id}", status_code=303)


# --- JSON calls for the media page and the review grid (static/series.js) -----------------------------


class MemberIn(BaseModel):
    sha256: str = Field(max_length=64)


class CreateIn(BaseModel):
    name: str = Field(max_length=1000)
    notes: str = Field(default="", max_length=ser.MAX_NOTES)
    sha256: str | None = Field(default=None, max_length=64)


@router.get("/api/series")
def api_series(ctx: User) -> list[dict[str, object]]:
    return [
        {"id": i, "name": n} for i, n in ctx.db.execute(select(Series.id, Series.name).order_by(Series.name))
    ]


@router.get("/api/series/of/{sha256}")
def api_series_of(ctx: User, sha256: str) -> list[dict[str, object]]:
    _media(ctx, sha256)
    return ser.of_media(ctx.db, sha256)


@router.post("/api/series")
def api_create(ctx: Writer, body: CreateIn) -> dict[str, object]:
    if body.sha256 is not None:
        _media(ctx, body.sha256)
    try:
        row = ser.create(ctx.db, ctx.user.name, body.name, body.notes)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if body.sha256 is not None:
        ser.add(ctx.db, ctx.user.name, row, body.sha256)
    ctx.db.commit()
    return {"id": row.id, "name": row.name}


@router.post("/api/series/{series_id}/members")
def api_add(ctx: Writer, series_id: SeriesId, body: MemberIn) -> dict[str, object]:
    row = _series(ctx, series_id)
    _media(ctx, body.sha256)
    added = ser.add(ctx.db, ctx.user.name, row, body.sha256)
    ctx.db.commit()
    return {"series": row.id, "name": row.name, "added": added}


@router.post("/api/series/{series_id}/members/remove")
def api_remove(ctx: Writer, series_id: SeriesId, body: MemberIn) -> dict[str, object]:
    row = _series(ctx, series_id)
    removed = ser.remove(ctx.db, ctx.user.name, row, body.sha256)
    ctx.db.commit()
    return {"series": row.id, "removed": removed}
