"""First posts, spread and timelines per near-duplicate item instead of per exact SHA-256.

A message belongs to the item of the medium its ``media_sha256`` names. Every post handed out keeps the
copy it carried (``sha256``), how that copy joined the item (``via``, ``linked_to``, ``distance``), and
how the message reaches the file (``link``): ``file`` when its own device holds a file with that hash,
``app-hash`` when the file is missing there and only the hash the app recorded names a file found on
another device (``file_elsewhere`` says where). Messages whose hash names no stored file anywhere have no
item: they are listed by exact SHA-256 (``item`` None), never guessed into one.
The exact-SHA analyses stay in ``tessera.network.analysis``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from tessera.network.analysis import iso, matched_sha256
from tessera.store import models as m
from tessera.store.models_items import Item, ItemMember


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    item: int | None
    sha256: str
    time: Any
    account: str | None
    chat_id: int
    group: str
    group_key: str
    device: str
    locator: str
    forwarded: bool


def _where_files(
    session: Session, shas: set[str] | None
) -> tuple[set[tuple[str, str]], dict[str, tuple[str, str]]]:
    """(device, sha) pairs with a stored file, and one (device, locator) per sha as the place it is."""
    q = select(m.File.device_id, m.File.sha256, m.File.locator).where(m.File.sha256.is_not(None))
    if shas is not None:
        q = q.where(m.File.sha256.in_(sorted(shas)))
    held: set[tuple[str, str]] = set()
    where: dict[str, tuple[str, str]] = {}
    rows: Any = session.execute(q.order_by(m.File.device_id, m.File.locator))
    for device, sha, locator in rows:
        held.add((device, sha))
        where.setdefault(sha, (device, locator))
    return held, where


def load_posts(session: Session, item_id: int | None = None) -> list[Post]:
    """Media posts in time order (of one item, or all), each with its item (None: no stored file)."""
    chat, acc = aliased(m.Chat), aliased(m.Account)
    q = (
        select(
            m.Message.id,
            ItemMember.item_id,
            m.Message.media_sha256,
            m.Message.time,
            acc.key,
            chat.id,
            chat.title,
            chat.key,
            m.Message.device_id,
            m.Message.locator,
            m.Message.forwarded,
        )
        .join(chat, chat.id == m.Message.chat_id)
        .outerjoin(acc, acc.id == m.Message.sender_id)
        .outerjoin(ItemMember, ItemMember.sha256 == m.Message.media_sha256)
        .where(m.Message.media_sha256.is_not(None), m.Message.kind != "system")
        .order_by(m.Message.time, m.Message.id)
    )
    if item_id is not None:
        q = q.where(ItemMember.item_id == item_id)
    out = []
    rows: Any = session.execute(q)
    for mid, item, sha, time, account, chat_id, title, key, device, locator, fwd in rows:
        out.append(
            Post(mid, item, sha, time, account, chat_id, title or key, key, device, locator, bool(fwd))
        )
    return out


class Evidence:
    """Per copy: how it joined its item; per message: whether its own device holds the file."""

    def __init__(self, session: Session, posts: list[Post]) -> None:
        shas = {p.sha256 for p in posts} if len(posts) < 5000 else None
        self.held, self.where = _where_files(session, shas)
        q = select(ItemMember.sha256, ItemMember.via, ItemMember.linked_to, ItemMember.distance)
        if shas is not None:
            q = q.where(ItemMember.sha256.in_(sorted(shas)))
        self.member = {s: (v, lt, d) for s, v, lt, d in session.execute(q)}
        pq = select(m.Media.sha256, m.Media.pdq).where(m.Media.pdq.is_not(None))
        if shas is not None:
            pq = pq.where(m.Media.sha256.in_(sorted(shas)))
        #: PDQ of each copy, to tell which earlier copy a forward was most likely made from
        found: Any = session.execute(pq)
        self.pdq: dict[str, str] = {s: p for s, p in found}

    def post(self, p: Post, first_id: int | None = None) -> dict[str, Any]:
        via, linked, dist = self.member.get(p.sha256, (None, None, None))
        if (p.device, p.sha256) in self.held:
            link, elsewhere = "file", None
        elif p.sha256 in self.where:
            dev, loc = self.where[p.sha256]
            link, elsewhere = "app-hash", f"{dev}:{loc}"
        else:
            link, elsewhere = "no-file", None
        return {
            "message": p.id,
            "item": p.item,
            "sha256": p.sha256,
            "via": via,
            "linked_to": linked,
            "distance": dist,
            "time": iso(p.time),
            "account": p.account,
            "group": p.group,
            "group_key": p.group_key,
            "device": p.device,
            "locator": p.locator,
            "forwarded": p.forwarded,
            "link": link,
            "file_elsewhere": elsewhere,
            "first": p.id == first_id,
        }


def item_key(p: Post) -> str:
    """Items by id; a hash with no stored file stands alone under its SHA-256."""
    return f"item:{p.item}" if p.item is not None else f"sha256:{p.sha256}"


def timeline(session: Session, item_id: int) -> list[dict[str, Any]]:
    """Every post of one item (all its copies) in time order; the earliest is marked ``first``."""
    posts = load_posts(session, item_id)
    ev = Evidence(session, posts)
    first = posts[0].id if posts else None
    return [ev.post(p, first) for p in posts]


def first_posts(session: Session) -> dict[str, dict[str, Any]]:
    """``item:<id>`` (or ``sha256:<hex>`` for a hash with no file) -> its earliest post anywhere."""
    posts = load_posts(session)
    ev = Evidence(session, posts)
    out: dict[str, dict[str, Any]] = {}
    for p in posts:  # time order: the first seen per item is the first post
        k = item_key(p)
        if k not in out:
            out[k] = ev.post(p, p.id)
    return out


def item_spread(session: Session) -> Iterator[dict[str, Any]]:
    """Per item: first post, posts, copies, groups, accounts and devices it reached, known or new
    (known when any of its copies matched a hash set)."""
    known = matched_sha256(session)
    posts = load_posts(session)
    ev = Evidence(session, posts)
    per: dict[str, list[Post]] = defaultdict(list)
    for p in posts:
        per[item_key(p)].append(p)
    kinds = dict(session.execute(select(Item.id, Item.kind)).all())
    for k in sorted(per):
        ps = per[k]
        copies = {p.sha256 for p in ps}
        yield {
            "item": ps[0].item,
            "key": k,
            "kind": kinds.get(ps[0].item) if ps[0].item is not None else None,
            "status": "known" if copies & known else "new",
            "posts": len(ps),
            "copies": len(copies),
            "groups": len({p.chat_id for p in ps}),
            "accounts": len({p.account for p in ps if p.account}),
            "devices": len({p.device for p in ps}),
            "first": ev.post(ps[0], ps[0].id),
        }


def known_by_item(session: Session, known: set[str]) -> set[str]:
    """Every copy of an item that has a copy in ``known`` (matched a hash set), plus ``known`` itself."""
    items = select(ItemMember.item_id).where(ItemMember.sha256.in_(sorted(known))).scalar_subquery()
    if not known:
        return set()
    return known | set(session.scalars(select(ItemMember.sha256).where(ItemMember.item_id.in_(items))))
