"""The account/group network (Cytoscape.js, bundled), filtered by group, country or device."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from tessera.review.deps import User, render
from tessera.store import models as m

router = APIRouter()
#: A browser lays out a few thousand nodes comfortably; beyond that a filter is needed.
MAX_ACCOUNTS = 1500


@router.get("/network")
def network_page(request: Request, ctx: User) -> Response:
    s = ctx.db
    groups = s.execute(
        select(m.Chat.id, func.coalesce(m.Chat.title, m.Chat.key))
        .where(m.Chat.kind != "private")
        .order_by(m.Chat.title)
    ).all()
    countries = [c for c in s.scalars(select(m.Account.country).distinct().order_by(m.Account.country)) if c]
    devices = list(s.scalars(select(m.Device.id).order_by(m.Device.id)))
    return render(request, "network.html", ctx, groups=groups, countries=countries, devices=devices)


@router.get("/api/graph")
def graph(
    ctx: User, group: int | None = None, country: str | None = None, device: str | None = None
) -> dict[str, Any]:
    """Cytoscape elements: account and group nodes, membership edges (with the member's role) and
    posting edges weighted by message count."""
    s = ctx.db
    chat_q = select(m.Chat).where(m.Chat.kind != "private")
    if group:
        chat_q = chat_q.where(m.Chat.id == group)
    if device:
        chat_q = chat_q.where(
            m.Chat.id.in_(
                select(m.Sighting.entity_id).where(
                    m.Sighting.entity == "chat", m.Sighting.device_id == device
                )
            )
        )
    chats = {c.id: c for c in s.scalars(chat_q)}
    mem_q = select(m.Membership.account_id, m.Membership.chat_id, m.Membership.role).where(
        m.Membership.chat_id.in_(chats)
    )
    if country:
        mem_q = mem_q.join(m.Account, m.Account.id == m.Membership.account_id).where(
            m.Account.country == country
        )
    mems = s.execute(mem_q).all()
    acc_ids = sorted({a for a, _, _ in mems})[:MAX_ACCOUNTS]
    keep = set(acc_ids)
    accounts = (
        {a.id: a for a in s.scalars(select(m.Account).where(m.Account.id.in_(acc_ids)))} if acc_ids else {}
    )
    nodes: list[dict[str, Any]] = []
    used_chats = {c for a, c, _ in mems if a in keep} if country else set(chats)
    for cid in used_chats:
        c = chats[cid]
        nodes.append(
            {
                "data": {
                    "id": f"g{c.id}",
                    "label": c.title or c.key,
                    "type": "group",
                    "platform": c.platform,
                    "href": f"/network?group={c.id}",
                }
            }
        )
    for a in accounts.values():
        nodes.append(
            {
                "data": {
                    "id": f"a{a.id}",
                    "label": a.display_name or a.key,
                    "type": "account",
                    "country": a.country or "",
                    "href": f"/account/{a.id}",
                }
            }
        )
    edges: list[dict[str, Any]] = []
    for aid, cid, role in mems:
        if aid in keep:
            edges.append(
                {
                    "data": {
                        "id": f"m{aid}-{cid}",
                        "source": f"a{aid}",
                        "target": f"g{cid}",
                        "role": role or "member",
                    }
                }
            )
    if acc_ids and used_chats:
        posted = s.execute(
            select(m.Message.sender_id, m.Message.chat_id, func.count())
            .where(m.Message.chat_id.in_(used_chats), m.Message.sender_id.in_(acc_ids))
            .group_by(m.Message.sender_id, m.Message.chat_id)
        ).all()
        for sender, chat_id, n in posted:
            edges.append(
                {
                    "data": {
                        "id": f"p{sender}-{chat_id}",
                        "source": f"a{sender}",
                        "target": f"g{chat_id}",
                        "type": "posted",
                        "weight": int(n),
                    }
                }
            )
    return {"elements": nodes + edges, "truncated": len({a for a, _, _ in mems}) > MAX_ACCOUNTS}
