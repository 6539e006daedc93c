"""Network tracing over stored messages: who posted an item first, where it spread, who bridges
groups, which accounts appear on several seized devices, and role indicators with their evidence.

Every result carries the message rows behind it (device + locator), so an investigator can check and
challenge it. Heavy lifting is done by the database (window functions and aggregates work the same on
SQLite and PostgreSQL); Python only assembles the answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from tessera.network.persons import account_persons
from tessera.store import models as m

#: How many evidence rows a listing shows per role; the counts are always complete.
EVIDENCE_LIMIT = 20


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Evidence:
    device: str
    locator: str
    time: str | None
    group: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "locator": self.locator, "time": self.time, "group": self.group}


def matched_sha256(session: Session) -> set[str]:
    """Media that matched a hash set (known material); everything else posted is treated as new."""
    return set(session.scalars(select(m.Match.sha256).distinct()))


def _post_query() -> Any:
    chat = aliased(m.Chat)
    acc = aliased(m.Account)
    return (
        select(
            m.Message.id,
            m.Message.media_sha256,
            m.Message.time,
            acc.key,
            acc.platform,
            chat.key,
            chat.title,
            m.Message.device_id,
            m.Message.locator,
            m.Message.forwarded,
        )
        .join(chat, chat.id == m.Message.chat_id)
        .outerjoin(acc, acc.id == m.Message.sender_id)
        .where(m.Message.media_sha256.is_not(None), m.Message.kind != "system")
    )


def _post(row: Any, first_id: int | None = None) -> dict[str, Any]:
    msg_id, sha, time, account, platform, chat_key, title, device, locator, forwarded = row
    return {
        "sha256": sha,
        "time": iso(time),
        "account": account,
        "platform": platform,
        "group": title or chat_key,
        "group_key": chat_key,
        "device": device,
        "locator": locator,
        "forwarded": bool(forwarded),
        "first": msg_id == first_id,
    }


def timeline(session: Session, sha256: str, by: str = "sha256") -> list[dict[str, Any]]:
    """Every post of one item in time order (the same post seen on several devices is listed once
    per device, each with its locator); the earliest is marked ``first``. ``by="item"``: every post of
    every copy in the file's near-duplicate item (``tessera.items.posts``), each naming its copy."""
    if by == "item":
        from tessera.items import grouping, posts

        item = grouping.item_of(session, sha256)
        return posts.timeline(session, item) if item is not None else []
    rows = session.execute(
        _post_query().where(m.Message.media_sha256 == sha256).order_by(m.Message.time, m.Message.id)
    ).all()
    first = rows[0][0] if rows else None
    return [_post(r, first) for r in rows]


def first_posts(session: Session, by: str = "sha256") -> dict[str, dict[str, Any]]:
    """sha256 -> the earliest post of it across all devices (ties broken by storage order).
    ``by="item"``: ``item:<id>`` -> the earliest post of any copy of the item (``tessera.items.posts``)."""
    if by == "item":
        from tessera.items import posts

        return posts.first_posts(session)
    ranked = (
        select(
            m.Message.id.label("id"),
            func.row_number()
            .over(partition_by=m.Message.media_sha256, order_by=(m.Message.time, m.Message.id))
            .label("rank"),
        )
        .where(m.Message.media_sha256.is_not(None), m.Message.kind != "system")
        .subquery()
    )
    q = _post_query().join(ranked, and_(ranked.c.id == m.Message.id, ranked.c.rank == 1))
    rows: Any = session.execute(q)
    return {row[1]: _post(row, row[0]) for row in rows}


def media_spread(session: Session, by: str = "sha256") -> Iterator[dict[str, Any]]:
    """Per item: first post, number of posts, groups, accounts and devices it reached, known or new.
    ``by="item"``: per near-duplicate item, all its copies together (``tessera.items.posts``)."""
    if by == "item":
        from tessera.items import posts

        yield from posts.item_spread(session)
        return
    known = matched_sha256(session)
    firsts = first_posts(session)
    q = (
        select(
            m.Message.media_sha256,
            func.count(),
            func.count(func.distinct(m.Message.chat_id)),
            func.count(func.distinct(m.Message.sender_id)),
            func.count(func.distinct(m.Message.device_id)),
        )
        .where(m.Message.media_sha256.is_not(None), m.Message.kind != "system")
        .group_by(m.Message.media_sha256)
        .order_by(m.Message.media_sha256)
    )
    rows: Any = session.execute(q)
    for sha, posts, groups, accounts, devices in rows:
        yield {
            "sha256": sha,
            "status": "known" if sha in known else "new",
            "posts": posts,
            "groups": groups,
            "accounts": accounts,
            "devices": devices,
            "first": firsts.get(sha),
        }


