"""Against a real uvicorn server: concurrent pushes while pulling, interrupted pushes, case push/pull."""

from __future__ import annotations

import random
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select

from tessera.hub import models as hm
from tessera.hub.caseside import contributions, hub_set_name, pull
from tessera.hub.client import HubClient, batch_id
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case

from .conftest import Hub, rand_item


def _counts(hub: Hub) -> tuple[int, int]:
    with hub.session() as s:
        return (
            s.scalar(select(func.count()).select_from(hm.Entry)) or 0,
            s.scalar(select(func.count()).select_from(hm.Contribution)) or 0,
        )


def _case_hub_shas(case: CaseHandle, url: str) -> list[str]:
    with case.session() as s:
        hs_id = s.scalar(select(m.HashSet.id).where(m.HashSet.name == hub_set_name(url)))
        return list(
            s.scalars(
                select(m.HashEntry.value).where(
                    m.HashEntry.hashset_id == hs_id, m.HashEntry.algorithm == "sha256"
                )
            )
        )


def test_concurrent_pushes_while_a_third_agency_pulls(hub: Hub, server: str, tmp_path: Path) -> None:
    rng = random.Random(10)
    shared = [rand_item(rng) for _ in range(200)]
    set_a = [rand_item(rng) for _ in range(300)] + shared
    set_b = [dict(i) for i in shared] + [rand_item(rng) for _ in range(300)]
    rng.shuffle(set_a)
    rng.shuffle(set_b)
    case = init_case(tmp_path / "c", "Puller", "FR")
    errors: list[BaseException] = []
    done = threading.Event()

    def pusher(token: str, items: list[dict[str, Any]]) -> None:
        try:
            with HubClient(server, token) as c:
                c.push(items, batch_size=40)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def puller() -> None:
        try:
            with HubClient(server, hub.tokens["C"]) as c:
                while not done.is_set():
                    pull(case, c, limit=70)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [
        threading.Thread(target=pusher, args=(hub.tokens[k], v)) for k, v in (("A", set_a), ("B", set_b))
    ]
    reader = threading.Thread(target=puller)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    done.set()
    reader.join(timeout=120)
    assert not errors, errors
    with HubClient(server, hub.tokens["C"]) as c:
        pull(case, c)
    expected = {i["sha256"] for i in set_a} | {i["sha256"] for i in set_b}
    assert _counts(hub) == (len(expected), len(set_a) + len(set_b))
    with hub.session() as s:
        two = s.scalar(select(func.count()).select_from(hm.Entry).where(hm.Entry.contributions == 2))
        assert two == len(shared)
    got = _case_hub_shas(case, server)
    assert len(got) == len(set(got)) and set(got) == expected
    case.close()


def test_push_cut_mid_body_then_retried(hub: Hub, server: str) -> None:
    rng = random.Random(11)
    items = [rand_item(rng) for _ in range(120)]
    # 1. The connection drops halfway through the body: nothing of the batch may be stored.
    body = httpx.Request("POST", "/", json={"batch_id": batch_id(items[:60]), "items": items[:60]}).content
    parts = urlsplit(server)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"POST /v1/contributions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {hub.tokens['A']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[: len(body) // 2])
    assert _counts(hub) == (0, 0)

    # 2. The second batch reaches the hub but its answer is lost; the client retries it.
    class DropOnce(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()
            self.calls = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            self.calls += 1
            response = self.inner.handle_request(request)
            if self.calls == 2:
                response.close()
                raise httpx.ReadError("connection reset by peer")
            return response

    transport = DropOnce()
    with HubClient(server, hub.tokens["A"], transport=transport) as c:
        totals = c.push(items, batch_size=60)
    assert transport.calls == 3 and totals["duplicate_batches"] == 1
    # 3. A whole re-run after an interruption: no duplicate, no gap.
    with HubClient(server, hub.tokens["A"]) as c:
        assert c.push(items, batch_size=60)["duplicate_batches"] == 2
    assert _counts(hub) == (120, 120)
    with hub.session() as s:
        seqs = sorted(s.scalars(select(hm.Entry.seq)))
    assert seqs == list(range(1, 121))


def _add_media(case: CaseHandle, rng: random.Random, n: int) -> list[m.Media]:
    media = []
    with case.session() as s:
        for _ in range(n):
            item = rand_item(rng)
            row = m.Media(
                sha256=item["sha256"],
                md5=item["md5"],
                sha1=item["sha1"],
                size=1000,
                kind="image",
                pdq=item["pdq"],
                pdq_quality=90,
                first_seen=datetime(2026, 3, 1, tzinfo=UTC),
            )
            s.add(row)
            media.append(row)
        s.commit()
    return media


def test_case_push_sends_only_hashes_and_pull_matches(hub: Hub, server: str, tmp_path: Path) -> None:
    rng = random.Random(12)
    src = init_case(tmp_path / "src", "Source", "NL")
    media = _add_media(src, rng, 6)
    with src.session() as s:
        s.add(m.Decision(sha256=media[0].sha256, category=1, profile="vics-us", user="rev"))
        s.add(m.Decision(sha256=media[1].sha256, category=2, profile="vics-us", user="rev"))
        s.commit()
    items = list(contributions(src))
    assert [i["sha256"] for i in items] == sorted([media[0].sha256, media[1].sha256])
    allowed = {
        "sha256",
        "md5",
        "sha1",
        "pdq",
        "pdq_quality",
        "category",
        "profile",
        "series",
        "victim_identified",
        "first_seen",
    }
    assert all(set(i) == allowed for i in items)
    with HubClient(server, hub.tokens["A"]) as c:
        assert c.push(items)["new_entries"] == 2
        assert c.push(items)["duplicate_batches"] == 1  # a re-run of the same push
    # Another case holding the same media pulls and gets matches.
    dst = init_case(tmp_path / "dst", "Dest", "DE")
    with dst.session() as s:
        for row in media[:3]:
            s.add(
                m.Media(
                    sha256=row.sha256,
                    md5=row.md5,
                    sha1=row.sha1,
                    size=1,
                    kind="image",
                    pdq=row.pdq,
                    pdq_quality=90,
                )
            )
        s.commit()
    with HubClient(server, hub.tokens["B"]) as c:
        res = pull(dst, c)
        assert (res.received, res.entries) == (2, 2)
        again = pull(dst, c)  # resumes from the stored cursor: nothing new
        assert again.received == 0 and again.cursor == res.cursor
    with dst.session() as s:
        matched = set(s.scalars(select(m.Match.sha256)))
        cats = {
            e.value: e.category
            for e in s.scalars(select(m.HashEntry).where(m.HashEntry.algorithm == "sha256"))
        }
    assert matched == {media[0].sha256, media[1].sha256}
    assert cats == {media[0].sha256: 1, media[1].sha256: 2}
    # A withdrawal reaches the puller, which drops the entry (and its matches).
    with HubClient(server, hub.tokens["A"]) as c:
        c.withdraw(media[0].sha256)
    with HubClient(server, hub.tokens["B"]) as c:
        res = pull(dst, c)
        assert res.removed == 1 and res.entries == 1
    with dst.session() as s:
        assert set(s.scalars(select(m.Match.sha256))) == {media[1].sha256}
    src.close()
    dst.close()
