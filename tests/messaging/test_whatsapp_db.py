"""WhatsApp msgstore.db parser against the synthetic network's ground truth (both schemas)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.whatsapp_db import WhatsAppMsgstoreParser, media_candidates, parse_file
from tessera.records import Opener
from tessera.synth.msgstore import uses_lid, write_big_msgstore, write_phone_tree
from tessera.synth.network import Network, Seizure, make_network

PARSER = WhatsAppMsgstoreParser()


@pytest.fixture(scope="module")
def net() -> Network:
    return make_network(7, n_posts=240, image_size=(64, 48))


def _phone(net: Network) -> Seizure:
    return next(s for s in net.seizures if s.format == "msgstore-current")


@pytest.fixture(scope="module", params=["current", "legacy"])
def tree(
    request: pytest.FixtureRequest, net: Network, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    schema = request.param
    out = write_phone_tree(net, _phone(net), tmp_path_factory.mktemp(schema), schema=schema)
    out["schema"] = schema
    return out


def _parse(path: Path, tmp: Path, **kw: Any) -> list[MessagingRecord]:
    return list(parse_file(path, scratch=tmp / "scratch", **kw))


def _of(records: list[MessagingRecord], cls: type) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


def _resolver(records: list[MessagingRecord]) -> dict[str, str]:
    """@lid raw id -> phone JID, from the account records' aliases."""
    out = {}
    for a in _of(records, AccountRecord):
        if a.raw_id.endswith("@lid"):
            phones = [x for x in a.aliases if x.endswith("@s.whatsapp.net")]
            assert len(phones) == 1, a
            out[a.raw_id] = phones[0]
    return out


def test_registered() -> None:
    assert "whatsapp-msgstore" in PARSERS
    assert PARSERS.get("whatsapp-msgstore").name == "whatsapp-msgstore"


def test_round_trip(net: Network, tree: dict[str, Any], tmp_path: Path) -> None:
    seizure = _phone(net)
    assert seizure.owner is not None
    owner = net.people[seizure.owner]
    records = _parse(tree["msgstore"], tmp_path, owner=owner.wa_jid)
    lid = _resolver(records)

    def phone(raw: str | None) -> str | None:
        return lid.get(raw, raw) if raw else raw

    # Every visible post comes back once, with sender, chat, exact time, kind, forwarding and media.
    expected: Counter[tuple[Any, ...]] = Counter()
    for p in net.visible(seizure):
        sha = hashlib.sha256(net.items[p.item].data).hexdigest() if p.item else None
        expected[
            (
                net.groups[p.group].wa_jid,
                net.people[p.sender].wa_jid,
                p.time,
                p.kind,
                p.forwarded,
                p.text,
                sha,
            )
        ] += 1
    messages = _of(records, MessageRecord)
    got = Counter(
        (m.chat, phone(m.sender), m.time, m.kind, m.forwarded, m.text, m.media.sha256 if m.media else None)
        for m in messages
        if m.kind != "system"
    )
    assert got == expected
    for m in messages:
        table = "message" if tree["schema"] == "current" else "messages"  # locators name the table
        assert m.time.utcoffset() is not None and m.locator.startswith(f"{tree['msgstore']}#{table}/")
        assert m.from_me == (m.sender == owner.wa_jid)
        if m.kind == "image":
            assert m.media is not None and m.media.mime == "image/jpeg" and m.media.size
            if tree["schema"] == "current":
                assert m.media.path is not None and m.media.path.startswith("Media/WhatsApp Images/")
                assert m.media.path in tree["present"] or m.media.path in tree["deleted"]
            else:
                assert m.media.path is None and m.media.file_name

    # Group events: the creator adds later members (the current schema also records "added you").
    creators = {net.groups[g].wa_jid: net.people[net.groups[g].creator].wa_jid for g in seizure.groups}
    members = {net.groups[g].wa_jid: {net.people[k].wa_jid for k in net.members[g]} for g in seizure.groups}
    added = [m for m in messages if m.action == "added"]
    assert added
    for m in added:
        if tree["schema"] == "current" or m.from_me:
            assert phone(m.sender) == creators[m.chat]
        else:
            assert m.sender is None  # legacy rows name the member added, not who added them
        assert m.targets and {phone(t) for t in m.targets} <= members[m.chat]
    if tree["schema"] == "current":
        assert any(owner.wa_jid in m.targets for m in added)

    # Memberships with roles; the owner's own rows map to the owner.
    roles = {
        (net.groups[g].wa_jid, net.people[k].wa_jid): (
            "creator" if k == net.groups[g].creator else "admin" if j == 1 else "member"
        )
        for g in seizure.groups
        for j, k in enumerate(net.members[g])
    }
    got_roles = {(ms.chat, phone(ms.account)): ms.role for ms in _of(records, MembershipRecord)}
    assert got_roles == roles

    chats = {c.raw_id: c for c in _of(records, ChatRecord)}
    assert set(chats) == set(creators)
    for g in seizure.groups:
        c = chats[net.groups[g].wa_jid]
        assert (c.title, c.kind, c.created_at) == (net.groups[g].title, "group", net.groups[g].created)
        assert phone(c.creator) == creators[c.raw_id]

    accounts = {a.raw_id: a for a in _of(records, AccountRecord)}
    assert [a.raw_id for a in accounts.values() if a.is_device_owner] == [owner.wa_jid]
    seen = net.seen_on(seizure) - {seizure.owner}
    for key in seen:
        person = net.people[key]
        a = accounts[person.wa_jid]
        assert a.display_name == person.name  # wa.db: address-book name or the account's own
        assert a.phone == person.phone
        if tree["schema"] == "current" and uses_lid(key):
            assert accounts[person.lid].aliases == [person.wa_jid]
            assert accounts[person.lid].display_name == person.name
    assert any(uses_lid(k) for k in seen)


