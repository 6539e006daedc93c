"""Telegram for Android through the whole ingest (``case`` fixture: SQLite and PostgreSQL) and the
command line: the real IPED app folder (read in place), a synthetic phone folder and the same inside
a full-file-system zip, attach paths linked to files, faults as counted skips (exit 1), a database
without its message table (failed, nothing stored), and the same person from a phone and a Telegram
Desktop export as one account."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging.coverage import Coverage
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.cache4 import OWNER, owner_prefs, write_cache4

PHONES = Path(__file__).resolve().parents[2].parent / "shared/corpus/phones/telegram_android/iped"
APP = "data/data/org.telegram.messenger"


def _sources(case: CaseHandle) -> dict[str, m.MessagingSource]:
    with case.session() as s:
        rows = s.scalars(
            select(m.MessagingSource).where(m.MessagingSource.parser == "telegram-android")
        ).all()
        return {r.locator: r for r in rows}


def _count(case: CaseHandle, model: type) -> int:
    with case.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.skipif(not PHONES.is_dir(), reason=f"corpus not found at {PHONES}")
def test_the_real_app_folder_is_a_complete_source(case: CaseHandle) -> None:
    res = ingest(case, PHONES, IngestOptions("P1", kind="phone", workers=0))
    src = _sources(case)
    loc = "/org.telegram.messenger.web/files/account2/cache4.db"
    assert list(src) == [loc]
    assert (src[loc].status, src[loc].messages) == ("complete", 0)
    cov = Coverage.from_json(src[loc].coverage)
    assert {u: (c.present, c.parsed) for u, c in cov.units.items()} == {
        "users": (0, 0),
        "chats": (0, 0),
        "enc_chats": (0, 0),
        "user_contacts_v7": (0, 0),
        "messages": (0, 0),
        "dialogs": (0, 0),
    }
    assert "schema: user_version 78, messages in messages" in cov.notes
    assert [r.status for r in res.messaging if r.parser == "telegram-android"] == ["complete"]
    assert res.errors == 0, res.problems


def test_a_synthetic_phone_is_stored_whole(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "phone"
    written = write_cache4(root / APP / "files/cache4.db", 36)
    owner_prefs(root / APP / "shared_prefs/userconfing.xml")
    ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    src = _sources(case)[f"/{APP}/files/cache4.db"]
    assert (src.status, src.messages) == ("complete", 36) == ("complete", len(written.messages))
    assert _count(case, m.Message) == 36
    with case.session() as s:
        owner = s.scalar(select(m.AccountAlias.account_id).where(m.AccountAlias.raw_id == f"user{OWNER}"))
        sent = s.scalar(select(func.count()).select_from(m.Message).where(m.Message.sender_id == owner))
        titles = set(s.scalars(select(m.Chat.title).where(m.Chat.title.is_not(None))))
    assert sent == sum(1 for x in written.messages if x.sender == f"user{OWNER}")
    assert {"Group A", "Supergroup B", "Channel C"} <= titles
    with case.session() as s:
        # The address book's international number joins the Telegram account it was saved for.
        saved = s.scalar(
            select(m.Account.phone).join(m.AccountAlias).where(m.AccountAlias.raw_id == "user1000002")
        )
        only_number = s.scalar(select(m.Account.id).where(m.Account.phone == "+34611111111"))
    assert saved == "+34600000002" and only_number is not None


def test_attach_paths_link_messages_to_the_files_on_the_phone(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "phone"
    written = write_cache4(root / APP / "files/cache4.db", 12)
    sent = [x for x in written.messages if x.media.get("path")]
    assert sent
    expected = {}
    for x in sent:
        body = f"abstract file {x.mid}".encode()
        path = root / x.media["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        expected[x.media["path"]] = hashlib.sha256(body).hexdigest()
    ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    with case.session() as s:
        linked = dict(
            s.execute(
                select(m.Message.media_path, m.Message.media_sha256).where(m.Message.media_path.is_not(None))
            ).all()
        )
    assert linked == expected


def test_faults_make_a_partial_source_with_the_rest_stored(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "phone"
    write_cache4(root / APP / "files/cache4.db", 12, faults=True)
    res = ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    src = _sources(case)[f"/{APP}/files/cache4.db"]
    assert (src.status, src.messages) == ("partial", 12)
    assert "1 messages_v2 skipped: truncated TL blob" in (src.error or "")
    assert "unknown TL constructor 0xdeadbeef" in (src.error or "")
    assert [r.status for r in res.messaging if r.parser == "telegram-android"] == ["partial"]


def test_a_database_without_its_message_table_stores_nothing(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "phone"
    written = write_cache4(root / APP / "files/cache4.db", 12)
    con = sqlite3.connect(written.path)
    con.execute("DROP TABLE messages_v2")
    con.commit()
    con.close()
    ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    src = _sources(case)[f"/{APP}/files/cache4.db"]
    assert src.status == "failed"
    assert "missing table messages_v2/messages" in (src.error or "")
    assert _count(case, m.Message) == 0 and _count(case, m.Chat) == 0 and _count(case, m.Account) == 0


def test_the_same_person_from_a_phone_and_a_desktop_export_is_one_account(
    case: CaseHandle, tmp_path: Path
) -> None:
    phone = tmp_path / "phone"
    write_cache4(phone / APP / "files/cache4.db", 12)
    export = tmp_path / "pc" / "Telegram Desktop" / "DataExport"
    export.mkdir(parents=True)
    message = {
        "id": 1,
        "type": "message",
        "date": "2023-11-14T22:13:20",
        "date_unixtime": "1700000000",
        "from": "Ana Owner",
        "from_id": f"user{OWNER}",
        "text": "hello from the desktop",
    }
    chat = {"name": "Person2 Test", "type": "personal_chat", "id": 1000002, "messages": [message]}
    info = {"user_id": OWNER, "first_name": "Ana", "last_name": "Owner", "phone_number": "+34 600 000 001"}
    (export / "result.json").write_text(json.dumps({"personal_information": info, "chats": {"list": [chat]}}))
    ingest(case, phone, IngestOptions("P1", kind="phone", workers=0))
    ingest(case, tmp_path / "pc", IngestOptions("PC1", workers=0))
    with case.session() as s:
        ids = set(s.scalars(select(m.AccountAlias.account_id).where(m.AccountAlias.raw_id == f"user{OWNER}")))
        assert len(ids) == 1
        (acc,) = ids
        by_device = s.execute(
            select(m.Message.device_id, func.count())
            .where(m.Message.sender_id == acc)
            .group_by(m.Message.device_id)
        ).all()
        chats = set(s.scalars(select(m.Chat.key).where(m.Chat.platform == "telegram")))
    assert {d for d, _ in by_device} == {"P1", "PC1"}
    # The private chat with user 1000002 is one chat, whichever device showed it.
    assert sum("1000002" in k for k in chats) == 1, chats


def test_inside_a_full_file_system_zip_the_phone_reads_the_same(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    """The app folder as a full-file-system extraction zip (``data/data/...``): the database, its WAL
    and the shared preferences are members; the source is found and read as from the folder, with
    the WAL applied (a row deleted only in the WAL is gone in both)."""
    root = tmp_path / "phone"
    written = write_cache4(root / APP / "files/account1/cache4.db", 20, faults=True)
    owner_prefs(root / APP / "shared_prefs/userconfig1.xml")
    con = sqlite3.connect(written.path)  # a WAL beside the database, as on a live phone
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    # Deleted in the WAL only: the zip's database still holds the row, its WAL removes it.
    con.execute("DELETE FROM messages_v2 WHERE mid = 100")
    con.commit()
    archive = tmp_path / "ffs"
    archive.mkdir()
    shutil.make_archive(str(archive / "extraction"), "zip", root)
    con.close()
    ingest(sqlite_case, root, IngestOptions("F", kind="phone", workers=0))
    ingest(sqlite_case, archive, IngestOptions("Z", kind="phone", workers=0))
    with sqlite_case.session() as s:
        rows = s.execute(
            select(
                m.MessagingSource.device_id,
                m.MessagingSource.locator,
                m.MessagingSource.status,
                m.MessagingSource.messages,
            ).where(m.MessagingSource.parser == "telegram-android")
        ).all()
    got = {dev: (loc.split("!/", 1)[-1].lstrip("/"), status, n) for dev, loc, status, n in rows}
    assert got["F"] == got["Z"] == (f"{APP}/files/account1/cache4.db", "partial", 19)


def test_cli_an_unknown_constructor_is_a_counted_skip_and_exit_1(tmp_path: Path) -> None:
    def tessera(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)

    case = tmp_path / "case"
    assert tessera("case", "init", str(case), "--name", "Op", "--agency", "XX").returncode == 0
    write_cache4(tmp_path / "phone" / APP / "files/cache4.db", 12, faults=True)
    run = tessera("ingest", str(tmp_path / "phone"), "--device", "P1", "--case", str(case), "--workers", "0")
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout + run.stderr
    assert f"partial P1:/{APP}/files/cache4.db (telegram-android)" in out
    assert "unknown TL constructor 0xdeadbeef" in out and "truncated TL blob" in out
    rows = json.loads(tessera("sources", "--case", str(case), "--format", "json").stdout)
    (src,) = [r for r in rows if r["parser"] == "telegram-android"]
    assert src["units"]["messages_v2"]["skipped"] == 2 and src["units"]["messages_v2"]["parsed"] == 12
