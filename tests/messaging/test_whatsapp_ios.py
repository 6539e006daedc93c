"""WhatsApp for iOS ``ChatStorage.sqlite`` (plugin "whatsapp-ios") on databases written by
``tessera.synth.chatstorage``: everything written read back, the declared structure, the
reconciliation of damaged databases, evidence left untouched, and through ``tessera ingest``: media
linked under the container's ``Message/`` folder and one account per person across Android and iOS."""

from __future__ import annotations

import hashlib
import sqlite3
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging.coverage import Coverage
from tessera.messaging.detect import detect_parser
from tessera.messaging.records import AccountRecord, ChatRecord, MembershipRecord, MessageRecord, ParseError
from tessera.messaging.whatsapp_ios import parse_file
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.chatstorage import write_chatstorage
from tessera.synth.msgstore import write_big_msgstore


def _parse(path: Path, tmp: Path, **kw: Any) -> tuple[list[Any], Coverage]:
    cov = Coverage()
    return list(parse_file(path, scratch=tmp / "scratch", coverage=cov, device_id="I1", **kw)), cov


def _of(records: list[Any], cls: type) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


def test_everything_written_is_read_back(tmp_path: Path) -> None:
    truth = write_chatstorage(tmp_path / "c", n_messages=400, seed=3)
    records, cov = _parse(truth.path, tmp_path)
    msgs = _of(records, MessageRecord)
    assert len(msgs) == truth.messages
    assert dict(Counter(x.raw["message_type"] for x in msgs)) == truth.per_type
    assert {6, 10} <= set(truth.per_type) and all(
        x.kind == "system" for x in msgs if x.raw["message_type"] in (6, 10)
    )
    assert sum(x.from_me for x in msgs) == truth.from_me and all(
        x.sender == truth.owner for x in msgs if x.from_me
    )
    assert dict(Counter(x.chat for x in msgs)) == truth.chats  # rows, not ZMESSAGECOUNTER
    got_times = {int(x.locator.rsplit("/", 1)[1]): x.time for x in msgs}
    assert got_times == {pk: datetime.fromtimestamp(t, UTC) for pk, t in truth.times.items()}
    # incoming one-to-one rows without ZFROMJID are the peer's; group events have no sender
    private = {j for j in truth.chats if j not in truth.groups}
    assert all(x.sender == x.chat for x in msgs if x.chat in private and not x.from_me)
    assert all(x.sender is None for x in msgs if x.raw["message_type"] in (6, 10) and x.chat in truth.groups)
    chats = {c.raw_id: c for c in _of(records, ChatRecord)}
    assert {j: c.title for j, c in chats.items()} == truth.titles
    assert {j for j, c in chats.items() if c.kind == "group"} == truth.groups
    members = {(ms.chat, ms.account) for ms in _of(records, MembershipRecord)}
    assert members == truth.members
    accounts: dict[str, AccountRecord] = {}
    for a in _of(records, AccountRecord):
        accounts.setdefault(a.raw_id, a)  # the account's own record comes first
    assert truth.lid_members and all(accounts[j].phone is None for j in truth.lid_members)
    names: dict[str, set[str]] = {}
    for a in _of(records, AccountRecord):
        if a.display_name:
            names.setdefault(a.raw_id, set()).add(a.display_name)
    assert all(n in names[j] for j, n in truth.push_names.items())  # incl. people no chat names
    assert all(n in names[j] for j, n in truth.contacts.items())
    media = [x.media.path for x in msgs if x.media and x.media.path]
    assert sorted(media) == sorted(truth.media_paths)
    assert cov.status() == "complete", cov.summary()
    assert cov.units["ZWAGROUPMEMBER"].ignored == truth.duplicate_member_rows
    assert cov.units["ZWAGROUPMEMBER"].present == truth.member_rows
    assert cov.units["ZWAADDRESSBOOKCONTACT"].ignored == truth.contacts_without_id
    assert cov.units["ZWAMEDIAITEM"].parsed == truth.media_items


