"""Telegram Desktop exports of every era (synthetic writers of tessera.synth.telegram): each is read
with exact counts, the identifiers later exports give the same accounts and chats, and UTC times;
the reconciliation adds up against an independent count of the file (json.load)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tessera.messaging.coverage import Coverage
from tessera.messaging.records import AccountRecord, ChatRecord, MembershipRecord, MessageRecord
from tessera.synth.network import Network, Seizure, make_network
from tessera.synth.telegram import (
    ERAS,
    MALFORMED,
    export_zone,
    legacy_chat_id,
    legacy_user_id,
    write_telegram_export,
)
from tests.messaging.test_telegram import PARSER, _ctx, _of


@pytest.fixture(scope="module")
def net() -> Network:
    return make_network(3, n_tg_groups=2)


@pytest.fixture(scope="module")
def phone(net: Network) -> Seizure:
    tg = [g for g in net.groups.values() if g.platform == "telegram"]
    owner = sorted(set(net.members[tg[0].key]) & set(net.members[tg[1].key]))[0]
    return Seizure("T-98", "phone", owner, "telegram", tuple(g.key for g in tg))


def held(path: Path) -> dict[str, int]:
    """What the file holds, counted by a whole-file JSON load (an oracle independent of the stream)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    chats = data.get("chats", {}).get("list", []) + data.get("left_chats", {}).get("list", [])
    if "messages" in data:
        chats = [data]
    return {
        "chats": len(chats),
        "messages": sum(len(c["messages"]) for c in chats if isinstance(c, dict)),
        "contacts": len(data.get("contacts", {}).get("list", [])),
    }


def adds_up(cov: Coverage) -> None:
    for name, u in cov.units.items():
        assert u.present == u.parsed + u.ignored + u.skipped, (name, u)
    assert not cov.unaccounted()


def _user(era: str, net: Network, key: str) -> str:
    person = net.people[key]
    return f"user{legacy_user_id(person)}" if era in ("2019", "2018") else f"user{person.tg_id}"


@pytest.mark.parametrize("era", [e for e in ERAS if e != "2018"])
def test_each_era_reads_with_exact_counts(net: Network, phone: Seizure, tmp_path: Path, era: str) -> None:
    path = write_telegram_export(net, phone, tmp_path, era=era, include_media=False)
    tz = export_zone(net, phone)
    ctx = _ctx(path, None if era == "current" else tz)
    records = list(PARSER.parse(ctx))
    cov = ctx.coverage
    want = held(path)
    assert {n: u.present for n, u in cov.units.items()} == want
    assert cov.units["messages"].parsed == want["messages"] == len(_of(records, MessageRecord))
    assert cov.status() == "complete" and cov.skipped_total == 0
    adds_up(cov)
    assert any(n.startswith("export era:") for n in cov.notes)
    chats = {c.raw_id: c for c in _of(records, ChatRecord)}
    msgs = _of(records, MessageRecord)
    owner = _user(era, net, phone.owner or "")
    assert [a.raw_id for a in _of(records, AccountRecord) if a.is_device_owner] == [owner]
    for g in phone.groups:
        group = net.groups[g]
        chat = chats[f"channel{group.tg_id}"]  # the 2019 peer-id encoding is read as the bare id
        written = legacy_chat_id(group.tg_id) if era == "2019" else group.tg_id
        assert chat.locator and chat.locator.endswith(f"#chat/{written}")  # the locator keeps it
        assert chat.created_at == group.created and chat.creator == _user(era, net, group.creator)
        posts = sorted((p for p in net.visible(phone) if p.group == g), key=lambda p: (p.time, p.id))
        got = [m for m in msgs if m.chat == chat.raw_id and m.kind != "system"]
        assert len(got) == len(posts) > 0
        for m, p in zip(got, posts, strict=True):
            assert m.sender == _user(era, net, p.sender) and m.time == p.time and m.text == p.text
            assert m.from_me == (m.sender == owner)
            assert m.locator and f"#chat/{written}/message/{m.raw_id}" in m.locator
            if era == "2019":
                assert m.raw["from_id"] == legacy_user_id(net.people[p.sender])  # as written
            if era != "current":
                assert m.raw["date_zone"] == str(tz) and m.raw["date"]
    memberships = _of(records, MembershipRecord)
    assert {ms.account for ms in memberships if ms.role == "creator"} == {
        _user(era, net, net.groups[g].creator) for g in phone.groups
    }


