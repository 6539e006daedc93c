"""Turning what a user types (an account key, a group title, an item id or a SHA-256) into filters."""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tessera.store import models as m
from tessera.store.models_items import ItemMember

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class UnknownFilter(ValueError):
    pass


def account_id(session: Session, value: str) -> int:
    """An account by id, key (E.164 or ``platform:id``) or phone."""
    v = value.strip()
    if v.isdigit() and session.get(m.Account, int(v)) is not None:
        return int(v)
    found = session.scalars(select(m.Account.id).where(or_(m.Account.key == v, m.Account.phone == v))).first()
    if found is None:
        raise UnknownFilter(f"no account {value!r} in this case")
    return found


def group_id(session: Session, value: str) -> int:
    """A group (chat) by id, key or exact title."""
    v = value.strip()
    if v.isdigit() and session.get(m.Chat, int(v)) is not None:
        return int(v)
    found = session.scalars(select(m.Chat.id).where(or_(m.Chat.key == v, m.Chat.title == v))).first()
    if found is None:
        raise UnknownFilter(f"no group {value!r} in this case")
    return found


def item_sha256s(session: Session, value: str) -> frozenset[str]:
    """The pictures of an item: by item id, or by a SHA-256 (its item's members where the picture was
    grouped into one, else that picture alone)."""
    v = value.strip().lower()
    if _SHA256.match(v):
        item = session.scalar(select(ItemMember.item_id).where(ItemMember.sha256 == v))
        if item is None:
            return frozenset([v])
        return frozenset(session.scalars(select(ItemMember.sha256).where(ItemMember.item_id == item)))
    if v.isdigit():
        members = frozenset(session.scalars(select(ItemMember.sha256).where(ItemMember.item_id == int(v))))
        if members:
            return members
    raise UnknownFilter(f"no item {value!r} in this case (give an item id or a SHA-256)")
