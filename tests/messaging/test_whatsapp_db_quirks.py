"""WhatsApp's real-world quirks, one at a time, on the synthetic quirks database (tessera.synth.msgstore
``write_quirks``): migration-era databases holding both schemas, WhatsApp's sentinel and placeholder
rows, ``status_me`` as the owner, device JIDs, memberships only in ``group_participant_user``, and a
message whose chat row is gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tessera.messaging.base import ParseContext
from tessera.messaging.records import AccountRecord, MembershipRecord, MessageRecord, MessagingRecord
from tessera.messaging.whatsapp_db import WhatsAppMsgstoreParser
from tessera.records import Opener
from tessera.synth.msgstore_quirks import ACCOUNT, ORPHAN_CHAT_ROW, QUIRK_JIDS, QuirkMessage, write_quirks

DEVICE = "Q-01"
PLACEHOLDER_OWNER = f"whatsapp:owner@{DEVICE}"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse(db: Path, tmp: Path, owner: str | None = None) -> tuple[list[MessagingRecord], ParseContext]:
    ctx = ParseContext(
        locator=str(db),
        opener=Opener(path=str(db)),
        scratch=tmp / "scratch",
        device_id=DEVICE,
        options={"owner": owner} if owner else {},
    )
    return list(WhatsAppMsgstoreParser().parse(ctx)), ctx


def _of(records: list[MessagingRecord], cls: type) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


@pytest.fixture(params=["both", "legacy", "current"])
def quirks(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path, list[QuirkMessage]]:
    db = tmp_path / request.param / "msgstore.db"
    return request.param, db, write_quirks(db, request.param)


def _expected(db: Path, msgs: list[QuirkMessage], owner: str) -> set[tuple[Any, ...]]:
    def chat(m: QuirkMessage) -> str:
        return (
            f"whatsapp:chat-row-{ORPHAN_CHAT_ROW}@{DEVICE}{db}" if m.chat == "orphan" else QUIRK_JIDS[m.chat]
        )

    return {
        (
            m.key_id,
            chat(m),
            owner if m.sender == "me" else ACCOUNT[m.sender],
            EPOCH + timedelta(milliseconds=m.ms),
            m.text,
        )
        for m in msgs
    }


def test_every_message_once(quirks: tuple[str, Path, list[QuirkMessage]], tmp_path: Path) -> None:
    layout, db, msgs = quirks
    records, _ = _parse(db, tmp_path)
    got = [(m.raw_id, m.chat, m.sender, m.time, m.text) for m in _of(records, MessageRecord)]
    assert len(got) == len(msgs)  # no duplicates from the migrated rows, nothing from WhatsApp's own
    assert set(got) == _expected(db, msgs, PLACEHOLDER_OWNER)
    locators = [m.locator for m in _of(records, MessageRecord)]
    assert len(set(locators)) == len(locators)


def test_migrated_copy_read_once_from_message(tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    write_quirks(db, "both")
    records, ctx = _parse(db, tmp_path)
    table = {m.raw_id: m.locator.split("#")[1].split("/")[0] for m in _of(records, MessageRecord)}
    assert table == {
        "K01": "messages",
        "K02": "messages",
        "K03": "message",
        "K04": "message",
        "K05": "message",
        "K06": "message",
        "K07": "message",
    }
    units = ctx.coverage.to_json()["units"]
    assert (units["messages"]["present"], units["messages"]["parsed"], units["messages"]["ignored"]) == (
        5,
        2,
        3,
    )
    reasons = {(r["unit"], r["reason"]): r["count"] for r in ctx.coverage.to_json()["reasons"]}
    assert reasons[("messages", "WhatsApp's sentinel row (key_remote_jid '-1')")] == 1
    migrated = "same message key (chat, from_me, key_id) as a row of table message, which is read instead"
    assert reasons[("messages", migrated)] == 2
    assert "schema: legacy+current (migration era)" in ctx.coverage.notes


@pytest.mark.parametrize(
    ("layout", "units"),
    [
        (
            "both",
            {
                "messages": (5, 2, 3, 0),
                "message": (6, 5, 1, 0),
                "group_participant_user": (5, 4, 1, 0),
                "group_participants": (4, 2, 2, 0),
            },
        ),
        (
            "legacy",  # the real 2021 layout
            {
                "messages": (7, 6, 1, 0),
                "message": (1, 0, 1, 0),
                "group_participant_user": (5, 4, 1, 0),
                "group_participants": (0, 0, 0, 0),
            },
        ),
        (
            "current",
            {
                "messages": (1, 0, 1, 0),
                "message": (8, 7, 1, 0),
                "group_participant_user": (5, 4, 1, 0),
                "group_participants": (0, 0, 0, 0),
            },
        ),
    ],
)
def test_coverage(layout: str, units: dict[str, tuple[int, ...]], tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    write_quirks(db, layout)
    _, ctx = _parse(db, tmp_path)
    got = {
        k: (u["present"], u["parsed"], u["ignored"], u["skipped"])
        for k, u in ctx.coverage.to_json()["units"].items()
    }
    assert got == units
    assert ctx.coverage.status() == "complete"


def test_placeholder_and_sentinel_are_not_messages(tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    write_quirks(db, "current")
    records, ctx = _parse(db, tmp_path)
    assert all(m.raw_id != "-1" and m.chat != "-1" for m in _of(records, MessageRecord))
    reasons = {(r["unit"], r["reason"]): r for r in ctx.coverage.to_json()["reasons"]}
    placeholder = reasons[("message", "WhatsApp's placeholder row (chat_row_id -1, key_id '-1')")]
    assert placeholder["kind"] == "ignored" and placeholder["examples"] == [f"{db}#message/1"]


@pytest.mark.parametrize("owner", [None, "+34 699 000 000"])
def test_status_me_is_the_owner(owner: str | None, tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    write_quirks(db, "both")
    records, _ = _parse(db, tmp_path, owner)
    me = "34699000000@s.whatsapp.net" if owner else PLACEHOLDER_OWNER
    accounts = _of(records, AccountRecord)
    assert [a.raw_id for a in accounts if a.is_device_owner] == [me]
    named = {a.raw_id for a in accounts} | {ms.account for ms in _of(records, MembershipRecord)}
    named |= {m.sender for m in _of(records, MessageRecord) if m.sender}
    assert "status_me" not in named and "" not in named
    members = {(ms.chat, ms.account) for ms in _of(records, MembershipRecord)}
    assert (QUIRK_JIDS["G1"], me) in members and (QUIRK_JIDS["G2"], me) in members  # status_me and ''
    mine = {m.raw_id for m in _of(records, MessageRecord) if m.from_me}
    assert mine == {"K02", "K06"} and all(m.sender == me for m in _of(records, MessageRecord) if m.from_me)


def test_device_jids_are_the_persons_account(tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    write_quirks(db, "both")
    records, _ = _parse(db, tmp_path)
    accounts = {a.raw_id: a for a in _of(records, AccountRecord)}
    a, b = accounts[ACCOUNT["A"]], accounts[ACCOUNT["B"]]
    assert (a.phone, a.aliases) == ("+34600000001", [QUIRK_JIDS["A.dev"]])
    # B has no user row at all: the account is still under the user JID, the device JID an alias.
    assert (b.phone, b.aliases) == ("+34600000002", [QUIRK_JIDS["B.dev"]])
    assert accounts[ACCOUNT["C"]].aliases == [QUIRK_JIDS["C"]]  # @lid -> phone JID through jid_map
    assert accounts[QUIRK_JIDS["C"]].aliases == [ACCOUNT["C"]]
    users = [r.partition("@")[0] for r in accounts if r != PLACEHOLDER_OWNER]
    assert users and all(u.isdigit() for u in users)  # no device suffix on any account
    senders = {m.raw_id: m.sender for m in _of(records, MessageRecord)}
    assert senders["K01"] == ACCOUNT["A"] and senders["K03"] == ACCOUNT["B"]  # written as device JIDs


def test_memberships_united_and_deduplicated(
    quirks: tuple[str, Path, list[QuirkMessage]], tmp_path: Path
) -> None:
    layout, db, _ = quirks
    records, _ = _parse(db, tmp_path)
    got = [(ms.chat, ms.account, ms.role) for ms in _of(records, MembershipRecord)]
    g1, g2 = QUIRK_JIDS["G1"], QUIRK_JIDS["G2"]
    expected = {
        (g1, PLACEHOLDER_OWNER, "member"),
        (g1, ACCOUNT["A"], "creator"),
        (g1, ACCOUNT["B"], "member"),
        (g1, ACCOUNT["C"], "admin"),
    }
    if layout == "both":  # G2 only in the legacy table
        expected |= {(g2, PLACEHOLDER_OWNER, "creator"), (g2, ACCOUNT["B"], "member")}
    assert len(got) == len(expected) and set(got) == expected


def test_orphan_message_read_under_its_chat_row(tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    write_quirks(db, "current")
    records, ctx = _parse(db, tmp_path)
    orphan = next(m for m in _of(records, MessageRecord) if m.raw_id == "K07")
    assert orphan.chat == f"whatsapp:chat-row-{ORPHAN_CHAT_ROW}@{DEVICE}{db}"
    assert orphan.raw["chat_row_id"] == ORPHAN_CHAT_ROW and orphan.sender == ACCOUNT["A"]
    assert orphan.time.microsecond == 999_000
    assert any("chat row" in n for n in ctx.coverage.notes)


def test_owner_from_prefs_inside_an_archive(tmp_path: Path) -> None:
    """Shared preferences read out of a container arrive as bytes; on disk they are opened read-only
    through tessera.evidence (no Path.read_bytes on evidence)."""
    db = tmp_path / "databases" / "msgstore.db"
    write_quirks(db, "current")
    prefs = (
        b'<map><string name="registration_jid">34699000000</string><string name="push_name">Q</string></map>'
    )

    def sibling(rel: str) -> Opener | None:
        return Opener(data=prefs) if rel.endswith("com.whatsapp_preferences_light.xml") else None

    ctx = ParseContext(
        locator="/x.zip!/databases/msgstore.db",
        opener=Opener(data=db.read_bytes()),
        scratch=tmp_path / "scratch",
        sibling=sibling,
    )
    owners = [
        a for a in WhatsAppMsgstoreParser().parse(ctx) if isinstance(a, AccountRecord) and a.is_device_owner
    ]
    assert [(a.raw_id, a.display_name, a.locator) for a in owners] == [
        (
            "34699000000@s.whatsapp.net",
            "Q",
            "/x.zip!/databases/../shared_prefs/com.whatsapp_preferences_light.xml",
        )
    ]