def test_missing_structure_is_named(tmp_path: Path) -> None:
    db = tmp_path / "ChatStorage.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE ZWAMESSAGE (Z_PK INTEGER PRIMARY KEY, ZCHATSESSION INTEGER, ZTEXT VARCHAR)")
    conn.execute(
        "CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, ZCONTACTJID VARCHAR, ZPARTNERNAME VARCHAR)"
    )
    conn.commit()
    conn.close()
    with pytest.raises(ParseError) as err:
        _parse(db, tmp_path)
    text = str(err.value)
    assert (
        "ChatStorage.sqlite" in text and "ZWAMESSAGE.ZISFROMME" in text and "ZWAMESSAGE.ZMESSAGEDATE" in text
    )
    assert "table ZWAGROUPMEMBER" in text and "table ZWAMEDIAITEM" in text


def test_damage_is_counted_never_silent(tmp_path: Path) -> None:
    truth = write_chatstorage(
        tmp_path / "c", n_messages=300, orphan_media=2, lost_chat_rows=3, undated_rows=2
    )
    records, cov = _parse(truth.path, tmp_path)
    msgs = _of(records, MessageRecord)
    unit = cov.units["ZWAMESSAGE"]
    assert (unit.present, unit.parsed, unit.skipped) == (300, 298, 2) and not cov.unaccounted()
    lost = [x for x in msgs if x.chat.startswith("whatsapp:chat-row-")]
    assert len(lost) == truth.lost_chat_rows and all("ZCHATSESSION" in x.raw for x in lost)
    assert cov.units["ZWAMEDIAITEM"].skipped == 2
    assert cov.status() == "partial"
    problem = cov.problem() or ""
    assert "2 ZWAMEDIAITEM skipped" in problem and "2 ZWAMESSAGE skipped: no date" in problem


def test_owner_given_and_owner_not_guessed(tmp_path: Path) -> None:
    truth = write_chatstorage(tmp_path / "c", n_messages=60)
    records, _ = _parse(truth.path, tmp_path, owner="+1 202 555 9999")
    me = [a for a in _of(records, AccountRecord) if a.is_device_owner]
    assert [a.raw_id for a in me] == ["12025559999@s.whatsapp.net"]
    assert all(x.sender == me[0].raw_id for x in _of(records, MessageRecord) if x.from_me)
    conn = sqlite3.connect(truth.path)  # a second recipient: the owner is no longer read from ZTOJID
    last_in = "SELECT MAX(Z_PK) FROM ZWAMESSAGE WHERE ZISFROMME = 0"
    conn.execute(f"UPDATE ZWAMESSAGE SET ZTOJID = '12025558888@s.whatsapp.net' WHERE Z_PK = ({last_in})")
    conn.commit()
    conn.close()
    records, cov = _parse(truth.path, tmp_path)
    me = [a for a in _of(records, AccountRecord) if a.is_device_owner]
    assert [a.raw_id for a in me] == ["whatsapp:owner@I1"] and any(
        "several recipients" in n for n in cov.notes
    )


def test_detection_by_name_and_by_schema(tmp_path: Path) -> None:
    truth = write_chatstorage(tmp_path / "c", n_messages=20)
    head = truth.path.read_bytes()[:65536]
    assert detect_parser("/x/ChatStorage.sqlite", head) == "whatsapp-ios"
    assert detect_parser("/x/renamed-copy.db", head) == "whatsapp-ios"  # the schema tells
    contacts = (tmp_path / "c" / "ContactsV2.sqlite").read_bytes()[:65536]
    assert detect_parser("/x/ContactsV2.sqlite", contacts) is None  # a companion, not a source
    assert detect_parser("/x/ChatStorage.sqlite", b"not sqlite") is None


def test_evidence_is_never_written(tmp_path: Path) -> None:
    truth = write_chatstorage(tmp_path / "c", n_messages=50)
    before = {
        p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in truth.path.parent.iterdir()
    }
    _parse(truth.path, tmp_path)
    after = {
        p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in truth.path.parent.iterdir()
    }
    assert after == before  # no -wal, -shm or journal appeared beside the evidence


