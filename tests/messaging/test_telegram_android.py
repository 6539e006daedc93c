"""Telegram for Android ``cache4.db``: synthetic round trips of both schema eras (every message and
every field), faults counted as skips, the structure check, and the real IPED app folder of
../shared/corpus/phones/telegram_android (read in place) against its ``.expected.json``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tessera.messaging.coverage import COMPLETE, PARTIAL, Coverage
from tessera.messaging.detect import detect_parser, is_companion
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.telegram import PLATFORM as DESKTOP_PLATFORM
from tessera.messaging.telegram_android import parse_file
from tessera.messaging.telegram_records import chat_raw_id, owner_record
from tessera.synth.cache4 import (
    CHANNEL,
    GONE_CHAT,
    GROUP,
    OWNER,
    SECRET_CHAT,
    SECRET_PEER,
    SUPERGROUP,
    USERS,
    owner_prefs,
    utc,
    write_cache4,
)

PHONES = Path(__file__).resolve().parents[2].parent / "shared/corpus/phones/telegram_android/iped"
REAL = PHONES / "org.telegram.messenger.web/files/account2/cache4.db"


def _parse(path: Path, tmp: Path, **kw: object) -> tuple[list[MessagingRecord], Coverage]:
    cov = Coverage()
    recs = list(parse_file(path, scratch=tmp / "scratch", coverage=cov, device_id="D1", **kw))  # type: ignore[arg-type]
    return recs, cov


@pytest.mark.parametrize("era", ["messages_v2", "messages"])
def test_synthetic_round_trip_every_message_every_field(tmp_path: Path, era: str) -> None:
    n = 60
    written = write_cache4(tmp_path / "files/cache4.db", n, era=era)
    owner_prefs(tmp_path / "shared_prefs/userconfing.xml", era == "messages_v2")
    recs, cov = _parse(written.path, tmp_path)
    msgs = [r for r in recs if isinstance(r, MessageRecord)]
    assert len(msgs) == n == len(written.messages)
    assert cov.status() == COMPLETE and cov.units[era].parsed == n and cov.units[era].present == n
    by_key = {(m.chat, m.raw_id): m for m in msgs}
    for exp in written.messages:
        got = by_key[(exp.chat, str(exp.mid))]
        assert got.platform == "telegram"
        assert got.sender == exp.sender, exp
        assert got.time == utc(exp.date)
        assert got.text == (exp.text or None)
        assert got.kind == exp.kind
        assert got.from_me == exp.out
        assert got.forwarded == (exp.forwarded_from is not None)
        assert got.forwarded_from == exp.forwarded_from
        assert got.action == exp.action and got.targets == exp.targets
        assert got.raw.get("reply_to") == exp.reply_to
        for key, value in exp.media.items():
            assert got.raw["attach_path" if key == "path" else key] == value, (key, exp)
        if exp.media:
            assert got.media is not None
            assert got.media.size == exp.media["size"]
            assert got.media.file_name == exp.media.get("file_name")
            assert got.media.mime == exp.media.get("mime_type")
            assert got.media.path == exp.media.get("path")  # the local attach path, where the app kept one
        assert got.locator is not None and got.locator.startswith(f"{written.path}#{era}/{exp.uid}/")
    kinds = {m.kind for m in msgs}
    if era == "messages_v2":
        assert kinds == {"text", "system", "image", "document", "video"}
        assert any(m.chat.startswith("secret") for m in msgs)
    else:
        assert kinds == {"text", "system"}


def test_accounts_chats_and_owner_are_keyed_like_the_desktop_export(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "files/account1/cache4.db", 24)
    owner_prefs(tmp_path / "shared_prefs/userconfig1.xml")
    recs, cov = _parse(written.path, tmp_path)
    accounts = [r for r in recs if isinstance(r, AccountRecord) and "#users/" in (r.locator or "")]
    assert {a.raw_id for a in accounts} == {f"user{u}" for u in USERS}
    owners = [a for a in recs if isinstance(a, AccountRecord) and a.is_device_owner]
    assert len(owners) == 2 and {a.raw_id for a in owners} == {f"user{OWNER}"}  # preferences, users row
    assert owners[0].locator == str(tmp_path / "shared_prefs/userconfig1.xml")
    assert "owner from ../../shared_prefs/userconfig1.xml" in cov.notes
    # The desktop export names the same person and chats the same way.
    assert accounts[0].platform == DESKTOP_PLATFORM
    assert owner_record({"user_id": OWNER}, "result.json").raw_id == f"user{OWNER}"
    chats = {c.raw_id: c for c in recs if isinstance(c, ChatRecord)}
    assert chats[chat_raw_id("private_group", GROUP)].title == "Group A"
    assert chats[chat_raw_id("public_supergroup", SUPERGROUP)].kind == "group"
    assert chats[chat_raw_id("public_channel", CHANNEL)].kind == "channel"
    assert chats[chat_raw_id("personal_chat", 1000002)].kind == "private"
    # Phone numbers: the digits the user object holds, in their international written form ("+" and
    # exactly those digits, as Telegram itself shows them), so they normalise like a WhatsApp JID's.
    person = next(a for a in accounts if a.raw_id == "user1000002")
    assert (person.phone, person.username, person.display_name) == ("+34600000002", "person2", "Person2 Test")


def test_without_preferences_the_owner_is_the_user_row_flagged_self(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 12)
    recs, cov = _parse(written.path, tmp_path)
    assert [a.raw_id for a in recs if isinstance(a, AccountRecord) and a.is_device_owner] == [f"user{OWNER}"]
    assert "owner: the user row flagged self" in cov.notes


def test_unknown_constructor_and_truncated_blob_are_counted_skips(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 30, faults=True)
    recs, cov = _parse(written.path, tmp_path)
    assert sum(isinstance(r, MessageRecord) for r in recs) == 30
    unit = cov.units["messages_v2"]
    assert (unit.present, unit.parsed, unit.skipped, unit.unaccounted()) == (32, 30, 2, 0)
    assert cov.status() == PARTIAL
    reasons = {r.reason: r.examples for r in cov.reasons.values() if r.kind == "skipped"}
    for suffix, reason in written.faults:
        assert reasons[reason] == [f"{written.path}#{suffix}"]
    assert reasons.keys() == {
        "unknown TL constructor 0xdeadbeef (where a MessageMedia must be)",
        "truncated TL blob",
    }


def test_a_blob_that_disagrees_with_its_row_is_skipped_not_trusted(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 6)
    con = sqlite3.connect(written.path)
    con.execute("UPDATE messages_v2 SET date = date + 1 WHERE mid = 100")
    con.commit()
    con.close()
    recs, cov = _parse(written.path, tmp_path)
    assert sum(isinstance(r, MessageRecord) for r in recs) == 5
    assert any("differ from the row" in r.reason for r in cov.reasons.values())


@pytest.mark.parametrize("drop", ["messages_v2", "users"])
def test_missing_tables_are_a_named_parse_error(tmp_path: Path, drop: str) -> None:
    written = write_cache4(tmp_path / "cache4.db", 6)
    con = sqlite3.connect(written.path)
    con.execute(f"DROP TABLE {drop}")
    con.commit()
    con.close()
    with pytest.raises(ParseError, match="not a Telegram for Android cache4.db: missing") as err:
        list(parse_file(written.path, scratch=tmp_path / "s"))
    assert (drop if drop == "users" else "messages_v2/messages") in str(err.value)


def test_detection_by_name_or_schema_and_companions(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 3)
    head = written.path.read_bytes()[:8192]
    assert detect_parser("/data/data/org.telegram.messenger/files/cache4.db", head) == "telegram-android"
    assert detect_parser("/case/renamed.db", head) == "telegram-android"
    for name in ("cache4.db-wal", "cache4.db-shm", "userconfing.xml", "userconfig2.xml"):
        assert is_companion(f"/data/data/org.telegram.messenger/x/{name}"), name


@pytest.mark.skipif(not REAL.is_file(), reason=f"corpus not found at {REAL}")
def test_the_real_iped_account_parses_complete_with_its_expected_counts(tmp_path: Path) -> None:
    exp = {
        k: v["value"]
        for k, v in json.loads(REAL.with_name("cache4.db.expected.json").read_text())["expected"].items()
    }
    before = {p: p.stat().st_mtime_ns for p in REAL.parent.iterdir()}
    recs, cov = _parse(REAL, tmp_path)
    assert recs == [] and cov.status() == COMPLETE
    assert cov.units["messages"].present == exp["rows_messages"] == 0
    assert cov.units["users"].present == exp["rows_users"] and cov.units["chats"].present == exp["rows_chats"]
    assert cov.units["user_contacts_v7"].present == exp["rows_user_contacts_v7"]
    assert cov.units["enc_chats"].present == exp["rows_enc_chats"]
    assert cov.units["dialogs"].present == exp["rows_dialogs"]
    assert "not read: contacts (0 rows), media_v2 (0 rows)" in cov.notes
    assert f"schema: user_version {exp['user_version']}, messages in messages" in cov.notes
    assert "messages" in exp["tables"] and "messages_v2" not in exp["tables"]
    # The shared preferences of account 2 are read; they do not name the owner (left out upstream).
    assert any(n.startswith("../../shared_prefs/userconfig2.xml: no user entry") for n in cov.notes)
    assert {p: p.stat().st_mtime_ns for p in REAL.parent.iterdir()} == before  # evidence untouched


def test_the_address_book_gives_accounts_like_the_desktop_export_contacts(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 6)
    recs, cov = _parse(written.path, tmp_path)
    book = {
        r.raw_id: (r.phone, r.display_name)
        for r in recs
        if isinstance(r, AccountRecord) and "#user_contacts_v7/" in (r.locator or "")
    }
    # On Telegram: user<uid>; not on Telegram: the number as written; a deleted number is not used.
    assert book == {
        "user1000002": ("+34 600 000 002", "Bea Saved"),
        "+34 611 111 111": ("+34 611 111 111", "Not OnTelegram"),
    }
    unit = cov.units["user_contacts_v7"]
    assert (unit.present, unit.parsed, unit.ignored, unit.unaccounted()) == (3, 2, 1, 0)
    assert cov.status() == COMPLETE


def test_secret_chats_are_private_chats_with_their_two_members(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "files/cache4.db", 24)
    owner_prefs(tmp_path / "shared_prefs/userconfing.xml")
    recs, cov = _parse(written.path, tmp_path)
    chats = [r for r in recs if isinstance(r, ChatRecord) and r.raw_id == f"secret{SECRET_CHAT}"]
    assert len(chats) == 1 and chats[0].kind == "private"  # from enc_chats, not again from its messages
    members = {
        (r.chat, r.account) for r in recs if isinstance(r, MembershipRecord) and r.chat.startswith("secret")
    }
    assert members == {
        (f"secret{SECRET_CHAT}", f"user{OWNER}"),
        (f"secret{SECRET_CHAT}", f"user{SECRET_PEER}"),
    }
    secret = [r for r in recs if isinstance(r, MessageRecord) and r.chat == f"secret{SECRET_CHAT}"]
    assert secret and all(m.sender == f"user{OWNER}" and m.from_me for m in secret)
    assert cov.units["enc_chats"].parsed == cov.units["enc_chats"].present == 1


def test_group_service_messages_give_memberships_like_the_desktop_export(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 24)
    recs, _ = _parse(written.path, tmp_path)
    created = [x for x in written.messages if x.action == "created"]
    assert created
    got = {(r.chat, r.account, r.role, r.joined_at) for r in recs if isinstance(r, MembershipRecord)}
    for x in created:
        assert (x.chat, x.sender, "creator", utc(x.date)) in got
        for target in x.targets:
            assert (x.chat, target, "member", utc(x.date)) in got


def test_the_chat_list_adds_a_chat_whose_messages_are_gone(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 24)
    recs, cov = _parse(written.path, tmp_path)
    chats = [r for r in recs if isinstance(r, ChatRecord)]
    assert len({c.raw_id for c in chats}) == len(chats)  # each chat once
    gone = [c for c in chats if c.raw_id == f"user{GONE_CHAT}"]
    assert len(gone) == 1 and gone[0].kind == "private" and "#dialogs/" in (gone[0].locator or "")
    unit = cov.units["dialogs"]
    assert unit.parsed == unit.present and unit.present > 1 and cov.status() == COMPLETE


def test_a_mid_migration_database_reads_both_tables_each_message_once(tmp_path: Path) -> None:
    written = write_cache4(tmp_path / "cache4.db", 24)
    con = sqlite3.connect(written.path)
    con.execute(
        "CREATE TABLE messages(mid INTEGER PRIMARY KEY, uid INTEGER, read_state INTEGER, send_state INTEGER, "
        "date INTEGER, data BLOB, out INTEGER)"
    )
    con.execute(
        "INSERT INTO messages SELECT mid, uid, read_state, send_state, date, data, out FROM messages_v2"
    )
    con.execute("DELETE FROM messages_v2 WHERE mid = 100")  # migrated copy gone: only the old table has it
    con.commit()
    con.close()
    recs, cov = _parse(written.path, tmp_path)
    keys = [(r.chat, r.raw_id) for r in recs if isinstance(r, MessageRecord)]
    assert len(keys) == len(set(keys)) == 24
    old, new = cov.units["messages"], cov.units["messages_v2"]
    assert (new.present, new.parsed) == (23, 23)
    assert (old.present, old.parsed, old.ignored) == (24, 1, 23)
    assert "schema: user_version 110, messages in messages_v2 and messages" in cov.notes
    assert cov.status() == COMPLETE
