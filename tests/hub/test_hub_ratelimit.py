"""The per-token rate limit is one budget across hub processes (issue 16 part 4's replicas).

Each process kept its own buckets, so with N replicas (or ``--workers N``) a token got N times its
rate and burst. On PostgreSQL the bucket is a database row; here two apps with engines of their own
(two replicas) on one database take turns answering one token."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tessera.hub import models as hm
from tessera.hub.auth import RateLimiter
from tessera.hub.db import open_hub, sessions
from tessera.hub.models_rate import RateBucket
from tessera.hub.ratelimit import SharedRateLimiter
from tessera.hub.service import Policy

from .conftest import Hub, auth, make_client


def test_two_replicas_share_one_tokens_burst(hub: Hub) -> None:
    policy = Policy(rate=0.2, burst=4)
    other = open_hub(hub.url)  # a second process's engine on the same database
    try:
        with make_client(hub, policy) as a, make_client(Hub(hub.url, other, hub.tokens), policy) as b:
            token = auth(hub.tokens["C"])
            codes = [
                (a if n % 2 else b).post("/v1/query", json={}, headers=token).status_code for n in range(8)
            ]
            others = [
                b.post("/v1/query", json={}, headers=auth(hub.tokens["B"])).status_code for _ in range(2)
            ]
    finally:
        other.dispose()
    if hub.engine.dialect.name == "postgresql":
        assert codes == [200] * 4 + [429] * 4  # one burst of 4 across both, not 4 on each
        assert others == [200, 200]  # another token has its own bucket
        with hub.session() as s:
            assert len(s.scalars(select(RateBucket)).all()) == 2
    else:  # a SQLite hub is one process: each app here is one, with its own buckets
        assert codes == [200] * 8


@pytest.mark.parametrize("hub_db", ["postgresql"], indirect=True)
def test_the_shared_bucket_refills_at_the_rate_and_says_how_long_to_wait(hub: Hub) -> None:
    with hub.session() as s:
        token_id = s.scalars(select(hm.Token.id)).first()
    assert token_id is not None
    shared = SharedRateLimiter(sessions(hub.engine), rate=20.0, burst=2)
    local = RateLimiter(rate=20.0, burst=2)
    waits = [shared.take(token_id) for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and 0 < waits[2] <= 0.05 + 1e-9  # as the in-memory bucket says
    assert [local.take(1) for _ in range(3)][2] == pytest.approx(waits[2], abs=0.01)
    time.sleep(0.06)  # a token's worth (1/20 s) and more
    assert shared.take(token_id) == 0.0
