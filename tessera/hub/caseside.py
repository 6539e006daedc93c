"""The case side of the hub: what a push sends, and how a pull lands in a case hash set.

A push sends, per media item the case has categorised (a Decision) or matched (a Match): digests,
PDQ and its quality, category and profile, series, victim-identified flag and first-seen date. Only
these keys are built here, and the hub refuses any other (schemas.PushItem forbids extra fields).
Matches against hub-pulled sets are not a reason to push: that would return the hub's own
knowledge to it as if this agency had established it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import hex_names
from tessera.hub.client import HubClient
from tessera.ingest.matcher import CaseMatcher, case_default_threshold
from tessera.store import models as m
from tessera.store.case import CaseHandle

log = logging.getLogger(__name__)

_CHUNK = 1000
HUB_PREFIX = "hub:"
#: The hashes a hub entry carries: the hex algorithms of hash-set files.
ALGORITHMS = hex_names()


def hub_set_name(url: str) -> str:
    parts = urlsplit(url)
    return HUB_PREFIX + (parts.netloc or parts.path).lower()


def contributions(case: CaseHandle) -> Iterator[dict[str, Any]]:
    """Push items for the case's categorised or matched media, in SHA-256 order."""
    with case.session() as s:
        decided: dict[str, tuple[int | None, str]] = {}
        for sha, cat, profile in s.execute(
            select(m.Decision.sha256, m.Decision.category, m.Decision.profile).order_by(m.Decision.id)
        ):
            decided[sha] = (cat, profile)  # the latest decision counts
        matched: dict[str, dict[str, Any]] = {}
        q = (
            select(
                m.Match.sha256,
                m.HashEntry.category,
                m.HashEntry.series,
                m.HashEntry.victim_identified,
                m.HashSet.profile,
            )
            .join(m.HashEntry, m.HashEntry.id == m.Match.entry_id)
            .join(m.HashSet, m.HashSet.id == m.Match.hashset_id)
            .where(m.HashSet.name.not_like(HUB_PREFIX + "%"))
            .order_by(m.Match.sha256, m.Match.distance, m.Match.id)
        )
        for sha, cat, series, victim, profile in s.execute(q):
            info = matched.setdefault(sha, {})
            # Closest match first: fill each field from the closest entry that has it.
            if cat is not None and "category" not in info:
                info["category"], info["profile"] = cat, profile
            if series and "series" not in info:
                info["series"] = series
            if victim is not None and "victim_identified" not in info:
                info["victim_identified"] = victim
        shas = sorted(set(decided) | set(matched))
        for start in range(0, len(shas), _CHUNK):
            part = shas[start : start + _CHUNK]
            for media in s.scalars(select(m.Media).where(m.Media.sha256.in_(part)).order_by(m.Media.sha256)):
                info = matched.get(media.sha256, {})
                item: dict[str, Any] = {
                    "sha256": media.sha256,
                    "md5": media.md5,
                    "sha1": media.sha1,
                    "pdq": media.pdq,
                    "pdq_quality": media.pdq_quality,
                    "category": info.get("category"),
                    "profile": info.get("profile"),
                    "series": info.get("series"),
                    "victim_identified": info.get("victim_identified"),
                    "first_seen": media.first_seen.date().isoformat() if media.first_seen else None,
                }
                if media.sha256 in decided:  # a reviewer's category overrides what a hash set said
                    item["category"], item["profile"] = decided[media.sha256]
                yield item


@dataclass
class PullResult:
    hashset: str
    received: int
    removed: int
    cursor: int
    entries: int
    hits: int


def _ensure_set(s: Session, name: str, url: str) -> m.HashSet:
    hs = s.scalar(select(m.HashSet).where(m.HashSet.name == name))
    if hs is None:
        hs = m.HashSet(
            name=name, format="hub", profile="hub", source_file=None, meta={"hub_url": url, "cursor": 0}
        )
        s.add(hs)
        s.flush()
    return hs


def apply_page(s: Session, hs: m.HashSet, entries: list[dict[str, Any]], cursor: int) -> tuple[int, int]:
    """Replace the page's entries in the set and move the cursor, in the caller's transaction."""
    removed = 0
    for alg in ALGORITHMS:
        values = [e[alg] for e in entries if e.get(alg)]
        keys = [HUB_PREFIX + e["sha256"] for e in entries if e.get(alg)]
        for start in range(0, len(values), _CHUNK):
            # Digests of a hub entry never change, so the (algorithm, value) index finds the old rows.
            s.execute(
                delete(m.HashEntry).where(
                    m.HashEntry.hashset_id == hs.id,
                    m.HashEntry.algorithm == alg,
                    m.HashEntry.value.in_(values[start : start + _CHUNK]),
                    m.HashEntry.media_key.in_(keys[start : start + _CHUNK]),
                )
            )
    rows: list[dict[str, Any]] = []
    for e in entries:
        if e.get("withdrawn"):
            removed += 1
            continue
        extra = {"hub_seq": e["seq"], "conflict": e.get("conflict", False)}
        if e.get("profile"):
            extra["profile"] = e["profile"]
        for alg in ALGORITHMS:
            if e.get(alg):
                rows.append(
                    {
                        "hashset_id": hs.id,
                        "algorithm": alg,
                        "value": e[alg],
                        "category": e.get("category"),
                        "series": e.get("series"),
                        "victim_identified": e.get("victim_identified"),
                        "media_key": HUB_PREFIX + e["sha256"],
                        "extra": extra,
                    }
                )
    for start in range(0, len(rows), 5000):
        s.execute(insert(m.HashEntry), rows[start : start + 5000])
    hs.meta = {**hs.meta, "cursor": cursor}  # a new dict: JSON columns only save on reassignment
    return len(entries) - removed, removed


def pull(
    case: CaseHandle,
    client: HubClient,
    limit: int = 1000,
    on_page: Callable[[int, int], None] | None = None,
) -> PullResult:
    """Fetch every change since the stored cursor; each page commits with its cursor, so an
    interrupted pull resumes where the last committed page ended."""
    name = hub_set_name(client.url)
    with case.session() as s:
        hs = _ensure_set(s, name, client.url)
        s.commit()
        cursor = int(hs.meta.get("cursor", 0))
    received = removed = 0
    while True:
        page = client.changes(cursor, limit)
        with case.session() as s:
            hs = s.get_one(m.HashSet, hs.id)
            got, gone = apply_page(s, hs, page["entries"], int(page["cursor"]))
            s.commit()
        received, removed, cursor = received + got, removed + gone, int(page["cursor"])
        log.debug("pulled a page into %s: %d entries, %d withdrawn, cursor %d", name, got, gone, cursor)
        if on_page:
            on_page(received, cursor)
        if not page["more"]:
            break
    with case.session() as s:
        hs = s.get_one(m.HashSet, hs.id)
        hs.entry_count = (
            s.scalar(
                select(func.count(func.distinct(m.HashEntry.media_key))).where(
                    m.HashEntry.hashset_id == hs.id
                )
            )
            or 0
        )
        matcher = CaseMatcher(case_default_threshold(s)).load(s, hashset_id=hs.id)
        hits = matcher.match_case_media(s, hs.id)
        s.commit()
        total = hs.entry_count
    log.info("pull into %s: %d received, %d withdrawn, %d hits", name, received, removed, hits)
    return PullResult(name, received, removed, cursor, total, hits)
