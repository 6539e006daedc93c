"""The real WhatsApp for iOS databases of Josh Hickman's public iOS 15 image (../shared/corpus/phones,
read in place), against their ``.expected.json`` ground truth: every value of ChatStorage.sqlite's and
ContactsV2.sqlite's, through the parser, through ``tessera ingest`` of the folder (SQLite and
PostgreSQL) and through the Cellebrite full-file-system zips the files came from."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging.base import ParseContext
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import AccountRecord, ChatRecord, MembershipRecord, MessageRecord
from tessera.messaging.whatsapp_ios import REQUIRED, WhatsAppIOSParser
from tessera.records import Opener
from tessera.store import models as m
from tessera.store.case import CaseHandle

PHONES = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "phones"
FOLDER = PHONES / "ios_whatsapp" / "josh_ios15"
FFS = PHONES / "ios_ffs" / "cellebrite_josh_ios15"
MESSAGES_ZIP = FFS / "testdata.whatsApp.whatsAppMessages.josh_ios15_ffs.zip"
CALLS_ZIP = FFS / "testdata.whatsApp.whatsAppCallHistory.josh_ios15_ffs.zip"
pytestmark = pytest.mark.skipif(
    not (FOLDER / "ChatStorage.sqlite").is_file() or not MESSAGES_ZIP.is_file(),
    reason=f"the phone corpus is not at {PHONES}",
)
OWNER = "19195794674@s.whatsapp.net"  # the recipient of every received message (ZTOJID)


def _expected(name: str) -> dict[str, Any]:
    data = json.loads((FOLDER / f"{name}.expected.json").read_text())
    return {k: v["value"] for k, v in data["expected"].items()}


CS, CV = _expected("ChatStorage.sqlite"), _expected("ContactsV2.sqlite")


def _z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], Coverage]:
    db = FOLDER / "ChatStorage.sqlite"

    def sibling(rel: str) -> Opener | None:
        q = FOLDER / rel
        return Opener(path=str(q)) if q.is_file() else None

    ctx = ParseContext(
        locator=str(db),
        opener=Opener(path=str(db)),
        scratch=tmp_path_factory.mktemp("scratch"),
        sibling=sibling,
        device_id="J15",
    )
    return list(WhatsAppIOSParser().parse(ctx)), ctx.coverage


def _messages(records: list[Any]) -> list[MessageRecord]:
    return [r for r in records if isinstance(r, MessageRecord)]


def test_store_identity_and_declared_structure(parsed: tuple[list[Any], Coverage]) -> None:
    _, cov = parsed
    assert set(REQUIRED) <= set(CS["tables"]) and "ZWAPROFILEPUSHNAME" in CS["tables"]
    assert f"Core Data model {', '.join(CS['model_version'])}, user_version {CS['user_version']}" in cov.notes
    assert CV["user_version"] == 0 and "ZWAADDRESSBOOKCONTACT" in CV["tables"]


def test_messages_types_senders_and_times(parsed: tuple[list[Any], Coverage]) -> None:
    records, cov = parsed
    msgs = _messages(records)
    assert len(msgs) == CS["messages"]
    assert cov.units["ZWAMESSAGE"].present == CS["messages"] == cov.units["ZWAMESSAGE"].parsed
    assert sum(x.from_me for x in msgs) == CS["messages_from_me"]
    assert all(x.sender == OWNER for x in msgs if x.from_me)
    assert sum(1 for x in msgs if x.text and x.raw["message_type"] in (0, 7)) == CS["messages_with_text"]
    assert dict(Counter(str(x.raw["message_type"]) for x in msgs)) == CS["message_types"]
    assert _z(min(x.time for x in msgs)) == CS["first_message_utc"]
    assert _z(max(x.time for x in msgs)) == CS["last_message_utc"]
    assert cov.status() == "complete" and not cov.unaccounted()


def test_chats_with_their_row_counts_and_members(parsed: tuple[list[Any], Coverage]) -> None:
    records, cov = parsed
    chats = {c.raw_id: c for c in records if isinstance(c, ChatRecord)}
    assert len(chats) == CS["chats"] and cov.units["ZWACHATSESSION"].parsed == CS["chats"]
    assert sum(c.kind == "group" for c in chats.values()) == CS["group_chats"]
    msgs = _messages(records)
    memberships = [x for x in records if isinstance(x, MembershipRecord)]
    for want in CS["chat_list"]:
        chat = chats[want["jid"]]
        assert chat.title == want["title"] and (chat.kind == "group") == want["is_group"]
        assert chat.locator and chat.locator.endswith(f"#ZWACHATSESSION/{want['z_pk']}")
        mine = [x for x in msgs if x.chat == want["jid"]]
        assert len(mine) == want["messages"] != want["ZMESSAGECOUNTER"]  # rows, not WhatsApp's counter
        assert _z(min(x.time for x in mine)) == want["first_message_utc"]
        assert _z(max(x.time for x in mine)) == want["last_message_utc"] == want["ZLASTMESSAGEDATE_utc"]
        assert sum(ms.chat == want["jid"] for ms in memberships) == want["group_member_rows"]
    assert cov.units["ZWAGROUPMEMBER"].present == CS["group_member_rows"] == len(memberships)
    assert sorted({ms.account for ms in memberships}) == CS["distinct_member_jids"]
    accounts = {a.raw_id: a for a in records if isinstance(a, AccountRecord)}
    lid = next(j for j in CS["distinct_member_jids"] if j.endswith("@lid"))
    assert accounts[lid].phone is None  # an @lid id is no phone number
    assert accounts[OWNER].is_device_owner and accounts[OWNER].phone == "+19195794674"


def test_media_items_and_their_local_paths(parsed: tuple[list[Any], Coverage]) -> None:
    records, cov = parsed
    assert cov.units["ZWAMEDIAITEM"].present == CS["media_items"] == cov.units["ZWAMEDIAITEM"].parsed
    by_pk = {int(x.locator.rsplit("/", 1)[1]): x for x in _messages(records)}
    chat_jid = {c["z_pk"]: c["jid"] for c in CS["chat_list"]}
    for item in CS["media_list"]:
        msg = by_pk[item["message_z_pk"]]
        assert msg.raw["media_item"] == item["z_pk"] and msg.raw["message_type"] == item["message_type"]
        assert msg.chat == chat_jid[item["chat_z_pk"]]
        path = msg.media.path if msg.media else None
        assert path == item["local_path"]
        if path:
            assert msg.media is not None and msg.media.size == item["file_size"]
    with_path = [x.media.path for x in _messages(records) if x.media and x.media.path]
    assert len(with_path) == CS["media_items_with_local_path"]
    container = CS["device_path"].rsplit("/", 1)[0]
    for res in CS["media_resolution"]:  # where link_media looks: <container>/Message/<ZMEDIALOCALPATH>
        assert res["local_path"] in with_path
        assert f"{container}/{WhatsAppIOSParser.media_roots[0]}/{res['local_path']}" == res["device_path"]


def test_push_names_and_address_book_names(parsed: tuple[list[Any], Coverage]) -> None:
    records, cov = parsed
    names: dict[str, list[str]] = {}
    for a in records:
        if isinstance(a, AccountRecord) and a.display_name:
            names.setdefault(a.raw_id, []).append(a.display_name)
    for jid, push in CS["push_names"]:
        assert push in names[jid]
    assert cov.units["ZWAPROFILEPUSHNAME"].parsed == len(CS["push_names"])
    book = cov.units["ZWAADDRESSBOOKCONTACT"]
    assert book.present == CV["contacts"] and book.parsed == CV["contacts_with_whatsapp_id"]
    assert sorted({wid for *_, wid in CV["rows"] if wid}) == CV["distinct_whatsapp_ids"]
    ignored = next(r for r in cov.reasons.values() if r.unit == "ZWAADDRESSBOOKCONTACT")
    for pk, full, number, wid in CV["rows"]:
        if wid is None:
            assert any(e.endswith(f"#ZWAADDRESSBOOKCONTACT/{pk}") for e in ignored.examples)
            continue
        assert full in names[wid]  # the owner's name for the account
        digits = "".join(ch for ch in number if ch.isdigit())
        account = next(a for a in records if isinstance(a, AccountRecord) and a.raw_id == wid)
        assert account.phone is not None and account.phone.endswith(digits[-7:])
    # the address-book name wins over the push name the account chose
    assert names["19198887386@s.whatsapp.net"][0] == "This Is DFIR Two"


def _device_path(locator: str) -> str:
    """The device path a Cellebrite FFS member names (``filesystem2/`` is ``/private/var/``)."""
    tail = locator.rsplit("!/", 1)[-1]
    if tail.startswith("filesystem2/"):
        return "/private/var/" + tail[len("filesystem2/") :]
    return tail[tail.index("/private/var/") :] if "/private/var/" in tail else tail


def _stored(case: CaseHandle, device: str) -> dict[str, Any]:
    with case.session() as s:
        sources = {
            r.locator: (r.parser, r.status, r.messages)
            for r in s.scalars(select(m.MessagingSource).where(m.MessagingSource.device_id == device))
        }
        per_chat = dict(
            s.execute(
                select(m.Chat.key, func.count(m.Message.id))
                .join(m.Message, m.Message.chat_id == m.Chat.id)
                .where(m.Message.device_id == device, m.Message.kind != "call")  # calls: CallHistory's
                .group_by(m.Chat.key)
            ).all()
        )
        titles = dict(s.execute(select(m.Chat.key, m.Chat.title)).all())
        times = s.execute(
            select(func.min(m.Message.time), func.max(m.Message.time)).where(
                m.Message.device_id == device, m.Message.kind != "call"
            )
        ).one()
        paths = sorted(
            p for p in s.scalars(select(m.Message.media_path).where(m.Message.device_id == device)) if p
        )
        from_me = s.scalar(
            select(func.count(m.Message.id))
            .join(m.AccountAlias, m.AccountAlias.account_id == m.Message.sender_id)
            .where(m.Message.device_id == device, m.AccountAlias.raw_id == OWNER, m.Message.kind != "call")
        )
        members = sorted(
            s.scalars(
                select(m.AccountAlias.raw_id)
                .join(m.Membership, m.Membership.account_id == m.AccountAlias.account_id)
                .distinct()
            )
        )
        names = {a: n for a, n in s.execute(select(m.AccountAlias.raw_id, m.Account.names).join(m.Account))}
    return {
        "sources": sources,
        "per_chat": per_chat,
        "titles": titles,
        "times": times,
        "paths": paths,
        "from_me": from_me,
        "members": members,
        "names": names,
    }


def _check_stored(got: dict[str, Any], chatstorage: str) -> None:
    assert got["sources"][chatstorage] == ("whatsapp-ios", "complete", CS["messages"])
    for want in CS["chat_list"]:
        assert got["per_chat"][want["jid"]] == want["messages"]
        assert got["titles"][want["jid"]] == want["title"]
    first, last = got["times"]
    assert (_z(first), _z(last)) == (CS["first_message_utc"], CS["last_message_utc"])
    assert got["paths"] == sorted(p["local_path"] for p in CS["media_list"] if p["local_path"])
    assert got["from_me"] == CS["messages_from_me"]
    assert set(CS["distinct_member_jids"]) <= set(got["members"])
    for jid, push in CS["push_names"]:
        assert push in got["names"][jid]


def test_ingest_of_the_folder(case: CaseHandle) -> None:
    res = ingest(case, FOLDER, IngestOptions("J15", kind="phone", workers=0))
    got = _stored(case, "J15")
    _check_stored(got, "/ChatStorage.sqlite")
    assert got["sources"]["/CallHistory.sqlite"] == ("whatsapp-ios-calls", "complete", 4)
    assert len(got["sources"]) == 2  # ContactsV2 and the -wal/-shm files are companions, not sources
    for _pk, name, _number, wid in CV["rows"]:
        if wid:
            assert name in got["names"][wid]
    assert res.errors == 0, res.problems


def test_ingest_through_the_cellebrite_ffs_zips(case: CaseHandle, tmp_path: Path) -> None:
    """The messages zip alone, in place; then the members of both zips in one archive, as a full
    extraction holds them together (built in tmp_path from the real members, nothing altered)."""
    ingest(case, MESSAGES_ZIP, IngestOptions("Z1", kind="phone", workers=0))
    got = _stored(case, "Z1")
    (loc,) = [k for k in got["sources"] if k.endswith("ChatStorage.sqlite")]
    assert _device_path(loc) == CS["device_path"]
    _check_stored(got, loc)

    both = tmp_path / "ffs.zip"
    with zipfile.ZipFile(both, "w") as out:
        for src in (MESSAGES_ZIP, CALLS_ZIP):
            with zipfile.ZipFile(src) as z:
                for info in z.infolist():
                    out.writestr(info, z.read(info))
    ingest(case, both, IngestOptions("Z2", kind="phone", workers=0))
    got = _stored(case, "Z2")
    (loc,) = [k for k in got["sources"] if k.endswith("ChatStorage.sqlite")]
    _check_stored(got, loc)
    calls = [v for k, v in got["sources"].items() if k.endswith("CallHistory.sqlite")]
    assert calls == [("whatsapp-ios-calls", "complete", 4)]
    for _pk, name, _number, wid in CV["rows"]:
        if wid:
            assert name in got["names"][wid]