def test_owner_from_shared_prefs(net: Network, tree: dict[str, Any], tmp_path: Path) -> None:
    """Without an option, the owner comes from WhatsApp's shared preferences beside databases/."""
    seizure = _phone(net)
    assert seizure.owner is not None
    person = net.people[seizure.owner]
    records = _parse(tree["msgstore"], tmp_path)
    owners = [a for a in _of(records, AccountRecord) if a.is_device_owner]
    assert [(a.raw_id, a.phone, a.display_name) for a in owners] == [
        (person.wa_jid, person.phone, person.name)
    ]
    assert owners[0].locator is not None and owners[0].locator.endswith("com.whatsapp_preferences_light.xml")
    mine = [m for m in _of(records, MessageRecord) if m.from_me]
    assert mine and all(m.sender == person.wa_jid for m in mine)


def test_owner_placeholder(tree: dict[str, Any], tmp_path: Path) -> None:
    """A database alone (a backup on the SD card): the owner is a documented placeholder."""
    alone = tmp_path / "WhatsApp" / "Databases"
    alone.mkdir(parents=True)
    shutil.copy(tree["msgstore"], alone / "msgstore.db")
    records = _parse(alone / "msgstore.db", tmp_path, device_id="P-01")
    owners = [a for a in _of(records, AccountRecord) if a.is_device_owner]
    assert [a.raw_id for a in owners] == ["whatsapp:owner@P-01"]
    assert owners[0].phone is None
    mine = [m for m in _of(records, MessageRecord) if m.from_me]
    assert mine and all(m.sender == "whatsapp:owner@P-01" for m in mine)


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_evidence_untouched(tree: dict[str, Any], tmp_path: Path) -> None:
    folder = tree["msgstore"].parent
    before = _fingerprint(folder)
    _parse(tree["msgstore"], tmp_path)
    assert _fingerprint(folder) == before  # same files, bytes and mtimes: no -wal, -shm or -journal
    assert set(before) == {"msgstore.db", "wa.db"}


def _new_message(conn: sqlite3.Connection, schema: str, ts: int, text: str) -> None:
    if schema == "current":
        chat = conn.execute("SELECT _id FROM chat LIMIT 1").fetchone()[0]
        conn.execute(
            "INSERT INTO message (chat_row_id, from_me, key_id, sender_jid_row_id, timestamp, message_type, "
            "text_data) VALUES (?, 1, 'WALKEY', 0, ?, 0, ?)",
            (chat, ts, text),
        )
    else:
        chat = conn.execute("SELECT key_remote_jid FROM chat_list LIMIT 1").fetchone()[0]
        conn.execute(
            "INSERT INTO messages (key_remote_jid, key_from_me, key_id, status, timestamp, media_wa_type, "
            "data) VALUES (?, 1, 'WALKEY', 13, ?, '0', ?)",
            (chat, ts, text),
        )