def test_ingest_links_media_under_message_folder(case: CaseHandle, tmp_path: Path) -> None:
    container = (
        tmp_path / "phone/private/var/mobile/Containers/Shared/AppGroup/0A1B2C3D-0000-4000-8000-000000000001"
    )
    truth = write_chatstorage(container, n_messages=200, plant_media=True)
    res = ingest(case, tmp_path / "phone", IngestOptions("I1", kind="phone", workers=0))
    assert res.errors == 0, res.problems
    with case.session() as s:
        src = s.scalars(select(m.MessagingSource)).one()
        assert (src.parser, src.status, src.messages) == ("whatsapp-ios", "complete", truth.messages)
        linked = dict(
            s.execute(
                select(m.Message.media_path, m.Message.media_sha256).where(m.Message.media_path.is_not(None))
            ).all()
        )
    assert linked == truth.media_paths and all(linked.values())


def test_one_account_per_person_across_android_and_ios(case: CaseHandle, tmp_path: Path) -> None:
    android = tmp_path / "android" / "msgstore.db"
    android.parent.mkdir()
    write_big_msgstore(android, n_messages=300, n_groups=2, n_accounts=12, seed=1)
    conn = sqlite3.connect(android)
    jids = [
        r[0] for r in conn.execute("SELECT raw_string FROM jid WHERE server = 's.whatsapp.net' ORDER BY _id")
    ]
    conn.close()
    truth = write_chatstorage(
        tmp_path / "ios", n_messages=150, n_groups=1, members_per_group=4, people=jids[:6], lids=True
    )
    ingest(case, android.parent, IngestOptions("A1", kind="phone", workers=0))
    ingest(case, tmp_path / "ios", IngestOptions("I1", kind="phone", workers=0))
    with case.session() as s:
        for jid in jids[:4]:
            accounts = set(s.scalars(select(m.AccountAlias.account_id).where(m.AccountAlias.raw_id == jid)))
            assert len(accounts) == 1, jid
            acc = s.get(m.Account, accounts.pop())
            assert acc is not None and acc.platform == "whatsapp" and acc.phone == "+" + jid.split("@")[0]
        devices = {
            (jid, dev)
            for jid, dev in s.execute(
                select(m.AccountAlias.raw_id, m.Message.device_id)
                .join(m.Message, m.Message.sender_id == m.AccountAlias.account_id)
                .where(m.AccountAlias.raw_id.in_(jids[:6]))
                .distinct()
            )
        }
        for lid, phone in truth.lid_phone.items():  # LID.sqlite: the @lid and the number are one account
            ids = set(
                s.scalars(select(m.AccountAlias.account_id).where(m.AccountAlias.raw_id.in_([lid, phone])))
            )
            assert len(ids) == 1, (lid, phone)
    both = {j for j, d in devices if d == "A1"} & {j for j, d in devices if d == "I1"}
    assert both, "some person sent messages on both phones: one account carries both"
    assert truth.owner not in jids


