"""The spread view: one near-duplicate item, its copies (blurred thumbnails) and how it spread.

Server-rendered (table plus an SVG drawn here: one lane per group, posts top to bottom in time order,
arrows for inferred forwards), so the page needs no script and makes no request beyond this origin's
blurred thumbnail route.
"""

from __future__ import annotations

from typing import Annotated, Any

import networkx as nx
from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from tessera.items.grouping import item_of, members_of, update_items
from tessera.items.spread import earliest, item_graph
from tessera.review.deps import User, render
from tessera.store import models as m
from tessera.store.models_items import Item, ItemMember

router = APIRouter()
LANE, ROW, TOP = 170, 34, 40


def _ensure_items(ctx: Any) -> None:
    """Group media that arrived since the last grouping (incremental: only new media are searched)."""
    s = ctx.db
    media = s.scalar(select(func.count()).select_from(m.Media)) or 0
    grouped = s.scalar(select(func.count()).select_from(ItemMember)) or 0
    if media != grouped:
        update_items(s)
        s.commit()


def _layout(g: nx.DiGraph) -> dict[str, Any]:
    """Lanes (groups in order of first arrival) and positions for the SVG."""
    order = sorted(g.nodes, key=lambda n: (g.nodes[n]["time"], n))
    lanes: list[str] = []
    pos: dict[str, tuple[int, int]] = {}
    for i, n in enumerate(order):
        group = g.nodes[n]["group"]
        if group not in lanes:
            lanes.append(group)
        pos[n] = (lanes.index(group) * LANE + LANE // 2, TOP + i * ROW)
    edges = [
        {"x1": pos[a][0], "y1": pos[a][1], "x2": pos[b][0], "y2": pos[b][1], "basis": e["basis"]}
        for a, b, e in g.edges(data=True)
    ]
    return {
        "lanes": [{"name": name, "x": i * LANE + LANE // 2} for i, name in enumerate(lanes)],
        "dots": [{"node": n, "x": pos[n][0], "y": pos[n][1], **g.nodes[n]} for n in order],
        "edges": edges,
        "width": max(1, len(lanes)) * LANE,
        "height": TOP + max(1, len(order)) * ROW,
    }


@router.get("/spread/media/{sha256}")
def spread_of_media(ctx: User, sha256: str) -> Response:
    _ensure_items(ctx)
    item = item_of(ctx.db, sha256.lower())
    if item is None:
        raise HTTPException(404, "no such media")
    return RedirectResponse(f"/spread/{item}", status_code=303)


@router.get("/spread/{item_id}")
def spread_page(request: Request, ctx: User, item_id: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> Response:
    _ensure_items(ctx)
    s = ctx.db
    item = s.get(Item, item_id)
    if item is None:
        raise HTTPException(404, "no such item")
    g = item_graph(s, item_id)
    posts = sorted(g.nodes(data=True), key=lambda na: (na[1]["time"], na[0]))
    edges = [{"src": a, "dst": b, **e} for a, b, e in g.edges(data=True)]
    return render(
        request,
        "spread.html",
        ctx,
        item=item,
        members=members_of(s, item_id),
        posts=posts,
        edges=edges,
        first=earliest(g),
        svg=_layout(g),
    )
