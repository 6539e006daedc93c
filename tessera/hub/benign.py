"""The known-benign list shared through the hub (issue 15): push a case's local benign set, pull the
hub's list into a case as a known-good set.

API (tokens as for entries): ``POST /v1/benign`` ``{"sha256": [...]}`` (contribute) marks values
benign for the caller's agency, idempotently; ``DELETE /v1/benign/{sha256}`` (contribute) withdraws the
agency's mark; ``GET /v1/benign/changes?since=N&limit=M`` (query) lists changes after cursor ``N``:
``{"entries": [{"sha256", "seq", "withdrawn"}], "cursor", "more"}``. A pull lands in the case set
``hub-benign:HOST`` (known-good, format ``hub-benign``); a withdrawn value leaves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import Field
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from tessera.hub.auth import Principal
from tessera.hub.client import HubClient
from tessera.hub.models import utcnow
from tessera.hub.models_benign import BenignContribution, BenignEntry
from tessera.hub.schemas import Strict
from tessera.hub.service import lock_seq
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_known import KNOWN_GOOD, KnownHash

#: Most values one push may carry (a client sends larger lists in several requests).
MAX_PUSH = 10_000
SET_PREFIX = "hub-benign:"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BenignPush(Strict):
    sha256: list[str] = Field(min_length=1, max_length=MAX_PUSH)


def mark(s: Session, who: Principal, values: list[str]) -> dict[str, int]:
    """Mark values benign for the caller's agency; returns how many were new to the list."""
    for n, v in enumerate(values):
        if not _SHA256.fullmatch(v.lower()):
            raise ValueError(f"sha256[{n}] is not a SHA-256 (64 hex digits)")  # the value is not echoed
    shas = sorted({v.lower() for v in values})
    counter = lock_seq(s)
    new = changed = 0
    for sha in shas:
        entry = s.get(BenignEntry, sha)
        if entry is None:
            entry = BenignEntry(sha256=sha, contributions=0, withdrawn=True, seq=0)
            s.add(entry)
            s.flush()
            new += 1
        own = s.get(BenignContribution, (sha, who.agency_id))
        if own is not None and not own.withdrawn:
            continue
        if own is None:
            s.add(BenignContribution(sha256=sha, agency_id=who.agency_id, withdrawn=False))
        else:
            own.withdrawn, own.updated_at = False, utcnow()
        changed += 1
        _bump(s, counter, entry)
    return {"received": len(shas), "new": new, "changed": changed}


def withdraw(s: Session, who: Principal, sha256: str) -> bool:
    own = s.get(BenignContribution, (sha256.lower(), who.agency_id))
    if own is None or own.withdrawn:
        return False
    own.withdrawn, own.updated_at = True, utcnow()
    s.flush()
    _bump(s, lock_seq(s), s.get_one(BenignEntry, own.sha256))
    return True


def _bump(s: Session, counter: Any, entry: BenignEntry) -> None:
    s.flush()
    active = s.scalar(
        select(func.count())
        .select_from(BenignContribution)
        .where(BenignContribution.sha256 == entry.sha256, BenignContribution.withdrawn.is_(False))
    )
    counter.value += 1
    entry.contributions = int(active or 0)
    entry.withdrawn = entry.contributions == 0
    entry.seq = counter.value
    entry.updated_at = utcnow()


