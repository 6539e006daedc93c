"""The case timeline (keyset-paged table) and the map of capture places over the bundled basemap.

Pictures appear only as the blurred thumbnails of ``/thumb/{sha256}.jpg``; the basemap is a file of
this origin (``/static/basemap.geojson``, Natural Earth, public domain), so neither page makes a request
anywhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from tessera.review.deps import User, render
from tessera.store import models as m
from tessera.timeline import events as ev
from tessera.timeline import places as pl
from tessera.timeline.resolve import UnknownFilter, account_id, group_id, item_sha256s

router = APIRouter()
PAGE = 100
Text = Annotated[str | None, Query(max_length=300)]


def _filters(ctx: Any, q: dict[str, Any]) -> tuple[ev.Filters, list[str]]:
    """Filters from the form; what cannot be read is reported, never silently widened."""
    s, errors = ctx.db, []
    f = ev.Filters(device=q.get("device") or None)
    try:
        if q.get("account"):
            f.account = account_id(s, q["account"])
        if q.get("group"):
            f.group = group_id(s, q["group"])
        if q.get("item"):
            f.sha256s = item_sha256s(s, q["item"])
    except UnknownFilter as exc:
        errors.append(str(exc))
    for name in ("since", "until"):
        if q.get(name):
            t = (ev.parse_until if name == "until" else ev.parse_time)(q[name])
            if t is None:
                errors.append(f"{name}: not an ISO date or date-time: {q[name]}")
            setattr(f, name, t)
    kinds = [k for k in q.get("kind") or [] if k in ev.KINDS]
    if kinds:
        f.kinds = frozenset(kinds)
    return f, errors


@router.get("/timeline")
def timeline_page(
    request: Request,
    ctx: User,
    account: Text = None,
    device: Text = None,
    item: Text = None,
    group: Text = None,
    since: Text = None,
    until: Text = None,
    kind: Annotated[list[str] | None, Query(max_length=20)] = None,
    after: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    q = {"account": account, "device": device, "item": item, "group": group, "since": since, "until": until}
    f, errors = _filters(ctx, {**q, "kind": kind})
    rows: list[dict[str, Any]] = []
    nxt = None
    if not errors:
        rows, cursor = ev.page(ctx.db, f, ev.Cursor.decode(after) if after else None, PAGE)
        nxt = cursor.encode() if cursor else None
    shas = {r["sha256"] for r in rows if r["sha256"]}
    # Only content the case holds has a thumbnail (a post whose file was not seized has none).
    stored = set(ctx.db.scalars(select(m.Media.sha256).where(m.Media.sha256.in_(shas)))) if shas else set()
    keep = [(k, v) for k, v in q.items() if v] + [("kind", k) for k in kind or []]
    devices = list(ctx.db.scalars(select(m.Device.id).order_by(m.Device.id)))
    groups = ctx.db.execute(
        select(m.Chat.id, func.coalesce(m.Chat.title, m.Chat.key))
        .where(m.Chat.kind != "private")
        .order_by(m.Chat.title)
    ).all()
    return render(
        request,
        "timeline.html",
        ctx,
        rows=rows,
        stored=stored,
        next_cursor=nxt,
        keep=keep,
        q=q,
        kinds=ev.KINDS,
        chosen=set(kind or []),
        devices=devices,
        groups=groups,
        errors=errors,
        first_page=not after,
    )


@router.get("/map")
def map_page(request: Request, ctx: User, device: Text = None, item: Text = None) -> Response:
    devices = list(ctx.db.scalars(select(m.Device.id).order_by(m.Device.id)))
    return render(request, "map.html", ctx, devices=devices, q={"device": device, "item": item})


@router.get("/api/places")
def places_api(ctx: User, device: Text = None, item: Text = None) -> dict[str, Any]:
    """Distinct capture positions with their picture counts (the map's dots)."""
    try:
        shas = item_sha256s(ctx.db, item) if item else None
    except UnknownFilter as exc:
        return {"points": [], "truncated": False, "error": str(exc)}
    points, truncated = pl.place_points(ctx.db, device=device or None, sha256s=shas)
    return {"points": points, "truncated": truncated}


@router.get("/api/places/at")
def place_pictures(ctx: User, lat: float, lon: float) -> dict[str, Any]:
    """The pictures taken at one position, each with its files and its blurred thumbnail."""
    pictures = pl.pictures_at(ctx.db, lat, lon)
    for p in pictures:
        p["thumb"] = f"/thumb/{p['sha256']}.jpg"
        p["href"] = f"/media/{p['sha256']}"
    return {"lat": lat, "lon": lon, "pictures": pictures}