def test_committed_rows_in_the_wal_are_read(tmp_path: Path) -> None:
    """A live iPhone's ChatStorage keeps recent messages in ``-wal``: copied with the database into
    scratch space and replayed there, never into the evidence."""
    truth = write_chatstorage(tmp_path / "w", n_messages=40, contacts=False)
    conn = sqlite3.connect(truth.path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(
        "INSERT INTO ZWAMESSAGE (Z_PK, ZCHATSESSION, ZISFROMME, ZMESSAGETYPE, ZMESSAGEDATE, ZTEXT, "
        "ZSTANZAID) VALUES (41, 1, 1, 0, 800000000.5, 'only in the wal', '3AWAL')"
    )
    conn.commit()
    seized = tmp_path / "seized"
    seized.mkdir()
    for name in ("ChatStorage.sqlite", "ChatStorage.sqlite-wal"):  # copied while the app holds it open
        (seized / name).write_bytes((truth.path.parent / name).read_bytes())
    conn.close()
    wal = (seized / "ChatStorage.sqlite-wal").read_bytes()
    assert len(wal) > 0
    records, cov = _parse(seized / "ChatStorage.sqlite", tmp_path)
    msgs = _of(records, MessageRecord)
    assert len(msgs) == 41 and cov.units["ZWAMESSAGE"].present == 41
    last = next(x for x in msgs if x.raw_id == "3AWAL")
    assert last.text == "only in the wal" and last.time == datetime(
        2026, 5, 9, 6, 13, 20, 500000, tzinfo=UTC
    )  # 1778307200.5
    assert (seized / "ChatStorage.sqlite-wal").read_bytes() == wal and not (
        seized / "ChatStorage.sqlite-shm"
    ).exists()


def test_lid_sqlite_links_privacy_ids_to_numbers(tmp_path: Path) -> None:
    truth = write_chatstorage(tmp_path / "l", n_messages=80, lids=True)
    records, cov = _parse(truth.path, tmp_path)
    first: dict[str, AccountRecord] = {}
    for a in _of(records, AccountRecord):
        first.setdefault(a.raw_id, a)
    assert truth.lid_phone
    for lid, phone in truth.lid_phone.items():
        assert first[lid].phone is None and phone in first[lid].aliases  # an alias, never a number
        assert lid in first[phone].aliases and first[phone].phone == "+" + phone.split("@")[0]
    unit = cov.units["ZWAZACCOUNT"]
    assert (unit.present, unit.parsed, unit.ignored, unit.skipped) == (
        truth.lid_rows,
        len(truth.lid_phone),
        1,
        1,
    )
    assert "phone number not 7-15 international digits" in (cov.problem() or "")


def test_truncated_database_is_refused_and_a_broken_address_book_costs_only_names(tmp_path: Path) -> None:
    truth = write_chatstorage(tmp_path / "t", n_messages=500)
    data = truth.path.read_bytes()
    cut = tmp_path / "cut" / "ChatStorage.sqlite"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match="ChatStorage.sqlite"):
        _parse(cut, tmp_path)
    (truth.path.parent / "ContactsV2.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    records, cov = _parse(truth.path, tmp_path)
    assert len(_of(records, MessageRecord)) == truth.messages and cov.status() == "complete"
    assert any(n.startswith("ContactsV2.sqlite not read") for n in cov.notes)
    assert "ZWAADDRESSBOOKCONTACT" not in cov.units


def test_ingest_of_a_damaged_chatstorage_stores_nothing_and_fails(case: CaseHandle, tmp_path: Path) -> None:
    truth = write_chatstorage(tmp_path / "phone" / "c", n_messages=300)
    data = truth.path.read_bytes()
    truth.path.write_bytes(data[: len(data) * 2 // 3])
    res = ingest(case, tmp_path / "phone", IngestOptions("D1", kind="phone", workers=0))
    assert res.errors == 1
    with case.session() as s:
        src = s.scalars(select(m.MessagingSource)).one()
        assert src.status == "failed" and "ChatStorage.sqlite" in (src.error or "")
        assert s.scalars(select(m.Message.id)).first() is None


def test_ffs_zip_links_media_inside_the_archive(case: CaseHandle, tmp_path: Path) -> None:
    """A Cellebrite-style full-file-system zip (``filesystem2/`` = ``/private/var/``) holding the
    container with its ``Message/Media`` files: attachments resolve to the archive's members."""
    container = tmp_path / "c"
    truth = write_chatstorage(container, n_messages=120, plant_media=True)
    prefix = "filesystem2/mobile/Containers/Shared/AppGroup/0A1B2C3D-0000-4000-8000-000000000002/"
    archive = tmp_path / "ffs.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(container.rglob("*")):
            if p.is_file():
                z.write(p, prefix + p.relative_to(container).as_posix())
    res = ingest(case, archive, IngestOptions("F1", kind="phone", workers=0))
    assert res.errors == 0, res.problems
    with case.session() as s:
        src = s.scalars(select(m.MessagingSource)).one()
        assert src.status == "complete" and src.locator.endswith(prefix + "ChatStorage.sqlite")
        linked = dict(
            s.execute(
                select(m.Message.media_path, m.Message.media_sha256).where(m.Message.media_path.is_not(None))
            ).all()
        )
    assert truth.media_paths and linked == truth.media_paths