def test_2018_names_only(net: Network, phone: Seizure, tmp_path: Path) -> None:
    """No chat ids and no sender ids: chats by title, senders by name, the owner by the user_id of
    personal_information (the only id the export gives)."""
    path = write_telegram_export(net, phone, tmp_path, era="2018", include_media=False)
    tz = export_zone(net, phone)
    ctx = _ctx(path, tz)
    records = list(PARSER.parse(ctx))
    cov = ctx.coverage
    assert {n: u.present for n, u in cov.units.items()} == held(path)
    assert cov.status() == "complete"
    adds_up(cov)
    assert "export era: 2018 (no ids: chats and senders identified by name)" in cov.notes
    owner = net.people[phone.owner or ""]
    chats = {c.raw_id: c for c in _of(records, ChatRecord)}
    assert set(chats) == {net.groups[g].title for g in phone.groups}
    for g in phone.groups:
        group = net.groups[g]
        chat = chats[group.title]
        assert chat.created_at == group.created
        creator = net.people[group.creator]
        assert chat.creator == (f"user{legacy_user_id(owner)}" if creator == owner else creator.name)
        posts = sorted((p for p in net.visible(phone) if p.group == g), key=lambda p: (p.time, p.id))
        got = [m for m in _of(records, MessageRecord) if m.chat == group.title and m.kind != "system"]
        assert len(got) == len(posts) > 0
        for m, p in zip(got, posts, strict=True):
            person = net.people[p.sender]
            assert m.time == p.time
            assert m.sender == (f"user{legacy_user_id(owner)}" if person == owner else person.name)
            assert m.from_me == (person == owner) and m.raw["from"] == person.name


@pytest.mark.parametrize("era", ["current", "2019", "2018"])
def test_malformed_elements_are_skipped_and_counted(
    net: Network, phone: Seizure, tmp_path: Path, era: str
) -> None:
    n_bad = 2 * len(MALFORMED)
    good = write_telegram_export(net, phone, tmp_path / "good", era=era, include_media=False)
    path = write_telegram_export(net, phone, tmp_path / "bad", era=era, include_media=False, malformed=n_bad)
    tz = export_zone(net, phone)
    ctx = _ctx(path, tz)
    records = list(PARSER.parse(ctx))
    cov = ctx.coverage
    want = held(path)
    assert want["messages"] == held(good)["messages"] + n_bad
    u = cov.units["messages"]
    assert (u.present, u.parsed, u.skipped, u.ignored) == (
        want["messages"],
        want["messages"] - n_bad,
        n_bad,
        0,
    )
    assert cov.status() == "partial"
    adds_up(cov)
    reasons = {r.reason: r for r in cov.reasons.values() if r.kind == "skipped"}
    date = "date_unixtime is not a number of seconds" if era == "current" else "date is not an ISO date"
    assert set(reasons) == {date, "not a JSON object", "id is not an integer"}
    assert all(r.count == 2 and len(r.examples) == 2 for r in reasons.values())
    assert all("/messages/" in loc for loc in reasons["not a JSON object"].examples)
    problem = cov.problem() or ""
    assert "2 messages skipped: not a JSON object" in problem
    # The rest is read exactly as from the file without the bad elements.
    clean = list(PARSER.parse(_ctx(good, tz)))

    def key(m: MessageRecord) -> tuple[Any, ...]:
        return (m.chat, m.sender, m.time, m.kind, m.text, m.action)

    assert [key(m) for m in _of(records, MessageRecord)] == [key(m) for m in _of(clean, MessageRecord)]


def test_local_dates_without_a_zone_are_utc_and_say_so(net: Network, phone: Seizure, tmp_path: Path) -> None:
    path = write_telegram_export(net, phone, tmp_path, era="2021", include_media=False)
    tz = export_zone(net, phone)
    ctx = _ctx(path)
    msgs = _of(list(PARSER.parse(ctx)), MessageRecord)
    assert msgs and all(m.raw["date_zone_assumed"] is True and m.raw["date_zone"] == "UTC" for m in msgs)
    for m in msgs:  # the clock as written, taken for UTC
        assert m.time.replace(tzinfo=None) == datetime.fromisoformat(m.raw["date"])
        assert m.time.tzinfo is UTC
    assert any("read as UTC because no time zone was set" in n for n in ctx.coverage.notes)
    assert ctx.coverage.status() == "complete"
    assert str(tz) != "UTC"  # the export's zone differs, so the times above are shifted
