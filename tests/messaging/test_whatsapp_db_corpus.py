"""The real WhatsApp for Android database of IPED's test suite (June 2021, mid-migration), read in
place from ../shared/corpus and checked against the database itself, read independently with sqlite3,
and against IPED's own figures (74 messages; 384 contact entries, 365 phone numbers in wa.db)."""

from __future__ import annotations

import posixpath
import re
import sqlite3
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tessera.evidence import iter_evidence
from tessera.messaging.base import ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
)
from tessera.messaging.whatsapp_db import WhatsAppMsgstoreParser
from tessera.records import Opener

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "messaging" / "iped"
DB, WA = CORPUS / "msgstore.db", CORPUS / "wa.db"
pytestmark = pytest.mark.skipif(
    not (DB.is_file() and WA.is_file()),
    reason=f"the shared corpus (IPED's msgstore.db and wa.db) is not at {CORPUS}",
)
DEVICE = "IPED-1"
OWNER = f"whatsapp:owner@{DEVICE}"
_DEVICE_SUFFIX = re.compile(r"^\d+[.:]")


def _oracle(sql: str, db: Path = DB) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _parse(options: dict[str, str] | None = None) -> tuple[list[MessagingRecord], ParseContext]:
    def sibling(rel: str) -> Opener | None:
        q = CORPUS / rel
        return Opener(path=str(q)) if q.is_file() else None

    ctx = ParseContext(
        locator=str(DB),
        opener=Opener(path=str(DB)),
        scratch=Path("/nonexistent-scratch-never-needed"),
        sibling=sibling,
        device_id=DEVICE,
        options=dict(options or {}),
    )
    return list(WhatsAppMsgstoreParser().parse(ctx)), ctx


@pytest.fixture(scope="module")
def parsed() -> tuple[list[MessagingRecord], ParseContext]:
    return _parse()


def _of(records: list[MessagingRecord], cls: type) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


def test_74_messages_with_their_times(parsed: tuple[list[MessagingRecord], ParseContext]) -> None:
    records, _ = parsed
    messages = _of(records, MessageRecord)
    assert len(messages) == 74  # IPED's own expectation
    rows = _oracle(
        "SELECT _id, key_remote_jid, key_id, timestamp, data FROM messages WHERE _id > 1 ORDER BY _id"
    )
    assert [r[0] for r in rows] == list(range(2, 76))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    expected = {
        f"{DB}#messages/{mid}": (chat, key, epoch + timedelta(milliseconds=ts), text)
        for mid, chat, key, ts, text in rows
    }
    got = {m.locator: (m.chat, m.raw_id, m.time, m.text) for m in messages}
    assert got == expected
    texts = sorted((m for m in messages if m.kind == "text"), key=lambda m: m.time)
    assert texts[0].time == datetime(2021, 6, 14, 18, 55, 54, 96_000, tzinfo=UTC)  # IPED: 18:55:54Z
    assert [m.sender for m in texts] == [OWNER] * 3 + ["556183125151@s.whatsapp.net"]


def test_groups_and_members_as_group_participant_user_lists_them(
    parsed: tuple[list[MessagingRecord], ParseContext],
) -> None:
    records, _ = parsed
    rows = _oracle(
        "SELECT g.raw_string, u.raw_string, p.rank FROM group_participant_user p "
        "JOIN jid g ON g._id = p.group_jid_row_id JOIN jid u ON u._id = p.user_jid_row_id"
    )
    assert len(rows) == 156

    def account(raw: str) -> str:
        if raw == "status_me":
            return OWNER
        user, _, server = raw.partition("@")
        return re.split(r"[.:]", user)[0] + "@" + server

    roles = {0: "member", 1: "admin", 2: "creator"}
    expected = {(g, account(u), roles[rank]) for g, u, rank in rows}
    assert len(expected) == 156
    got = [(ms.chat, ms.account, ms.role) for ms in _of(records, MembershipRecord)]
    assert len(got) == 156 and set(got) == expected
    groups = {c.raw_id: c for c in _of(records, ChatRecord) if c.kind == "group"}
    assert len(groups) == 18 and {g for g, _, _ in got} == set(groups)
    assert sum(1 for _, a, _ in got if a == OWNER) == 18  # the owner is in every group
    titles = dict(_oracle("SELECT j.raw_string, c.subject FROM chat c JOIN jid j ON j._id = c.jid_row_id"))
    assert all(c.title == titles[jid] for jid, c in groups.items())


def test_accounts_without_device_suffixes(parsed: tuple[list[MessagingRecord], ParseContext]) -> None:
    records, _ = parsed
    accounts = _of(records, AccountRecord)
    everywhere = {a.raw_id for a in accounts}
    for m in _of(records, MessageRecord):
        everywhere.update([m.sender or "", *m.targets])
    everywhere.update(ms.account for ms in _of(records, MembershipRecord))
    assert "status_me" not in everywhere and not any("status_me" in x for x in everywhere)
    for a in accounts:
        assert not _DEVICE_SUFFIX.match(a.raw_id), a
        if a.phone is not None:
            assert a.phone == "+" + a.raw_id.partition("@")[0], a  # exactly the JID's user digits
    by_id = {a.raw_id: a for a in accounts if a.locator and "#jid/" in a.locator}
    a = by_id["556199120446@s.whatsapp.net"]
    assert a.phone == "+556199120446" and "556199120446.0:0@s.whatsapp.net" in a.aliases
    # A person known only by a device JID (no user row) is still one account under the user JID.
    b = by_id["556186143035@s.whatsapp.net"]
    assert b.aliases == ["556186143035.0:0@s.whatsapp.net"] and b.phone == "+556186143035"
    device_rows = _oracle("SELECT raw_string FROM jid WHERE type = 17")
    assert len(device_rows) == 285
    aliased = {x for acc in accounts for x in acc.aliases}
    assert {r[0] for r in device_rows} <= aliased  # every device JID kept, raw, as an alias
    owners = [a for a in accounts if a.is_device_owner]
    assert [a.raw_id for a in owners] == [OWNER]


