"""Agencies, API tokens (shown once, stored hashed, revocable, scoped) and per-token rate limits."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.hub import models as hm
from tessera.hub.db import AlreadyExists, HubError, UnknownName, agency_by_code

SCOPES = ("contribute", "query", "admin")
TOKEN_PREFIX = "tsh_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from a token on every request (so revocation takes effect at once)."""

    token_id: int
    agency_id: int
    agency: str
    scopes: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.agency}#t{self.token_id}"


def add_agency(s: Session, code: str, name: str) -> hm.Agency:
    code = code.strip()
    if not code or len(code) > 32 or not all(c.isalnum() or c in "-_" for c in code):
        raise HubError(f"agency code {code!r}: 1-32 letters, digits, '-' or '_'")
    if s.scalar(select(hm.Agency).where(hm.Agency.code == code)) is not None:
        raise AlreadyExists(f"agency {code!r} already exists")
    agency = hm.Agency(code=code, name=name)
    s.add(agency)
    s.flush()
    return agency


def create_token(
    s: Session, agency_code: str, scopes: list[str], label: str | None = None
) -> tuple[int, str]:
    """Create a token; returns (id, token). The token itself is stored nowhere: show it once."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise HubError(f"scopes must be some of {', '.join(SCOPES)} (got {', '.join(scopes) or 'none'})")
    agency = agency_by_code(s, agency_code)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = hm.Token(
        agency_id=agency.id,
        token_hash=hash_token(token),
        prefix=token[:12],
        scopes=" ".join(sorted(set(scopes))),
        label=label,
    )
    s.add(row)
    s.flush()
    return row.id, token


def revoke_token(s: Session, token_id: int) -> hm.Token:
    row = s.get(hm.Token, token_id)
    if row is None:
        raise UnknownName(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = hm.utcnow()
    return row


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def agency_view(agency: hm.Agency, active_tokens: int) -> dict[str, Any]:
    return {
        "id": agency.id,
        "code": agency.code,
        "name": agency.name,
        "created_at": _utc(agency.created_at),
        "active_tokens": active_tokens,
    }


def list_agencies(s: Session) -> list[dict[str, Any]]:
    """Every agency, with how many unrevoked tokens it holds."""
    live = (
        select(hm.Token.agency_id, func.count().label("n"))
        .where(hm.Token.revoked_at.is_(None))
        .group_by(hm.Token.agency_id)
        .subquery()
    )
    rows = s.execute(
        select(hm.Agency, live.c.n).outerjoin(live, live.c.agency_id == hm.Agency.id).order_by(hm.Agency.code)
    ).all()
    return [agency_view(a, n or 0) for a, n in rows]


def token_view(tok: hm.Token, agency_code: str) -> dict[str, Any]:
    """What may be shown about a token: never the token, nor its hash (only its first characters)."""
    return {
        "id": tok.id,
        "agency": agency_code,
        "prefix": tok.prefix,
        "scopes": tok.scopes.split(),
        "label": tok.label,
        "created_at": _utc(tok.created_at),
        "revoked_at": _utc(tok.revoked_at),
    }


def list_tokens(s: Session, agency_code: str | None = None, revoked: bool = True) -> list[dict[str, Any]]:
    """Tokens (of one agency), oldest first; ``revoked``: include revoked ones."""
    q = select(hm.Token, hm.Agency.code).join(hm.Agency, hm.Agency.id == hm.Token.agency_id)
    if agency_code is not None:
        q = q.where(hm.Token.agency_id == agency_by_code(s, agency_code).id)
    if not revoked:
        q = q.where(hm.Token.revoked_at.is_(None))
    return [token_view(tok, code) for tok, code in s.execute(q.order_by(hm.Token.id))]


def resolve(s: Session, token: str) -> Principal | None:
    """The principal of a live token, or None (unknown or revoked: the caller cannot tell which)."""
    row = s.execute(
        select(hm.Token, hm.Agency.code)
        .join(hm.Agency, hm.Agency.id == hm.Token.agency_id)
        .where(hm.Token.token_hash == hash_token(token))
    ).first()
    if row is None or row[0].revoked_at is not None:
        return None
    tok, code = row
    return Principal(tok.id, tok.agency_id, code, frozenset(tok.scopes.split()))


class RateLimiter:
    """A token bucket per key (an API token's id, or a client address for refused requests):
    ``rate`` requests a second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[int | str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    #: Keyed by client address too, so the table must not grow with every address an attacker owns.
    max_keys = 10_000

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: forget it.
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:  # all busy: drop the oldest half rather than grow
            for k, _ in sorted(self._buckets.items(), key=lambda kv: kv[1][1])[: len(self._buckets) // 2]:
                del self._buckets[k]

    def take(self, key: int | str) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one will."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
