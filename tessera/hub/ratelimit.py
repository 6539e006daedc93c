"""The per-token rate limit as one budget across every hub process.

Each process kept its own token buckets, so a token reached N times ``--rate`` across N replicas (or
``--workers N``), and a flood spread over connections was limited N times less than configured. On
PostgreSQL (the only database several hub processes can share) the bucket is a row of
``hub_rate_bucket`` (:class:`tessera.hub.models_rate.RateBucket`): one ``INSERT ... ON CONFLICT DO
UPDATE`` per request refills it by the time since its last use on the database's clock, takes a token
when there is one, and says whether it did, so every replica draws on the same bucket. The row lock
serialises one token's requests for the length of that statement only; other tokens do not wait. The
commit is not waited for on disk (``synchronous_commit = off``): a bucket lost in a crash refills,
which is what an idle token's does.

A SQLite hub is one process: it keeps the in-memory :class:`tessera.hub.auth.RateLimiter`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tessera.hub.auth import RateLimiter


class Limiter(Protocol):
    def take(self, key: int) -> float: ...


# The refilled count, on the database's clock (one reading per statement). ON CONFLICT's SET reads the
# row as it was, so every expression below sees the same old values.
_REFILLED = "LEAST(:burst, b.tokens + :rate * EXTRACT(EPOCH FROM (statement_timestamp() - b.updated)))"
_TAKE = text(
    f"""
    INSERT INTO hub_rate_bucket AS b (token_id, tokens, updated, granted)
    VALUES (:key, :burst - 1, statement_timestamp(), true)
    ON CONFLICT (token_id) DO UPDATE SET
        granted = {_REFILLED} >= 1,
        tokens = {_REFILLED} - CASE WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END,
        updated = statement_timestamp()
    RETURNING granted, tokens
    """
)


class SharedRateLimiter:
    """A token bucket per API token, ``rate`` a second, bursts to ``burst``, kept in PostgreSQL."""

    def __init__(self, sessions: Callable[[], Session], rate: float, burst: int) -> None:
        self.sessions, self.rate, self.burst = sessions, rate, burst

    def take(self, key: int) -> float:
        """0 when the request may go ahead, else the seconds until the bucket holds a token."""
        with self.sessions() as s:
            s.execute(text("SET LOCAL synchronous_commit = off"))
            granted, tokens = s.execute(
                _TAKE, {"key": key, "rate": self.rate, "burst": float(self.burst)}
            ).one()
            s.commit()
        return 0.0 if granted else (1.0 - float(tokens)) / self.rate


def token_limiter(engine: Engine, sessions: Callable[[], Session], rate: float, burst: int) -> Limiter:
    """The per-token limiter for a hub on ``engine``: shared by every process on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        return SharedRateLimiter(sessions, rate, burst)
    return RateLimiter(rate, burst)
