"""Series: sets of media a reviewer believes show one victim or one scene, named, with notes.

Members are media SHA-256s; each stands for its whole near-duplicate item (table ``item_member``) when
the series is read, so a series made before items were grouped covers every copy grouped later, and
regrouping never loses a member. Every change is audited in the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tessera.audit import append
from tessera.store import models as m
from tessera.store.models_items import ItemMember
from tessera.store.models_series import Series, SeriesMember

MAX_NAME = 200
MAX_NOTES = 8_000


def _clean(name: str, notes: str) -> tuple[str, str]:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"a series needs a name of 1 to {MAX_NAME} characters")
    if len(notes) > MAX_NOTES:
        raise ValueError(f"notes are limited to {MAX_NOTES:,} characters")
    return name, notes


def create(session: Session, user: str, name: str, notes: str = "") -> Series:
    name, notes = _clean(name, notes)
    if session.scalar(select(Series.id).where(Series.name == name)) is not None:
        raise ValueError(f"a series named {name!r} exists")
    row = Series(name=name, notes=notes, created_by=user)
    session.add(row)
    session.flush()
    append(session, user, "series-create", f"series:{row.id}", {"name": name, "notes": notes})
    return row


def update(session: Session, user: str, series: Series, name: str, notes: str) -> None:
    name, notes = _clean(name, notes)
    other = session.scalar(select(Series.id).where(Series.name == name, Series.id != series.id))
    if other is not None:
        raise ValueError(f"a series named {name!r} exists")
    before = {"name": series.name, "notes": series.notes}
    series.name, series.notes, series.updated_at = name, notes, datetime.now(UTC)
    append(
        session,
        user,
        "series-update",
        f"series:{series.id}",
        {"before": before, "name": name, "notes": notes},
    )


def add(session: Session, user: str, series: Series, sha256: str) -> bool:
    """Put a media in a series; False when it already was a member."""
    if session.get(m.Media, sha256) is None:
        raise LookupError(sha256)
    if session.get(SeriesMember, (series.id, sha256)) is not None:
        return False
    session.add(SeriesMember(series_id=series.id, sha256=sha256, added_by=user))
    item = session.scalar(select(ItemMember.item_id).where(ItemMember.sha256 == sha256))
    append(session, user, "series-add", f"series:{series.id}", {"sha256": sha256, "item": item})
    series.updated_at = datetime.now(UTC)
    session.flush()
    return True


def remove(session: Session, user: str, series: Series, sha256: str) -> bool:
    res = session.execute(
        delete(SeriesMember).where(SeriesMember.series_id == series.id, SeriesMember.sha256 == sha256)
    )
    gone = int(getattr(res, "rowcount", 0) or 0)
    if gone:
        append(session, user, "series-remove", f"series:{series.id}", {"sha256": sha256})
        series.updated_at = datetime.now(UTC)
    return bool(gone)


def _item_peers(session: Session, shas: Iterable[str]) -> dict[str, set[str]]:
    """sha256 -> every media of its item (itself alone where it has no item yet)."""
    shas = set(shas)
    out = {s: {s} for s in shas}
    rows = session.execute(
        select(ItemMember.sha256, ItemMember.item_id).where(ItemMember.sha256.in_(shas))
    ).all()
    items = {item for _s, item in rows}
    if not items:
        return out
    peers: dict[int, set[str]] = defaultdict(set)
    for sha, item in session.execute(
        select(ItemMember.sha256, ItemMember.item_id).where(ItemMember.item_id.in_(items))
    ):
        peers[item].add(sha)
    for sha, item in rows:
        out[sha] |= peers[item]
    return out


def series_map(session: Session) -> dict[str, list[str]]:
    """Media SHA-256 -> names of the series covering it (directly or through its item), sorted.
    Series are made by hand, so this is small; exports build it once."""
    members = session.execute(
        select(SeriesMember.sha256, Series.name).join(Series, Series.id == SeriesMember.series_id)
    ).all()
    peers = _item_peers(session, [s for s, _n in members])
    out: dict[str, set[str]] = defaultdict(set)
    for sha, name in members:
        for peer in peers[sha]:
            out[peer].add(name)
    return {sha: sorted(names) for sha, names in out.items()}


def vics_value(names: list[str] | None) -> str | None:
    """The VICS ``Series`` field is one string: several series are joined with "; "."""
    return "; ".join(names) if names else None


def of_media(session: Session, sha256: str) -> list[dict[str, Any]]:
    """The series covering one media, each saying whether through the media itself or its item."""
    peers = _item_peers(session, [sha256])[sha256]
    rows = session.execute(
        select(Series.id, Series.name, SeriesMember.sha256)
        .join(SeriesMember, SeriesMember.series_id == Series.id)
        .where(SeriesMember.sha256.in_(peers))
        .order_by(Series.name)
    ).all()
    found: dict[int, dict[str, Any]] = {}
    for sid, name, member in rows:
        entry = found.setdefault(sid, {"id": sid, "name": name, "direct": False, "via": []})
        if member == sha256:
            entry["direct"] = True
        else:
            entry["via"].append(member)
    return list(found.values())


def members(session: Session, series_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SeriesMember.sha256, SeriesMember.added_by, SeriesMember.added_at, m.Media.kind)
        .join(m.Media, m.Media.sha256 == SeriesMember.sha256)
        .where(SeriesMember.series_id == series_id)
        .order_by(SeriesMember.added_at, SeriesMember.sha256)
    ).all()
    peers = _item_peers(session, [r[0] for r in rows])
    return [
        {
            "sha256": r[0],
            "added_by": r[1],
            "added_at": r[2],
            "kind": r[3],
            "copies": sorted(peers[r[0]] - {r[0]}),
        }
        for r in rows
    ]