def test_wal_read_via_scratch_copy(tree: dict[str, Any], tmp_path: Path) -> None:
    work, evidence = tmp_path / "work", tmp_path / "evidence"
    work.mkdir()
    evidence.mkdir()
    shutil.copy(tree["msgstore"], work / "msgstore.db")
    conn = sqlite3.connect(work / "msgstore.db")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    with conn:
        _new_message(conn, tree["schema"], 1_709_283_845_123, "only in the WAL")
    # Seize the pair while the app still holds it: the new row lives only in the -wal file.
    shutil.copy(work / "msgstore.db", evidence / "msgstore.db")
    shutil.copy(work / "msgstore.db-wal", evidence / "msgstore.db-wal")
    conn.close()
    before = _fingerprint(evidence)
    scratch = tmp_path / "scratch"
    records = list(parse_file(evidence / "msgstore.db", scratch=scratch))
    texts = {m.text: m for m in _of(records, MessageRecord)}
    assert "only in the WAL" in texts
    assert texts["only in the WAL"].time.microsecond == 123_000  # milliseconds kept
    assert _fingerprint(evidence) == before  # no -shm beside the evidence, nothing checkpointed into it
    assert list(scratch.iterdir()) == []  # the copy is removed after the parse


def test_bytes_opener(tree: dict[str, Any], tmp_path: Path) -> None:
    """A database read out of a container arrives as bytes and is deserialised, not written out."""
    folder = tree["msgstore"].parent

    def sibling(name: str) -> Opener | None:
        p = folder / name
        return Opener(data=p.read_bytes()) if p.is_file() else None

    ctx = ParseContext(
        locator="/backup.zip!/databases/msgstore.db",
        opener=Opener(data=tree["msgstore"].read_bytes()),
        scratch=tmp_path,
        sibling=sibling,
    )
    from_bytes = list(PARSER.parse(ctx))
    from_file = _parse(tree["msgstore"], tmp_path)
    assert len(from_bytes) == len(from_file)
    assert from_bytes[-1].locator.startswith("/backup.zip!/databases/msgstore.db#message")  # type: ignore[union-attr]


