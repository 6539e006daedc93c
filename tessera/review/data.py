"""Read and write operations behind the pages: dashboard figures, the review queue, decisions.

Queries are shaped for a case of 100,000 media and 1,000,000 messages: aggregates the database can
answer from an index, pages by keyset-free LIMIT/OFFSET over an indexed order, and nothing that loads
every message into Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from tessera.audit import append
from tessera.messaging.inventory import inventory
from tessera.review import clusters
from tessera.store import models as m
from tessera.store.models_known import known_good_media
from tessera.store.queries import new_material_filter, unmatched_usable

CATEGORIES = {
    0: "non-pertinent",
    1: "CAM",
    2: "exploitive / age difficult",
    3: "CGI / animation",
    4: "comparison",
}
PROFILE = "vics-us"


# --- dashboard ------------------------------------------------------------------------------------


def _device_states(session: Session) -> dict[str, int]:
    """Per device, its latest ingest run decides: complete (with or without errors) or running."""
    latest: dict[str, m.IngestRun] = {}
    for r in session.scalars(select(m.IngestRun).order_by(m.IngestRun.id)):
        latest[r.device_id] = r
    states = {"processed": 0, "in progress": 0, "failed": 0, "not started": 0}
    for dev in session.scalars(select(m.Device.id)):
        run: m.IngestRun | None = latest.get(dev)
        if run is None:
            states["not started"] += 1
        elif run.status == "running":
            states["in progress"] += 1
        elif run.status != "complete" or run.errors:
            states["failed"] += 1  # finished, but some inputs could not be processed
        else:
            states["processed"] += 1
    return states


def dashboard(session: Session) -> dict[str, Any]:
    media_by_kind = dict(session.execute(select(m.Media.kind, func.count()).group_by(m.Media.kind)).all())
    hits = session.execute(
        select(m.Match.algorithm, m.HashEntry.category, func.count(func.distinct(m.Match.sha256)))
        .join(m.HashEntry, m.HashEntry.id == m.Match.entry_id)
        .group_by(m.Match.algorithm, m.HashEntry.category)
    ).all()
    by_alg: dict[str, int] = {}
    by_cat: dict[str, int] = {}
    for alg, cat, n in hits:
        by_alg[alg] = by_alg.get(alg, 0) + n
        key = "none" if cat is None else str(cat)
        by_cat[key] = by_cat.get(key, 0) + n
    suspects: dict[str, int] = dict(
        session.execute(select(m.Suspect.status, func.count()).group_by(m.Suspect.status)).all()
    )
    countries = dict(
        session.execute(
            select(func.coalesce(m.Suspect.jurisdiction, "??"), func.count()).group_by(m.Suspect.jurisdiction)
        ).all()
    )
    acc_countries = session.execute(
        select(func.coalesce(m.Account.country, "??"), func.count())
        .group_by(m.Account.country)
        .order_by(func.count().desc())
        .limit(15)
    ).all()
    members = select(m.Membership.chat_id, func.count().label("n")).group_by(m.Membership.chat_id).subquery()
    groups = session.execute(
        select(m.Chat.id, m.Chat.platform, func.coalesce(m.Chat.title, m.Chat.key), members.c.n)
        .outerjoin(members, members.c.chat_id == m.Chat.id)
        .where(m.Chat.kind != "private")
        .order_by(members.c.n.desc().nulls_last(), m.Chat.id)
        .limit(25)
    ).all()
    decided = session.scalar(select(func.count(func.distinct(m.Decision.sha256)))) or 0
    return {
        "devices": _device_states(session),
        "files": session.scalar(select(func.count()).select_from(m.File)) or 0,
        "media": sum(media_by_kind.values()),
        "media_by_kind": media_by_kind,
        "matched": session.scalar(select(func.count(func.distinct(m.Match.sha256)))) or 0,
        "hits_by_algorithm": dict(sorted(by_alg.items())),
        "hits_by_category": dict(sorted(by_cat.items())),
        "new_material": session.scalar(select(func.count()).select_from(m.Media).where(new_material_filter()))
        or 0,
        # Kept in the case, out of the queue and the counts above (NSRL, the local benign set).
        "known_good_excluded": session.scalar(
            select(func.count()).select_from(m.Media).where(known_good_media())
        )
        or 0,
        "decided": decided,
        "suspects_by_status": suspects,
        "suspects_by_country": dict(sorted(countries.items())),
        "accounts_by_country": dict(acc_countries),
        # Message totals come from the per-source counters: counting 1M message rows per page view is
        # exactly the work a dashboard must not do.
        "messages": session.scalar(select(func.coalesce(func.sum(m.MessagingSource.messages), 0))) or 0,
        "groups": [{"id": g[0], "platform": g[1], "title": g[2], "members": g[3] or 0} for g in groups],
        # Each known messaging app per device: parsed, or present and why not (messaging.inventory).
        "apps": inventory(session),
        "group_count": session.scalar(
            select(func.count()).select_from(m.Chat).where(m.Chat.kind != "private")
        )
        or 0,
    }


# --- review queue ---------------------------------------------------------------------------------


def _categorised_by_hashset() -> Any:
    # Uncorrelated IN (subquery): both databases build the set once instead of probing per media row.
    return m.Media.sha256.in_(
        select(m.Match.sha256)
        .join(m.HashEntry, m.HashEntry.id == m.Match.entry_id)
        .where(m.HashEntry.category.is_not(None))
    )


def queue_filter() -> Any:
    """Uncategorised: images and videos no reviewer decided, no hash set gave a category and no
    known-good set (NSRL, the local benign set) lists."""
    return and_(
        m.Media.kind.in_(("image", "video")),
        ~m.Media.sha256.in_(select(m.Decision.sha256)),
        ~_categorised_by_hashset(),
        ~known_good_media(),
    )


def review_page(session: Session, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the queue, new material first, then by first sighting."""
    # The queue holds no known-good media, so "new" needs no second known-good probe per row.
    is_new = case((unmatched_usable(), 0), else_=1)
    # The queue's size comes with the page (a window count over the same scan): a second count query
    # evaluated the whole filter, known-good probes included, once more per media row.
    q = (
        select(
            m.Media.sha256,
            m.Media.kind,
            m.Media.width,
            m.Media.height,
            is_new,
            m.Media.first_seen,
            func.count().over(),
        )
        .where(queue_filter())
        .order_by(is_new, m.Media.first_seen, m.Media.sha256)
        .limit(per_page)
        .offset(max(0, page - 1) * per_page)
    )
    rows = session.execute(q).all()
    if rows:
        total = int(rows[0][6])
    else:  # a page past the end: nothing to carry the count
        total = session.scalar(select(func.count()).select_from(m.Media).where(queue_filter())) or 0
    cl = cluster_map(session, [r[0] for r in rows])
    items = [
        {
            "sha256": r[0],
            "kind": r[1],
            "width": r[2],
            "height": r[3],
            "new": r[4] == 0,
            "cluster": cl.get(r[0], (r[0], 1))[0],
            "cluster_size": cl.get(r[0], (r[0], 1))[1],
            "category": None,
        }
        for r in rows
    ]
    return items, total