def changes(s: Session, since: int, limit: int) -> dict[str, Any]:
    rows = list(
        s.scalars(
            select(BenignEntry).where(BenignEntry.seq > since).order_by(BenignEntry.seq).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "entries": [{"sha256": e.sha256, "seq": e.seq, "withdrawn": e.withdrawn} for e in rows],
        "cursor": rows[-1].seq if rows else since,
        "more": more,
    }


def benign_router(
    sessions: sessionmaker[Session], contribute: Callable[..., Principal], querying: Callable[..., Principal]
) -> APIRouter:
    api = APIRouter(prefix="/v1/benign", tags=["known-benign list"])

    @api.post("")
    def push_route(
        body: BenignPush, request: Request, who: Principal = Depends(contribute)
    ) -> dict[str, int]:
        """Mark SHA-256 values benign for your agency (idempotent)."""
        request.state.audit.update(items=len(body.sha256))
        with sessions() as s:
            try:
                result = mark(s, who, body.sha256)
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from None
            s.commit()
        return result

    @api.delete("/{sha256}", status_code=204)
    def withdraw_route(sha256: str, who: Principal = Depends(contribute)) -> None:
        """Withdraw your agency's mark; the value leaves the list when no agency marks it."""
        with sessions() as s:
            if not withdraw(s, who, sha256):
                raise HTTPException(404, f"your agency has not marked {sha256[:64]!r} benign")
            s.commit()

    @api.get("/changes")
    def changes_route(
        since: int = Query(0, ge=0, le=2**63 - 1),  # the cursor is a BIGINT
        limit: int = Query(1000, ge=1, le=MAX_PUSH),
        who: Principal = Depends(querying),
    ) -> dict[str, Any]:
        """The list's changes after cursor ``since``, oldest first."""
        with sessions() as s:
            return changes(s, since, limit)

    return api


# --- the case side --------------------------------------------------------------------------------


def local_benign(case: CaseHandle) -> Iterator[str]:
    """The case's own known-benign values (the set ``local-benign``), never ones pulled from a hub."""
    from tessera.ingest.known import BENIGN_SET

    with case.session() as s:
        q = (
            select(KnownHash.digest)
            .join(m.HashSet, m.HashSet.id == KnownHash.hashset_id)
            .where(m.HashSet.name == BENIGN_SET)
            .order_by(KnownHash.digest)
        )
        for digest in s.scalars(q.execution_options(yield_per=5000)):
            yield digest.hex()


def push_benign(case: CaseHandle, client: HubClient) -> dict[str, int]:
    total = {"received": 0, "new": 0, "changed": 0}
    batch: list[str] = []
    for sha in [*local_benign(case), None]:
        if sha is not None:
            batch.append(sha)
        if batch and (sha is None or len(batch) >= MAX_PUSH):
            got = client.request("POST", "/v1/benign", json={"sha256": batch})
            total = {k: total[k] + int(got.get(k, 0)) for k in total}
            batch = []
    return total


@dataclass
class BenignPull:
    hashset: str
    added: int
    removed: int
    cursor: int
    entries: int


def pull_benign(case: CaseHandle, client: HubClient, limit: int = 1000) -> BenignPull:
    """Every change since the stored cursor into the case's ``hub-benign:HOST`` known-good set; each
    page commits with its cursor, so an interrupted pull resumes."""
    from urllib.parse import urlsplit

    parts = urlsplit(client.url)
    name = SET_PREFIX + (parts.netloc or parts.path).lower()
    with case.session() as s:
        hs = s.scalar(select(m.HashSet).where(m.HashSet.name == name))
        if hs is None:
            hs = m.HashSet(
                name=name,
                format="hub-benign",
                profile="hub",
                meta={"disposition": KNOWN_GOOD, "key": "sha256", "hub_url": client.url, "cursor": 0},
            )
            s.add(hs)
            s.commit()
        set_id, cursor = hs.id, int(hs.meta.get("cursor", 0))
    added = removed = 0
    while True:
        page = client.request("GET", "/v1/benign/changes", params={"since": cursor, "limit": limit})
        with case.session() as s:
            hs = s.get_one(m.HashSet, set_id)
            for e in page["entries"]:
                digest = bytes.fromhex(e["sha256"])
                s.execute(delete(KnownHash).where(KnownHash.hashset_id == set_id, KnownHash.digest == digest))
                if e["withdrawn"]:
                    removed += 1
                else:
                    s.add(KnownHash(digest=digest, hashset_id=set_id, rows=1))
                    added += 1
            cursor = int(page["cursor"])
            s.flush()
            count = s.scalar(
                select(func.count()).select_from(KnownHash).where(KnownHash.hashset_id == set_id)
            )
            hs.entry_count = int(count or 0)
            hs.meta = {**hs.meta, "cursor": cursor}
            s.commit()
            entries = hs.entry_count
        if not page["more"]:
            return BenignPull(name, added, removed, cursor, entries)
