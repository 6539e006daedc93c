"""The spread graph of one item: who posted which copy where, and from which earlier post it came.

Nodes are posts: one message as every seized device shows it (the same chat, sender, time and copy seen
on three phones is one post with three sightings, each naming its device and locator). Edges run
forward in time: a post comes from an earlier post of the item in a group its sender belongs to
(membership as stored and joined before that post, or their own earlier message there), ``basis =
"member"``; among several such posts (the latest 64 per group), the one whose copy is nearest by
PDQ (an app makes the new copy from the one received, so the nearest copy is the likeliest source),
then the latest. ``pdq_distance``
on the edge says how near (-1: no usable hash on one side). A post whose sender
was seen in none of the groups holding an earlier post hangs off the earliest sighting with ``basis =
"unexplained"`` rather than being guessed onto someone. The earliest post is marked ``first``.
Attributes are plain strings and numbers (lists joined with ``;``) so GraphML keeps them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.items.grouping import members_of
from tessera.items.posts import Evidence, Post, load_posts
from tessera.network.analysis import iso
from tessera.store import models as m
from tessera.store.models_items import Item

FORMATS = ("json", "graphml")
#: Earlier posts per group considered as a post's source (the latest ones; see build_spread).
CANDIDATES = 64
SPREAD_FORMAT = "tessera-spread"


def _memberships(session: Session) -> dict[str, dict[int, Any]]:
    """account key -> chat id -> joined_at (None: joined at an unknown time)."""
    out: dict[str, dict[int, Any]] = defaultdict(dict)
    for key, chat_id, joined in session.execute(
        select(m.Account.key, m.Membership.chat_id, m.Membership.joined_at).join(
            m.Account, m.Account.id == m.Membership.account_id
        )
    ):
        out[key][chat_id] = iso(joined)
    return out


def _could_see(other: dict[str, Any], post: dict[str, Any], joined: dict[int, Any], posted: set[int]) -> bool:
    """Whether the sender of ``post`` was where ``other`` was posted, before it was posted."""
    if other["time"] >= post["time"]:
        return False
    if other["chat_id"] in posted:
        return True
    if other["chat_id"] not in joined:
        return False
    since = joined[other["chat_id"]]
    return since is None or since <= other["time"]


def _bits(a: str | None, b: str | None) -> int:
    if not a or not b:
        return -1
    return (int(a, 16) ^ int(b, 16)).bit_count()


def build_spread(posts: list[Post], ev: Evidence, member: dict[str, dict[int, Any]]) -> nx.DiGraph:
    """The graph of one item's posts (given in time order)."""
    g: nx.DiGraph = nx.DiGraph()
    nodes: dict[tuple[Any, ...], str] = {}
    sightings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    order: list[str] = []
    for p in posts:
        ident = (p.chat_id, p.account, p.time, p.sha256)
        node = nodes.get(ident)
        if node is None:
            node = nodes[ident] = f"post:{p.id}"
            order.append(node)
            g.add_node(
                node,
                type="post",
                time=iso(p.time) or "",
                account=p.account or "",
                group=p.group,
                group_key=p.group_key,
                chat_id=p.chat_id,
                sha256=p.sha256,
                forwarded=p.forwarded,
            )
        sightings[node].append(ev.post(p))
    first = order[0] if order else None
    posted_in: dict[str, set[int]] = defaultdict(set)  # account -> groups holding its earlier posts
    # Earlier posts per group, as (position in time order, node): a sender's candidates are looked up
    # in their groups only, and only the latest CANDIDATES of each (bounded work on viral items).
    by_chat: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pos, node in enumerate(order):
        attrs = g.nodes[node]
        sight = sightings[node]
        attrs.update(
            first=node == first,
            via=sight[0]["via"] or "",
            linked_to=sight[0]["linked_to"] or "",
            distance=sight[0]["distance"] if sight[0]["distance"] is not None else -1,
            devices=";".join(sorted({s["device"] for s in sight})),
            sightings=";".join(f"{s['device']}:{s['locator']}:{s['link']}" for s in sight),
            messages=";".join(str(s["message"]) for s in sight),
            links=";".join(sorted({s["link"] for s in sight})),
        )
        acc = attrs["account"]
        joined = member.get(acc, {})

        chats = (joined.keys() | posted_in[acc]) & by_chat.keys()
        seen = [
            (i, e)
            for c in chats
            for i, e in by_chat[c][-CANDIDATES:]
            if _could_see(g.nodes[e], attrs, joined, posted_in[acc])
        ]
        pdq = ev.pdq.get(attrs["sha256"])
        near = {e: _bits(pdq, ev.pdq.get(g.nodes[e]["sha256"])) for _, e in seen}
        # Nearest copy first (unknown distances last), then the latest post.
        best = min(seen, key=lambda ie: (near[ie[1]] < 0, near[ie[1]], -ie[0]), default=None)
        src = best[1] if best is not None else None
        if src is not None:
            g.add_edge(
                src, node, type="forward", basis="member", group=g.nodes[src]["group"], pdq_distance=near[src]
            )
        elif first is not None and node != first:
            g.add_edge(
                first,
                node,
                type="forward",
                basis="unexplained",
                group=g.nodes[first]["group"],
                pdq_distance=_bits(ev.pdq.get(attrs["sha256"]), ev.pdq.get(g.nodes[first]["sha256"])),
            )
        by_chat[attrs["chat_id"]].append((pos, node))
        if acc:
            posted_in[acc].add(attrs["chat_id"])
    return g


def item_graph(session: Session, item_id: int) -> nx.DiGraph:
    posts = load_posts(session, item_id)
    g = build_spread(posts, Evidence(session, posts), _memberships(session))
    item = session.get(Item, item_id)
    g.graph.update(item=item_id, key=item.key if item else "", kind=item.kind if item else "")
    return g


def all_graphs(session: Session) -> Iterator[tuple[int, nx.DiGraph]]:
    """Every item's spread graph (one pass over the posts; for the report and the benchmark)."""
    posts = load_posts(session)
    ev = Evidence(session, posts)
    member = _memberships(session)
    per: dict[int, list[Post]] = defaultdict(list)
    for p in posts:
        if p.item is not None:
            per[p.item].append(p)
    for item_id in sorted(per):
        yield item_id, build_spread(per[item_id], ev, member)


def earliest(g: nx.DiGraph) -> dict[str, Any] | None:
    return next(({"node": n, **a} for n, a in g.nodes(data=True) if a.get("first")), None)


def as_json(session: Session, item_id: int, g: nx.DiGraph) -> dict[str, Any]:
    data = nx.node_link_data(g, edges="links")
    return {
        "format": SPREAD_FORMAT,
        "version": 1,
        "item": {
            "id": item_id,
            "key": g.graph.get("key"),
            "kind": g.graph.get("kind"),
            "members": members_of(session, item_id),
        },
        "earliest": earliest(g),
        "graph": data,
    }


def write(session: Session, item_id: int, fmt: str, out: Path | None) -> str:
    """The item's graph as JSON or GraphML: written to ``out``, or returned as text."""
    g = item_graph(session, item_id)
    if fmt == "json":
        text = json.dumps(as_json(session, item_id, g), indent=1, default=str)
    elif fmt == "graphml":
        h = g.copy()
        h.graph = {k: v for k, v in g.graph.items() if isinstance(v, (str, int, float, bool))}
        text = "\n".join(nx.generate_graphml(h))
    else:
        raise ValueError(f"unknown spread format {fmt!r} (use {', '.join(FORMATS)})")
    if out is not None:
        out.write_text(text, encoding="utf-8")
    return text
