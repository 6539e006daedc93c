"""The hub's read paths: pull pages (changes since a cursor), entry views, contributors, conflicts and
batch queries (exact digests, then PDQ through the in-memory index). Writers live in ``service``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS, exact_names
from tessera.hub import models as hm
from tessera.hub.auth import Principal
from tessera.hub.bulk import in_chunks
from tessera.hub.index import HubIndex
from tessera.hub.service import NotFound, Policy, contribution_view

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


#: Entries whose PDQ hashes are at most this far apart are near-duplicates of each other.
NEAR_DUPLICATE_RADIUS = ALGORITHMS.get("pdq").default_threshold


def get_entry(s: Session, who: Principal, sha256: str, policy: Policy, index: HubIndex) -> dict[str, Any]:
    e = s.scalar(select(hm.Entry).where(hm.Entry.sha256 == sha256.lower()))
    if e is None or e.withdrawn:
        raise NotFound(f"no entry {sha256.lower()}")
    own = s.scalar(
        select(hm.Contribution).where(
            hm.Contribution.entry_id == e.id, hm.Contribution.agency_id == who.agency_id
        )
    )
    view = entry_view(e) | {
        "own_contribution": contribution_view(own) if own else None,
        "near_duplicates": near_duplicates(s, index, e),
    }
    if may_see_contributors(who, policy):
        view["contributors"] = contributors(s, sha256)
    return view


def near_duplicates(s: Session, index: HubIndex, e: hm.Entry) -> list[dict[str, Any]]:
    """Active entries within ``NEAR_DUPLICATE_RADIUS`` of ``e``'s PDQ, nearest first, from the index.

    Asked of the in-memory index when the entry is viewed rather than stored as links when entries are
    pushed: the search is exact either way, and this way a push does not pay a 10M-entry search per
    item for an answer few entries are ever asked for. The index is brought up to date first, so
    entries other server processes committed are included.
    """
    if not e.pdq:
        return []
    index.refresh(s)
    hits = [(eid, dist) for _, eid, dist in index.search([e.pdq], NEAR_DUPLICATE_RADIUS) if eid != e.id]
    if not hits:
        return []
    sha_of: dict[int, str] = {}
    for part in in_chunks(sorted({eid for eid, _ in hits})):
        q = select(hm.Entry.id, hm.Entry.sha256).where(hm.Entry.id.in_(part), hm.Entry.withdrawn.is_(False))
        sha_of.update((eid, sha) for eid, sha in s.execute(q))
    return [{"sha256": sha_of[eid], "distance": dist} for eid, dist in hits if eid in sha_of]


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


_DIGESTS = exact_names()


def query(s: Session, index: HubIndex, hashes: dict[str, list[str]], radius: int) -> list[dict[str, Any]]:
    """Exact matches by digest and PDQ matches within ``radius``; one result per query hash.

    The PDQ search runs first, in memory, so that the entries behind all four kinds of hit come back
    in one statement (profiled: a round trip per algorithm was a third of a 100-hash query's time).
    """
    index.refresh(s, force=False)
    wanted = {alg: sorted({v.lower() for v in hashes.get(alg, [])}) for alg in _DIGESTS}
    pdqs = [v.lower() for v in hashes.get("pdq", [])]
    hits = index.search(pdqs, radius)
    terms: list[tuple[str, str | int]] = [(alg, v) for alg in _DIGESTS for v in wanted[alg]]
    terms += [("id", eid) for eid in sorted({eid for _, eid, _ in hits})]
    by_key: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for row in _entries(s, terms):
        view = {f: row[f] for f in ENTRY_FIELDS}
        for key in ("id", *_DIGESTS):
            by_key.setdefault((key, row[key]), []).append(view)
    results: list[dict[str, Any]] = []
    for alg in _DIGESTS:
        for v in (v.lower() for v in hashes.get(alg, [])):
            matches = [view | {"distance": 0} for view in by_key.get((alg, v), [])]
            results.append({"algorithm": alg, "value": v, "matches": matches})
    per_query: dict[int, list[dict[str, Any]]] = {}
    for qi, eid, dist in hits:
        for view in by_key.get(("id", eid), []):
            per_query.setdefault(qi, []).append(view | {"distance": dist})
    for qi, v in enumerate(pdqs):
        results.append({"algorithm": "pdq", "value": v, "matches": per_query.get(qi, [])})
    return results


def _entries(s: Session, terms: Sequence[tuple[str, str | int]]) -> Iterator[Any]:
    """Active entries having any of the (column, value) ``terms``: one statement per ``_IN`` terms."""
    columns = [hm.Entry.id, *(getattr(hm.Entry, f) for f in ENTRY_FIELDS)]
    seen: set[int] = set()
    for part in in_chunks(terms):
        by_column: dict[str, list[Any]] = {}
        for column, value in part:
            by_column.setdefault(column, []).append(value)
        where = or_(*(getattr(hm.Entry, c).in_(vals) for c, vals in by_column.items()))
        for row in s.execute(select(*columns).where(where, hm.Entry.withdrawn.is_(False))):
            if row.id not in seen:  # an entry can match terms in two chunks
                seen.add(row.id)
                yield row._mapping
