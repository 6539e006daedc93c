"""The synthetic operation through the real pipeline: the analysis must recover the generator's truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.network import analysis
from tessera.store.case import CaseHandle
from tessera.synth.hashsets import vics_media
from tessera.synth.network import Network, Person, make_network
from tessera.synth.seizures import write_seizures

NET = make_network(7)


def account_key(net: Network, person: Person, platform: str) -> str:
    return person.phone if platform == "whatsapp" else f"telegram:user{person.tg_id}"


@pytest.fixture
def traced(case: CaseHandle, tmp_path: Path) -> CaseHandle:
    known = [{"md5": None, "sha256": it.sha256, "category": 1} for it in NET.items.values() if it.known]
    vics_media([{k: v for k, v in e.items() if v} for e in known], version="2.0", out=tmp_path / "known.json")
    import_hashset(case, tmp_path / "known.json", name="known")
    for ev in write_seizures(NET, tmp_path / "evidence"):
        res = ingest(case, ev.path, IngestOptions(ev.seizure.device, kind=ev.kind, workers=0))
        assert all(r.error is None for r in res.messaging), [r.error for r in res.messaging]
        assert res.messaging, f"no messaging source found in {ev.path}"
    return case


def test_first_poster_of_every_item(traced: CaseHandle) -> None:
    with traced.session() as s:
        firsts = analysis.first_posts(s)
    truth = NET.first_posts()
    assert len(truth) == len(NET.items)
    for item_key, post in truth.items():
        item = NET.items[item_key]
        platform = NET.groups[post.group].platform
        got = firsts.get(item.sha256)
        assert got is not None, item_key
        assert got["account"] == account_key(NET, NET.people[post.sender], platform), item_key
        assert got["group"] == NET.groups[post.group].title


def test_every_bridge_account(traced: CaseHandle) -> None:
    with traced.session() as s:
        got = {b["account"] for b in analysis.bridges(s)}
    want = {account_key(NET, NET.people[p], "whatsapp") for p in NET.bridges("whatsapp")}
    want |= {account_key(NET, NET.people[p], "telegram") for p in NET.bridges("telegram")}
    assert got == want


def test_every_cross_device_account(traced: CaseHandle) -> None:
    with traced.session() as s:
        got = {r["account"] for r in analysis.cross_device(s, "account")}
    want = {account_key(NET, NET.people[p], "whatsapp") for p in NET.cross_device("whatsapp")}
    want |= {account_key(NET, NET.people[p], "telegram") for p in NET.cross_device("telegram")}
    assert got == want


def test_roles_and_timeline(traced: CaseHandle) -> None:
    with traced.session() as s:
        accs = {a.account: a for a in analysis.accounts(s)}
        truth = NET.first_posts()
        for item_key, post in truth.items():
            item = NET.items[item_key]
            platform = NET.groups[post.group].platform
            acc = accs[account_key(NET, NET.people[post.sender], platform)]
            role = "distributor" if item.known else "producer-candidate"
            assert role in acc.roles, (item_key, acc.roles)
            assert acc.indicators[role]["evidence"], role
            posts = analysis.timeline(s, item.sha256)
            assert posts[0]["first"] and all(not p["first"] for p in posts[1:])
            assert [p["time"] for p in posts] == sorted(p["time"] for p in posts)
            assert all(p["time"].endswith("Z") and p["device"] and p["locator"] for p in posts)