@dataclass
class AccountSummary:
    id: int
    account: str
    platform: str
    phone: str | None
    country: str | None
    names: list[str]
    groups: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    messages: int = 0
    media_posts: int = 0
    roles: list[str] = field(default_factory=list)
    #: role -> {"count": n, "evidence": [...]} explaining each role
    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)
    suspects: list[str] = field(default_factory=list)
    #: False: the number's digits are as written but fail today's numbering plan (never "corrected").
    phone_valid: bool | None = None
    #: The person this account is linked to across platforms (``phone:+34...``; see network.persons).
    person: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "platform": self.platform,
            "phone": self.phone,
            "phone_valid": self.phone_valid,
            "country": self.country,
            "names": self.names,
            "groups": self.groups,
            "devices": self.devices,
            "messages": self.messages,
            "media_posts": self.media_posts,
            "roles": self.roles,
            "indicators": self.indicators,
            "suspects": self.suspects,
            "person": self.person,
        }


def _group_names(session: Session) -> dict[int, str]:
    return {
        cid: title or key for cid, title, key in session.execute(select(m.Chat.id, m.Chat.title, m.Chat.key))
    }


def accounts(session: Session, by: str = "sha256") -> list[AccountSummary]:
    """Every account with its groups, devices, activity and role indicators, most active first.

    Roles (indicators, not verdicts; each with its count and the messages behind it):
    ``producer-candidate`` first posted new material (matching no hash set); ``distributor`` posted
    known material (matching a hash set) into groups; ``consumer`` is in groups but posted no media.
    ``by="item"``: first posts are of near-duplicate items (a recompressed copy posted later is not a
    first post) and a copy is known when any copy of its item matched a hash set.
    """
    groups = _group_names(session)
    out: dict[int, AccountSummary] = {}
    for acc in session.scalars(select(m.Account).order_by(m.Account.id)):
        out[acc.id] = AccountSummary(
            acc.id,
            acc.key,
            acc.platform,
            acc.phone,
            acc.country,
            list(acc.names or []),
            phone_valid=acc.phone_valid,
        )
    member_groups: dict[int, set[int]] = defaultdict(set)
    for chat_id, acc_id in session.execute(select(m.Membership.chat_id, m.Membership.account_id)):
        member_groups[acc_id].add(chat_id)
    for acc_id, device in session.execute(
        select(m.Sighting.entity_id, m.Sighting.device_id).where(m.Sighting.entity == "account").distinct()
    ):
        if acc_id in out:
            out[acc_id].devices.append(device)
    activity: Any = session.execute(
        select(m.Message.sender_id, func.count(), func.count(m.Message.media_sha256))
        .where(m.Message.sender_id.is_not(None), m.Message.kind != "system")
        .group_by(m.Message.sender_id)
    )
    for acc_id, n, media in activity:
        out[acc_id].messages, out[acc_id].media_posts = n, media
    posted_in: Any = session.execute(
        select(m.Message.sender_id, m.Message.chat_id).where(m.Message.sender_id.is_not(None)).distinct()
    )
    for acc_id, chat_id in posted_in:
        member_groups[acc_id].add(chat_id)
    for acc_id, chats in member_groups.items():
        if acc_id in out:
            out[acc_id].groups = sorted(groups.get(c, str(c)) for c in chats)
    for suspect_id, acc_id in session.execute(
        select(m.SuspectAccount.suspect_id, m.SuspectAccount.account_id)
    ):
        if acc_id in out:
            out[acc_id].suspects.append(suspect_id)
    for acc_id, person in account_persons(session).items():
        if acc_id in out:
            out[acc_id].person = person
    _roles(session, out, groups, by)
    for a in out.values():
        a.devices.sort()
    return sorted(out.values(), key=lambda a: (-a.media_posts, -a.messages, a.account))


def _add(summary: AccountSummary, role: str, ev: Evidence) -> None:
    ind = summary.indicators.setdefault(role, {"count": 0, "evidence": []})
    ind["count"] += 1
    if len(ind["evidence"]) < EVIDENCE_LIMIT:
        ind["evidence"].append(ev.as_dict())


def _roles(
    session: Session, out: dict[int, AccountSummary], groups: dict[int, str], by: str = "sha256"
) -> None:
    known = matched_sha256(session)
    if by == "item":
        from tessera.items.posts import known_by_item

        known = known_by_item(session, known)
    first_locators = {(p["device"], p["locator"]) for p in first_posts(session, by).values()}
    q = (
        select(
            m.Message.sender_id,
            m.Message.media_sha256,
            m.Message.device_id,
            m.Message.locator,
            m.Message.time,
            m.Message.chat_id,
        )
        .where(
            m.Message.media_sha256.is_not(None), m.Message.sender_id.is_not(None), m.Message.kind != "system"
        )
        .order_by(m.Message.time, m.Message.id)
        .execution_options(yield_per=5000)
    )
    rows: Any = session.execute(q)
    for acc_id, sha, device, locator, time, chat_id in rows:
        ev = Evidence(device, locator, iso(time), groups.get(chat_id))
        if sha in known:
            _add(out[acc_id], "distributor", ev)
        elif (device, locator) in first_locators:
            _add(out[acc_id], "producer-candidate", ev)
    for a in out.values():
        if a.media_posts == 0 and a.groups:
            a.indicators["consumer"] = {
                "count": len(a.groups),
                "evidence": [],
                "note": "in groups, posted no media",
            }
        a.roles = [r for r in ("producer-candidate", "distributor", "consumer") if r in a.indicators]


