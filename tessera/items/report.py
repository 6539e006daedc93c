"""The report's spread section: every item that was posted, with its earliest sighting and its spread."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.items.grouping import update_items
from tessera.items.spread import all_graphs, earliest
from tessera.store import models as m
from tessera.store.models_items import Item


def spread_section(s: Session, device: str | None = None) -> list[dict[str, Any]] | None:
    """One row per posted item; None for a case with no media posts. Items are brought up to date in
    the report's own session (media that arrived since the last grouping join their items).

    For one device's report, the items posted in a chat that device holds, each with its whole spread
    across the case (where else it went is the point) and ``posts_on_device``."""
    if s.scalar(select(m.Message.id).where(m.Message.media_sha256.is_not(None)).limit(1)) is None:
        return None
    update_items(s)
    keys = {
        i: (k, kind, n) for i, k, kind, n in s.execute(select(Item.id, Item.key, Item.kind, Item.members))
    }
    rows = []
    for item_id, g in all_graphs(s):
        first = earliest(g) or {}
        nodes = [a for _, a in g.nodes(data=True)]
        on_device = sum(1 for a in nodes if device in a["devices"].split(";")) if device else None
        if device is not None and not on_device:
            continue
        key, kind, members = keys.get(item_id, ("", "", 0))
        rows.append(
            {
                "item": item_id,
                "key": key,
                "kind": kind,
                "members": members,
                "copies_posted": len({a["sha256"] for a in nodes}),
                "posts": len(nodes),
                "groups": len({a["group_key"] for a in nodes}),
                "accounts": len({a["account"] for a in nodes if a["account"]}),
                "devices": len({d for a in nodes for d in a["devices"].split(";") if d}),
                "posts_on_device": on_device,
                "forwards": sum(1 for *_, e in g.edges(data=True) if e["basis"] == "member"),
                "unexplained": sum(1 for *_, e in g.edges(data=True) if e["basis"] == "unexplained"),
                "app_hash_sightings": sum(a["sightings"].count(":app-hash") for a in nodes),
                "earliest": {
                    "time": first.get("time"),
                    "account": first.get("account"),
                    "group": first.get("group"),
                    "sha256": first.get("sha256"),
                    "sightings": first.get("sightings"),
                },
            }
        )
    # Widest spread first: what an investigator follows up first.
    return sorted(rows, key=lambda r: (-r["groups"], -r["posts"], r["item"]))
