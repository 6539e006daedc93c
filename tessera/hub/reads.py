"""The hub's read paths: pull pages (changes since a cursor), entry views, contributors, conflicts and
batch queries (exact digests, then PDQ through the in-memory index). Writers live in ``service``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.hub import models as hm
from tessera.hub.auth import Principal
from tessera.hub.index import HubIndex
from tessera.hub.service import NotFound, Policy, contribution_view, in_chunks

ENTRY_FIELDS = (
    "sha256",
    "md5",
    "sha1",
    "pdq",
    "pdq_quality",
    "category",
    "profile",
    "series",
    "victim_identified",
    "conflict",
    "first_seen",
)


def entry_view(e: hm.Entry) -> dict[str, Any]:
    return {f: getattr(e, f) for f in ENTRY_FIELDS}


def changes(s: Session, since: int, limit: int) -> dict[str, Any]:
    """Entries changed after ``since``, oldest change first; ``cursor`` is where the next call starts."""
    rows = list(
        s.scalars(select(hm.Entry).where(hm.Entry.seq > since).order_by(hm.Entry.seq).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "entries": [entry_view(e) | {"withdrawn": e.withdrawn, "seq": e.seq} for e in rows],
        "cursor": rows[-1].seq if rows else since,
        "more": more,
    }


def get_entry(s: Session, who: Principal, sha256: str, policy: Policy) -> dict[str, Any]:
    e = s.scalar(select(hm.Entry).where(hm.Entry.sha256 == sha256.lower()))
    if e is None or e.withdrawn:
        raise NotFound(f"no entry {sha256.lower()}")
    own = s.scalar(
        select(hm.Contribution).where(
            hm.Contribution.entry_id == e.id, hm.Contribution.agency_id == who.agency_id
        )
    )
    links = s.execute(
        select(hm.Entry.sha256, hm.PdqLink.distance)
        .join(hm.PdqLink, (hm.PdqLink.entry_a == hm.Entry.id) | (hm.PdqLink.entry_b == hm.Entry.id))
        .where((hm.PdqLink.entry_a == e.id) | (hm.PdqLink.entry_b == e.id), hm.Entry.id != e.id)
        .where(hm.Entry.withdrawn.is_(False))
    ).all()
    view = entry_view(e) | {
        "own_contribution": contribution_view(own) if own else None,
        "near_duplicates": [{"sha256": sha, "distance": d} for sha, d in links],
    }
    if may_see_contributors(who, policy):
        view["contributors"] = contributors(s, sha256)
    return view


def may_see_contributors(who: Principal, policy: Policy) -> bool:
    return policy.share_contributors or "admin" in who.scopes


def contributors(s: Session, sha256: str) -> list[dict[str, Any]]:
    rows = s.execute(
        select(hm.Agency.code, hm.Contribution)
        .join(hm.Contribution, hm.Contribution.agency_id == hm.Agency.id)
        .join(hm.Entry, hm.Entry.id == hm.Contribution.entry_id)
        .where(hm.Entry.sha256 == sha256.lower())
        .order_by(hm.Contribution.id)
    ).all()
    if not rows:
        raise NotFound(f"no entry {sha256.lower()}")
    return [{"agency": code} | contribution_view(c) for code, c in rows]


def conflicts(s: Session, limit: int = 1000) -> list[dict[str, Any]]:
    entries = s.scalars(
        select(hm.Entry)
        .where(hm.Entry.conflict.is_(True), hm.Entry.withdrawn.is_(False))
        .order_by(hm.Entry.id)
        .limit(limit)
    )
    return [entry_view(e) | {"contributors": contributors(s, e.sha256)} for e in entries]


def query(s: Session, index: HubIndex, hashes: dict[str, list[str]], radius: int) -> list[dict[str, Any]]:
    """Exact matches by digest and PDQ matches within ``radius``; one result per query hash."""
    index.refresh(s, force=False)
    results: list[dict[str, Any]] = []
    columns = {"md5": hm.Entry.md5, "sha1": hm.Entry.sha1, "sha256": hm.Entry.sha256}
    for alg, column in columns.items():
        values = [v.lower() for v in hashes.get(alg, [])]
        found: dict[str, list[hm.Entry]] = {}
        for part in in_chunks(sorted(set(values))):
            for e in s.scalars(select(hm.Entry).where(column.in_(part), hm.Entry.withdrawn.is_(False))):
                found.setdefault(getattr(e, alg), []).append(e)
        for v in values:
            results.append(
                {
                    "algorithm": alg,
                    "value": v,
                    "matches": [entry_view(e) | {"distance": 0} for e in found.get(v, [])],
                }
            )
    pdqs = [v.lower() for v in hashes.get("pdq", [])]
    hits = index.search(pdqs, radius)
    wanted = sorted({eid for _, eid, _ in hits})
    entries: dict[int, hm.Entry] = {}
    for part in in_chunks(wanted):
        for e in s.scalars(select(hm.Entry).where(hm.Entry.id.in_(part), hm.Entry.withdrawn.is_(False))):
            entries[e.id] = e
    per_query: dict[int, list[dict[str, Any]]] = {}
    for qi, eid, dist in hits:
        if eid in entries:
            per_query.setdefault(qi, []).append(entry_view(entries[eid]) | {"distance": dist})
    for qi, v in enumerate(pdqs):
        results.append({"algorithm": "pdq", "value": v, "matches": per_query.get(qi, [])})
    return results