def test_private_chat_and_millis(tree: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    shutil.copy(tree["msgstore"], db)
    peer = "447700900123@s.whatsapp.net"
    with sqlite3.connect(db) as conn:
        if tree["schema"] == "current":
            jid = conn.execute(
                "INSERT INTO jid (user, server, raw_string) VALUES ('447700900123', 's.whatsapp.net', ?)",
                (peer,),
            ).lastrowid
            chat = conn.execute("INSERT INTO chat (jid_row_id) VALUES (?)", (jid,)).lastrowid
            conn.execute(
                "INSERT INTO message (chat_row_id, from_me, key_id, sender_jid_row_id, timestamp, "
                "message_type, text_data) VALUES (?, 0, 'PRIV1', 0, 1709283845999, 0, 'hello')",
                (chat,),
            )
        else:
            conn.execute(
                "INSERT INTO messages (key_remote_jid, key_from_me, key_id, status, timestamp, "
                "media_wa_type, data) VALUES (?, 0, 'PRIV1', 0, 1709283845999, '0', 'hello')",
                (peer,),
            )
    records = _parse(db, tmp_path)
    msg = next(m for m in _of(records, MessageRecord) if m.raw_id == "PRIV1")
    assert (msg.chat, msg.sender, msg.text) == (peer, peer, "hello")
    assert msg.time.microsecond == 999_000 and msg.time.second == 5
    chat_rec = next(c for c in _of(records, ChatRecord) if c.raw_id == peer)
    assert chat_rec.kind == "private"
    assert any(a.raw_id == peer for a in _of(records, AccountRecord))


def test_not_whatsapp(tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE foo (x)")
    with pytest.raises(
        ParseError, match=r"msgstore\.db: not a WhatsApp msgstore database: missing table message/messages"
    ):
        _parse(db, tmp_path)
    db.unlink()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE message (_id INTEGER PRIMARY KEY, key_id TEXT)")
        conn.execute("CREATE TABLE jid (_id INTEGER PRIMARY KEY, raw_string TEXT)")
    with pytest.raises(ParseError) as err:
        _parse(db, tmp_path)
    text = str(err.value)
    assert "current schema" in text and "message.chat_row_id" in text and "table chat" in text


def test_truncated(tree: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    data = tree["msgstore"].read_bytes()
    db.write_bytes(data[: len(data) * 2 // 5])
    it: Iterator[MessagingRecord] = parse_file(db, scratch=tmp_path / "s")
    with pytest.raises(ParseError, match=r"msgstore\.db"):
        next(it)  # raised before the first record: nothing half-read reaches the pipeline


def test_encrypted_backup(tmp_path: Path) -> None:
    for name in ("msgstore.db.crypt14", "msgstore-2024-03-01.1.db.crypt15", "msgstore.db.crypt12"):
        path = tmp_path / name
        path.write_bytes(os.urandom(4096))
        with pytest.raises(ParseError) as err:
            _parse(path, tmp_path)
        assert str(err.value) == (
            f"{name} is an encrypted WhatsApp backup; decrypt it (with the key from the device) "
            "and ingest the decrypted msgstore.db"
        )


def test_garbage_named_msgstore(tmp_path: Path) -> None:
    path = tmp_path / "msgstore.db"
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(ParseError, match=r"msgstore\.db: not an SQLite database"):
        _parse(path, tmp_path)
    path.write_bytes(b"")
    with pytest.raises(ParseError, match=r"msgstore\.db: not an SQLite database"):
        _parse(path, tmp_path)


def test_detect(tree: dict[str, Any]) -> None:
    head = tree["msgstore"].read_bytes()[:8192]
    assert PARSER.detect("/data/data/com.whatsapp/databases/msgstore.db", head)
    assert PARSER.detect("/sdcard/WhatsApp/Databases/msgstore.db.crypt14", os.urandom(64))
    assert PARSER.detect("/x/msgstore-2024-03-01.1.db.crypt15", b"")
    assert PARSER.detect("/case/renamed.sqlite", head)  # schema text in the first pages
    assert not PARSER.detect("/data/data/com.whatsapp/databases/wa.db", tree["wa_db"].read_bytes()[:8192])
    assert not PARSER.detect("/sdcard/DCIM/photo.jpg", b"\xff\xd8\xff\xe0" + bytes(100))
    assert not PARSER.detect("/x/other.db", b"SQLite format 3\x00" + bytes(8000))


def test_media_candidates() -> None:
    rel = "Media/WhatsApp Images/IMG-20240301-WA0001.jpg"
    assert media_candidates(rel) == [
        "/sdcard/Android/media/com.whatsapp/WhatsApp/" + rel,
        "/sdcard/WhatsApp/" + rel,
    ]
    assert media_candidates("/storage/emulated/0/WhatsApp/x.jpg") == ["/storage/emulated/0/WhatsApp/x.jpg"]


def test_phone_tree_media(net: Network, tree: dict[str, Any]) -> None:
    assert tree["deleted"] and tree["present"]
    assert len(tree["deleted"]) == round(0.2 * (len(tree["deleted"]) + len(tree["present"])))
    for rel, sha in tree["present"].items():
        assert hashlib.sha256((tree["media_root"] / rel).read_bytes()).hexdigest() == sha
    for rel in tree["deleted"]:
        assert not (tree["media_root"] / rel).exists()


def test_streams_in_bounded_memory(tmp_path: Path) -> None:
    db = tmp_path / "big" / "msgstore.db"
    write_big_msgstore(db, n_messages=60_000, n_groups=10, n_accounts=800, seed=3)
    tracemalloc.start()
    kinds: Counter[str] = Counter()
    for rec in parse_file(db, scratch=tmp_path / "s"):
        if isinstance(rec, MessageRecord):
            kinds[rec.kind] += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert kinds["text"] + kinds["image"] == 60_000 and kinds["image"] > 5000
    assert peak < 8 * 1024 * 1024, peak  # 60,000 records held at once would take far more