def bridges(session: Session) -> list[dict[str, Any]]:
    """Accounts that posted in two or more groups, with their first message in each as evidence."""
    groups = _group_names(session)
    # One pass: the first message of every (sender, chat) pair; senders with two or more pairs bridge.
    ranked = (
        select(
            m.Message.sender_id,
            m.Message.chat_id,
            m.Message.device_id,
            m.Message.locator,
            m.Message.time,
            func.row_number()
            .over(
                partition_by=(m.Message.sender_id, m.Message.chat_id), order_by=(m.Message.time, m.Message.id)
            )
            .label("rank"),
        )
        .where(m.Message.sender_id.is_not(None), m.Message.kind != "system")
        .subquery()
    )
    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows: Any = session.execute(select(ranked).where(ranked.c.rank == 1).order_by(ranked.c.time))
    for sender, chat_id, device, locator, time, _rank in rows:
        evidence[sender].append(Evidence(device, locator, iso(time), groups.get(chat_id)).as_dict())
    bridging = [a for a, ev in evidence.items() if len(ev) >= 2]
    if not bridging:
        return []
    found: Any = session.execute(select(m.Account.id, m.Account.key, m.Account.platform)).all()
    keys = {a: (k, p) for a, k, p in found}
    out = [
        {"account": keys[a][0], "platform": keys[a][1], "groups": len(evidence[a]), "evidence": evidence[a]}
        for a in bridging
    ]
    return sorted(out, key=lambda b: (-b["groups"], b["account"]))


def cross_device(session: Session, entity: str = "account") -> list[dict[str, Any]]:
    """Accounts (or chats) seen on two or more seized devices, with the devices. Two queries
    whatever the number of entities: the entities on several devices, then their devices."""
    model: Any = m.Account if entity == "account" else m.Chat
    title = model.key if entity == "account" else model.title
    several = (
        select(m.Sighting.entity_id)
        .where(m.Sighting.entity == entity)
        .group_by(m.Sighting.entity_id)
        .having(func.count(func.distinct(m.Sighting.device_id)) >= 2)
        .subquery()
    )
    found: dict[int, dict[str, Any]] = {}
    for ent_id, name, key, platform in session.execute(
        select(model.id, title, model.key, model.platform).join(several, several.c.entity_id == model.id)
    ):
        found[ent_id] = {entity: name or key, "platform": platform, "devices": [], "count": 0}
    pairs: Any = session.execute(
        select(m.Sighting.entity_id, m.Sighting.device_id)
        .join(several, several.c.entity_id == m.Sighting.entity_id)
        .where(m.Sighting.entity == entity)
        .distinct()
        .order_by(m.Sighting.entity_id, m.Sighting.device_id)
    )
    for ent_id, device in pairs:
        if ent_id in found:
            found[ent_id]["devices"].append(device)
    for row in found.values():
        row["count"] = len(row["devices"])
    return sorted(found.values(), key=lambda r: (-r["count"], r[entity]))


def groups(session: Session) -> list[dict[str, Any]]:
    """Every chat with members, messages, media items, devices and active period."""
    members = {
        k: v
        for k, v in session.execute(
            select(m.Membership.chat_id, func.count()).group_by(m.Membership.chat_id)
        ).all()
    }
    devices: dict[int, set[str]] = defaultdict(set)
    for chat_id, device in session.execute(
        select(m.Sighting.entity_id, m.Sighting.device_id).where(m.Sighting.entity == "chat").distinct()
    ):
        devices[chat_id].add(device)
    stats: Any = session.execute(
        select(
            m.Message.chat_id,
            func.count(),
            func.count(func.distinct(m.Message.media_sha256)),
            func.min(m.Message.time),
            func.max(m.Message.time),
        ).group_by(m.Message.chat_id)
    )
    per_chat = {row[0]: row[1:] for row in stats}
    out = []
    for chat in session.scalars(select(m.Chat).order_by(m.Chat.platform, m.Chat.key)):
        n, items, first, last = per_chat.get(chat.id, (0, 0, None, None))
        out.append(
            {
                "group": chat.title or chat.key,
                "key": chat.key,
                "platform": chat.platform,
                "kind": chat.kind,
                "members": members.get(chat.id, 0),
                "messages": n,
                "media_items": items,
                "devices": sorted(devices[chat.id]),
                "first_message": iso(first),
                "last_message": iso(last),
                "created": iso(chat.created_at),
            }
        )
    return out