def test_owner_given(tmp_path: Path) -> None:
    records, _ = _parse({"owner": "+55 61 8614-3035"})
    me = "556186143035@s.whatsapp.net"
    owners = [a for a in _of(records, AccountRecord) if a.is_device_owner]
    assert [(a.raw_id, a.phone) for a in owners] == [(me, "+556186143035")]
    assert owners[0].aliases == ["556186143035.0:0@s.whatsapp.net"]  # its device JID: the owner's
    assert sum(1 for a in _of(records, AccountRecord) if a.raw_id == me) == 1
    assert sum(1 for ms in _of(records, MembershipRecord) if ms.account == me) == 18


def test_coverage_adds_up(parsed: tuple[list[MessagingRecord], ParseContext]) -> None:
    _, ctx = parsed
    cov = ctx.coverage.to_json()
    units = {k: (u["present"], u["parsed"], u["ignored"], u["skipped"]) for k, u in cov["units"].items()}
    assert units["messages"] == (75, 74, 1, 0)
    assert units["message"] == (1, 0, 1, 0)
    assert units["group_participant_user"] == (156, 156, 0, 0)
    assert units["group_participants"] == (0, 0, 0, 0)
    held = _oracle("SELECT COUNT(*) FROM wa_contacts", WA)[0][0]
    assert units["wa_contacts"][0] == held == 389 and units["wa_contacts"][3] == 0
    reasons = {(r["unit"], r["reason"]): r for r in cov["reasons"]}
    assert reasons[("messages", "WhatsApp's sentinel row (key_remote_jid '-1')")]["examples"] == [
        f"{DB}#messages/1"
    ]
    assert ("message", "WhatsApp's placeholder row (chat_row_id -1, key_id '-1')") in reasons
    assert "schema: legacy+current (migration era)" in cov["notes"]
    assert ctx.coverage.status() == "complete" and not ctx.coverage.unaccounted()


def test_wa_db_contacts(parsed: tuple[list[MessagingRecord], ParseContext]) -> None:
    """IPED lists 384 contact entries (distinct JIDs) and 365 phone numbers: every user JID of
    wa.db is an account, the 18 groups are chats."""
    records, _ = parsed
    jids = {r[0] for r in _oracle("SELECT DISTINCT jid FROM wa_contacts", WA)}
    assert len(jids) == 384
    users = {j for j in jids if j.endswith("@s.whatsapp.net")}
    assert len(users) == 365
    accounts = {a.raw_id for a in _of(records, AccountRecord)}
    assert users <= accounts
    assert {j for j in jids if j.endswith("@g.us")} <= {c.raw_id for c in _of(records, ChatRecord)}


# --- the same database inside an archive -----------------------------------------------------------

_IN_ARCHIVE = "data/data/com.whatsapp/databases/"


def _from_archive(archive: Path, tmp_path: Path) -> tuple[list[MessagingRecord], ParseContext]:
    """Walk the archive with tessera.evidence as an ingest would, and parse the member."""
    members = {it.locator: it for it in iter_evidence(archive.parent) if it.opener is not None}
    db = next(loc for loc in members if loc.endswith("/msgstore.db"))
    folder = db.rsplit("/", 1)[0]

    def sibling(rel: str) -> Opener | None:
        item = members.get(posixpath.normpath(f"{folder}/{rel}"))
        return item.opener if item is not None else None

    opener = members[db].opener
    assert opener is not None and opener.data is not None  # bytes out of the archive
    ctx = ParseContext(
        locator=db, opener=opener, scratch=tmp_path / "scratch", sibling=sibling, device_id=DEVICE
    )
    return list(WhatsAppMsgstoreParser().parse(ctx)), ctx


def _comparable(records: list[MessagingRecord]) -> list[Any]:
    out = []
    for r in records:
        loc = (r.locator or "").split("#", 1)[-1] if r.locator else None
        if isinstance(r, AccountRecord) and r.is_device_owner:
            loc = None  # the owner's record points at the database itself
        out.append((type(r).__name__, *(getattr(r, f) for f in r.__slots__ if f != "locator"), loc))
    return out


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_same_result_inside_an_archive(
    kind: str, parsed: tuple[list[MessagingRecord], ParseContext], tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    archive = evidence / f"extraction.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(DB, _IN_ARCHIVE + "msgstore.db")
            zf.write(WA, _IN_ARCHIVE + "wa.db")
    else:
        with tarfile.open(archive, "w") as tf:
            tf.add(DB, _IN_ARCHIVE + "msgstore.db")
            tf.add(WA, _IN_ARCHIVE + "wa.db")
    records, ctx = _from_archive(archive, tmp_path)
    folder_records, folder_ctx = parsed
    assert records[0].locator is not None and f"extraction.{kind}!/" in records[-1].locator  # type: ignore[operator]
    assert _comparable(records) == _comparable(folder_records)
    assert ctx.coverage.to_json()["units"] == folder_ctx.coverage.to_json()["units"]
    assert ctx.coverage.status() == "complete"