def cluster_map(session: Session, shas: list[str]) -> dict[str, tuple[str, int]]:
    """sha256 -> (cluster id, cluster size) for the given items."""
    from tessera.store.models_review import MediaCluster as C

    if not shas:
        return {}
    ids = dict(session.execute(select(C.sha256, C.cluster_id).where(C.sha256.in_(shas))).all())
    sizes = dict(
        session.execute(
            select(C.cluster_id, func.count())
            .where(C.cluster_id.in_(set(ids.values())))
            .group_by(C.cluster_id)
        ).all()
    )
    return {s: (cid, sizes.get(cid, 1)) for s, cid in ids.items()}


def current_category(session: Session, sha256: str) -> int | None:
    return session.scalar(
        select(m.Decision.category).where(m.Decision.sha256 == sha256).order_by(m.Decision.id.desc()).limit(1)
    )


def decide(session: Session, user: str, sha256: str, category: int, whole_cluster: bool) -> list[str]:
    """Record a category for one item or its whole cluster, each decision audited in this transaction."""
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {sorted(CATEGORIES)}")
    if session.get(m.Media, sha256) is None:
        raise LookupError(sha256)
    cluster_id = clusters.cluster_of(session, sha256)
    targets = clusters.members(session, cluster_id) if whole_cluster and cluster_id else [sha256]
    for sha in targets:
        session.add(
            m.Decision(
                sha256=sha,
                category=category,
                profile=PROFILE,
                user=user,
                cluster_id=cluster_id if whole_cluster else None,
            )
        )
        append(
            session,
            user,
            "decision",
            sha,
            {"category": category, "profile": PROFILE, "cluster": cluster_id if whole_cluster else None},
        )
    session.flush()
    return targets
