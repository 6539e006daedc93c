"""Review workstation at scale: server-side render time of the dashboard and review pages.

    python bench/bench_review.py [--media 100000] [--repeat 7] [--known-good 1000000]

The store: the 1,000,000-message case of bench_network.py (bench/out/network-case, copied so that
bench stays untouched; built directly with bulk inserts when it is missing) plus 100,000 media rows,
their file occurrences, 10% of them matched to a categorised hash set, 5% decided, and PDQ clusters.
Rows are generated and bulk-inserted (no evidence is hashed: this measures the pages, not ingest).
``--known-good N`` adds a known-good set (as an NSRL import leaves it) of N random SHA-256 digests plus
every tenth medium's, so the pages pay the known-good probe of every media row.

Timed with FastAPI's TestClient in process (server-side work: queries + templates), best of N, after
one warm-up request. Target: dashboard and a review page each under 300 ms. Results are appended to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import summary as machine  # type: ignore[import-not-found]  # noqa: E402

from tessera.review import create_app  # noqa: E402
from tessera.review.auth import add_user  # noqa: E402
from tessera.review.clusters import update_clusters  # noqa: E402
from tessera.store import models as m  # noqa: E402
from tessera.store.case import CaseHandle, init_case, open_case  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
CASE = OUT / "review-case"
BATCH = 20_000


def _messages(handle: CaseHandle, n: int) -> None:
    """Stand-in for the network case: 50 groups, 5,000 accounts, ``n`` messages, 10% with media."""
    rng = np.random.default_rng(1)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with handle.engine.begin() as c:
        c.execute(insert(m.Device), [{"id": "N001", "kind": "phone", "source_path": "/nonexistent"}])
        c.execute(
            insert(m.MessagingSource),
            [
                {
                    "id": 1,
                    "device_id": "N001",
                    "locator": "/msgstore.db",
                    "parser": "bench",
                    "status": "complete",
                    "messages": n,
                }
            ],
        )
        c.execute(
            insert(m.Account),
            [
                {
                    "id": i + 1,
                    "platform": "whatsapp",
                    "key": f"+4470000{i:05d}",
                    "country": ("GB", "DE", "ES", "BR", "US")[i % 5],
                }
                for i in range(5000)
            ],
        )
        c.execute(
            insert(m.Chat),
            [
                {
                    "id": g + 1,
                    "platform": "whatsapp",
                    "key": f"g{g}@g.us",
                    "title": f"Group {g + 1:02d}",
                    "kind": "group",
                }
                for g in range(50)
            ],
        )
        c.execute(
            insert(m.Membership),
            [
                {"chat_id": g + 1, "account_id": (g * 97 + k) % 5000 + 1}
                for g in range(50)
                for k in range(256)
            ],
        )
        senders = rng.integers(1, 5001, n)
        chats = rng.integers(1, 51, n)
        for start in range(0, n, BATCH):
            c.execute(
                insert(m.Message),
                [
                    {
                        "device_id": "N001",
                        "source_id": 1,
                        "locator": f"/msgstore.db#message/{i}",
                        "chat_id": int(chats[i]),
                        "sender_id": int(senders[i]),
                        "time": t0 + timedelta(seconds=i * 30),
                        "kind": "text",
                        "text": f"message {i}",
                    }
                    for i in range(start, min(n, start + BATCH))
                ],
            )


def build(n_media: int) -> CaseHandle:
    src = OUT / "network-case"
    if CASE.exists():
        shutil.rmtree(CASE)
    if (src / "case.db").exists():
        CASE.mkdir(parents=True)
        shutil.copy2(src / "case.db", CASE / "case.db")
        shutil.copy2(src / "tessera-case.json", CASE / "tessera-case.json")
        handle = open_case(CASE)  # migrates the copy to the review schema
    else:
        handle = init_case(CASE, "bench", "BENCH")
        _messages(handle, 1_000_000)
    rng = np.random.default_rng(2)
    pdq = rng.integers(0, 256, (n_media, 32), dtype=np.uint8)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    shas = [f"{i:064x}" for i in range(1, n_media + 1)]
    with handle.engine.begin() as c:
        c.execute(insert(m.Device), [{"id": "B001", "kind": "computer", "source_path": "/nonexistent"}])
        c.execute(
            insert(m.IngestRun),
            [
                {
                    "device_id": "B001",
                    "source_path": "/nonexistent",
                    "status": "complete",
                    "files_new": n_media,
                }
            ],
        )
        c.execute(insert(m.HashSet), [{"id": 1, "name": "bench", "format": "vics"}])
        for start in range(0, n_media, BATCH):
            part = range(start, min(n_media, start + BATCH))
            c.execute(
                insert(m.Media),
                [
                    {
                        "sha256": shas[i],
                        "md5": shas[i][:32],
                        "sha1": shas[i][:40],
                        "size": 100_000 + i,
                        "mime": "image/jpeg" if i % 20 else "video/mp4",
                        "kind": "image" if i % 20 else "video",
                        "width": 640,
                        "height": 480,
                        "pdq": pdq[i].tobytes().hex() if i % 20 else None,
                        "pdq_quality": 90 if i % 20 else None,
                        "first_seen": t0 + timedelta(seconds=i),
                    }
                    for i in part
                ],
            )
            c.execute(
                insert(m.File),
                [
                    {
                        "device_id": "B001",
                        "locator": f"/Users/x/Pictures/{i:06d}.jpg",
                        "raw_path": b"/x",
                        "size": 100_000 + i,
                        "sha256": shas[i],
                    }
                    for i in part
                ],
            )
        matched = range(0, n_media, 10)
        c.execute(
            insert(m.HashEntry),
            [
                {
                    "id": k + 1,
                    "hashset_id": 1,
                    "algorithm": "md5",
                    "value": shas[i][:32],
                    "category": (1, 2, 3)[k % 3],
                }
                for k, i in enumerate(matched)
            ],
        )
        c.execute(
            insert(m.Match),
            [
                {"sha256": shas[i], "entry_id": k + 1, "hashset_id": 1, "algorithm": "md5", "distance": 0}
                for k, i in enumerate(matched)
            ],
        )
        c.execute(
            insert(m.Decision),
            [{"sha256": shas[i], "category": 0, "user": "bench"} for i in range(5, n_media, 20)],
        )
    with handle.session() as s:
        add_user(s, "bench", "reviewer", "bench-password")
        s.commit()
    return handle


def _known_good(handle: CaseHandle, n: int, n_media: int) -> None:
    """A known-good set as ``tessera hashset import`` leaves an NSRL one: raw digests in known_hash."""
    from tessera.store.models_known import KNOWN_GOOD

    rng = np.random.default_rng(3)
    digests = [bytes(r) for r in rng.integers(0, 256, (n, 32), dtype=np.uint8)]
    digests += [bytes.fromhex(f"{i:064x}") for i in range(1, n_media + 1, 10)]
    with handle.engine.begin() as c:
        c.execute(insert(m.HashSet), [{"id": 2, "name": "nsrl", "format": "nsrl-rds3",
                                       "profile": "nsrl", "meta": {"disposition": KNOWN_GOOD}}])  # fmt: skip
        c.exec_driver_sql(
            "INSERT INTO known_hash (digest, hashset_id, rows) VALUES (?, 2, 1)", [(d,) for d in digests]
        )
        c.exec_driver_sql("ANALYZE")


def timed(client: object, path: str, repeat: int) -> float:
    client.get(path)  # type: ignore[attr-defined]  # warm-up: caches, prepared statements
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path)  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--known-good", type=int, default=0, help="digests in a known-good set (0: none)")
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    t = time.perf_counter()
    handle = build(args.media)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    with handle.session() as s:
        n_clustered = update_clusters(s)
        s.commit()
        n_media = s.scalar(select(func.count()).select_from(m.Media)) or 0
        n_msgs = s.scalar(select(func.count()).select_from(m.Message)) or 0
    t_cluster = time.perf_counter() - t
    if args.known_good:
        _known_good(handle, args.known_good, n_media)
    client = TestClient(create_app(handle))
    page = client.get("/login")
    tok = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert tok
    client.post("/login", data={"name": "bench", "password": "bench-password", "csrf": tok.group(1)})
    pages = {
        "dashboard `/`": "/",
        "review grid, first page `/review`": "/review",
        "review grid, page 1,000 `/review?page=1000`": "/review?page=1000",
        "network graph data, one group `/api/graph?group=1`": "/api/graph?group=1",
    }
    results = {name: timed(client, path, args.repeat) for name, path in pages.items()}
    lines = [
        "",
        f"## Review workstation — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine()}. Case database: {handle.engine.dialect.name}. "
        f"Command: `python bench/bench_review.py {' '.join(sys.argv[1:])}`",
        "",
        f"Store: {n_media:,} media, {n_msgs:,} messages (built in {t_build:.1f} s); "
        f"PDQ clusters for {n_clustered:,} media computed in {t_cluster:.1f} s (once per case)."
        + (
            f" A known-good set of {args.known_good:,} digests (+ every tenth medium's) is loaded."
            if args.known_good
            else " No known-good set."
        ),
        "Server-side time per request (FastAPI TestClient in process, best of "
        f"{args.repeat} after a warm-up):",
        "",
        "| page | time | target |",
        "|---|---|---|",
    ]
    for name, secs in results.items():
        target = "< 300 ms" if "graph" not in name else ""
        lines.append(f"| {name} | **{secs * 1000:.0f} ms** | {target} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
