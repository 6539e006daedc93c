"""The synthetic operation through the real pipeline: the analysis must recover the generator's truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.network import analysis
from tessera.store.case import CaseHandle
from tessera.synth.hashsets import vics_media
from tessera.synth.network import Network, make_network
from tessera.synth.seizures import write_seizures

NET = make_network(7)


def person_of(net: Network, account: str) -> str:
    """The generator's person behind an account key: E.164 where the source knew the number (every
    WhatsApp account; a Telegram owner or contact), else the Telegram user id."""
    for p in net.people.values():
        if account in (p.phone, f"telegram:user{p.tg_id}"):
            return p.key
    raise AssertionError(f"{account} is nobody in the generated network")


def people(net: Network, accounts: set[str]) -> set[str]:
    return {person_of(net, a) for a in accounts}


@pytest.fixture
def traced(case: CaseHandle, tmp_path: Path) -> CaseHandle:
    known = [{"md5": None, "sha256": it.sha256, "category": 1} for it in NET.items.values() if it.known]
    vics_media([{k: v for k, v in e.items() if v} for e in known], version="2.0", out=tmp_path / "known.json")
    import_hashset(case, tmp_path / "known.json", name="known")
    for ev in write_seizures(NET, tmp_path / "evidence"):
        res = ingest(case, ev.path, IngestOptions(ev.seizure.device, kind=ev.kind, workers=0))
        assert all(r.error is None and r.status == "complete" for r in res.messaging), [
            (r.status, r.error) for r in res.messaging
        ]
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
        assert person_of(NET, got["account"]) == post.sender and got["platform"] == platform, item_key
        assert got["group"] == NET.groups[post.group].title


def test_every_bridge_account(traced: CaseHandle) -> None:
    with traced.session() as s:
        found = analysis.bridges(s)
    for platform in ("whatsapp", "telegram"):
        got = people(NET, {b["account"] for b in found if b["platform"] == platform})
        assert got == NET.bridges(platform), platform


def test_every_cross_device_account(traced: CaseHandle) -> None:
    with traced.session() as s:
        found = analysis.cross_device(s, "account")
    for platform in ("whatsapp", "telegram"):
        got = people(NET, {r["account"] for r in found if r["platform"] == platform})
        assert got == NET.cross_device(platform), platform


def test_roles_and_timeline(traced: CaseHandle) -> None:
    with traced.session() as s:
        # Device-scoped accounts (a name only, or the placeholder for an unknown owner) name nobody.
        accs = {
            (a.platform, person_of(NET, a.account)): a
            for a in analysis.accounts(s)
            if a.account.count(":") < 2 and "owner@" not in a.account
        }
        truth = NET.first_posts()
        for item_key, post in truth.items():
            item = NET.items[item_key]
            acc = accs[(NET.groups[post.group].platform, post.sender)]
            role = "distributor" if item.known else "producer-candidate"
            assert role in acc.roles, (item_key, acc.roles)
            assert acc.indicators[role]["evidence"], role
            posts = analysis.timeline(s, item.sha256)
            assert posts[0]["first"] and all(not p["first"] for p in posts[1:])
            assert [p["time"] for p in posts] == sorted(p["time"] for p in posts)
            assert all(p["time"].endswith("Z") and p["device"] and p["locator"] for p in posts)


def test_every_e164_is_digits_a_source_wrote(traced: CaseHandle) -> None:
    """No account's number has digits that none of its raw identifiers wrote (nothing invented)."""
    from sqlalchemy import select

    from tessera.messaging.identity import international_digits
    from tessera.store import models as m

    with traced.session() as s:
        written: dict[int, set[str | None]] = {}
        for acc_id, raw in s.execute(select(m.AccountAlias.account_id, m.AccountAlias.raw_id)):
            written.setdefault(acc_id, set()).add(international_digits(raw))
        phones = s.execute(select(m.Account.id, m.Account.phone).where(m.Account.phone.is_not(None))).all()
    assert len(phones) >= len(NET.people) // 2
    assert all(phone[1:] in written.get(acc_id, set()) for acc_id, phone in phones)
