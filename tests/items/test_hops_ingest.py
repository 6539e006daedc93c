"""The hop operation as real seized files, through ingest: first posters and spread equal the truth.

Phones are Android extraction folders (msgstore.db, wa.db, media with a fifth deleted), captures are
WhatsApp chat-export zips; every forward is a new copy 1-30 PDQ bits from the one it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.items import posts as item_posts
from tessera.items.grouping import item_of, update_items
from tessera.items.spread import all_graphs, earliest
from tessera.network import analysis
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.hops import as_network
from tessera.synth.seizures import write_seizures
from tests.items.conftest import OP

NET = as_network(OP)
TITLE = {k: g.title for k, g in OP.net.groups.items()}


def _person(account: str) -> str:
    for p in OP.net.people.values():
        if account in (p.phone, p.wa_jid):
            return p.key
    raise AssertionError(f"{account} is nobody in the generated operation")


@pytest.fixture
def ingested(case: CaseHandle, tmp_path: Path) -> CaseHandle:
    evidence = write_seizures(NET, tmp_path / "evidence")
    assert {e.kind for e in evidence} == {"phone", "capture"}
    for ev in evidence:
        res = ingest(case, ev.path, IngestOptions(ev.seizure.device, kind=ev.kind, workers=0))
        assert res.messaging and all(r.error is None and r.status == "complete" for r in res.messaging)
    with case.session() as s:
        update_items(s)
        s.commit()
    return case


def test_first_poster_and_spread_through_ingest(ingested: CaseHandle) -> None:
    with ingested.session() as s:
        ids = {}
        for c in OP.copies.values():
            if c.parent is None:
                found = item_of(s, c.sha256)
                assert found is not None, c.key
                ids[c.item] = found
        # Every copy of a picture, and only those, in its item (no two pictures merged).
        for c in OP.copies.values():
            assert item_of(s, c.sha256) == ids[c.item], c.key
        graphs = dict(all_graphs(s))
        firsts = item_posts.first_posts(s)
        # Some phones lack the file of a post that names it by the app's hash: still on the item.
        missing = s.scalar(
            select(m.Message.id)
            .where(m.Message.media_sha256.is_not(None), m.Message.kind == "image")
            .where(
                ~select(m.File.id)
                .where(m.File.device_id == m.Message.device_id, m.File.sha256 == m.Message.media_sha256)
                .exists()
            )
            .limit(1)
        )
        assert missing is not None
    assert len(set(ids.values())) == len(ids)
    for item, item_id in ids.items():
        g = graphs[item_id]
        truth = OP.first_poster(item)
        first = earliest(g)
        assert first is not None
        assert (_person(first["account"]), first["group"]) == (truth.sender, TITLE[truth.group]), item
        assert first["sha256"] == OP.copies[truth.copy].sha256
        fp = firsts[f"item:{item_id}"]
        assert (_person(fp["account"]), fp["group"]) == (truth.sender, TITLE[truth.group])
        got = {(a["group"], _person(a["account"]), a["time"], a["sha256"]) for _, a in g.nodes(data=True)}
        want = {(TITLE[gk], who, analysis.iso(t), sha) for gk, who, t, sha in OP.spread(item)}
        assert got == want, item
