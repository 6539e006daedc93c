"""The operation as a graph (networkx): accounts, groups and media items, for Gephi and friends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.network.analysis import matched_sha256
from tessera.store import models as m

FORMATS = ("graphml", "gexf", "json")


def build_graph(session: Session, with_media: bool = True) -> nx.MultiDiGraph:
    """Nodes ``account:<key>``, ``group:<platform>:<key>``, ``media:<sha256>``; edges ``member``
    (account -> group), ``posted`` (account -> group, weight = messages) and ``shared`` (account ->
    media, with the group and first-post flag). Attributes are plain strings and numbers, so every
    exporter keeps them."""
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    accounts = {}
    for acc in session.scalars(select(m.Account)):
        node = f"account:{acc.key}"
        accounts[acc.id] = node
        g.add_node(
            node,
            type="account",
            label=acc.display_name or acc.key,
            platform=acc.platform,
            country=acc.country or "",
            phone=acc.phone or "",
        )
    chats = {}
    for chat in session.scalars(select(m.Chat)):
        node = f"group:{chat.platform}:{chat.key}"
        chats[chat.id] = node
        g.add_node(node, type="group", label=chat.title or chat.key, platform=chat.platform, kind=chat.kind)
    for mem in session.scalars(select(m.Membership)):
        g.add_edge(accounts[mem.account_id], chats[mem.chat_id], type="member", role=mem.role or "")
    posted: Any = session.execute(
        select(m.Message.sender_id, m.Message.chat_id, func.count())
        .where(m.Message.sender_id.is_not(None), m.Message.kind != "system")
        .group_by(m.Message.sender_id, m.Message.chat_id)
    )
    for sender, chat_id, n in posted:
        g.add_edge(accounts[sender], chats[chat_id], type="posted", weight=int(n))
    if with_media:
        known = matched_sha256(session)
        shared: Any = session.execute(
            select(m.Message.sender_id, m.Message.chat_id, m.Message.media_sha256, func.min(m.Message.time))
            .where(
                m.Message.sender_id.is_not(None),
                m.Message.media_sha256.is_not(None),
                m.Message.kind != "system",
            )
            .group_by(m.Message.sender_id, m.Message.chat_id, m.Message.media_sha256)
        )
        for sender, chat_id, sha, first in shared:
            node = f"media:{sha}"
            if node not in g:
                g.add_node(node, type="media", label=sha[:12], status="known" if sha in known else "new")
            g.add_edge(
                accounts[sender],
                node,
                type="shared",
                group=g.nodes[chats[chat_id]]["label"],
                time=first.isoformat() if first else "",
            )
    return g


def write_graph(g: nx.MultiDiGraph, fmt: str, out: Path) -> None:
    if fmt == "graphml":
        nx.write_graphml(g, out)
    elif fmt == "gexf":
        nx.write_gexf(g, out)
    elif fmt == "json":
        data = nx.node_link_data(g, edges="links")
        out.write_text(
            json.dumps({"format": "tessera-graph", "version": 1, **data}, indent=1), encoding="utf-8"
        )
    else:
        raise ValueError(f"unknown graph format {fmt!r} (use {', '.join(FORMATS)})")
