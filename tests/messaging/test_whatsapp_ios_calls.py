"""WhatsApp for iOS ``CallHistory.sqlite`` (plugin "whatsapp-ios-calls"): the real database of Josh
Hickman's public iOS 15 image (../shared/corpus/phones, read in place through the parser's scratch
copy) against its ``.expected.json``, through the parser and through ``tessera ingest`` (SQLite and
PostgreSQL); a synthetic call log with the quirks of real ones; a damaged and a foreign database."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging.apps import app_of_source, recognise
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import AccountRecord, ChatRecord, MessageRecord, ParseError
from tessera.messaging.whatsapp_ios_calls import (
    IGNORE_AGGREGATE,
    REQUIRED,
    WhatsAppIOSCallsParser,
    parse_file,
)
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.callhistory import write_callhistory

FOLDER = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "corpus"
    / "phones"
    / "ios_whatsapp"
    / "josh_ios15"
)
DB = FOLDER / "CallHistory.sqlite"
OWNER, PEER = "19195794674@s.whatsapp.net", "19198887386@s.whatsapp.net"
corpus = pytest.mark.skipif(not DB.is_file(), reason=f"the phone corpus is not at {FOLDER}")


def _expected() -> dict[str, Any]:
    data = json.loads((FOLDER / "CallHistory.sqlite.expected.json").read_text())
    return data


def _z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(path: Path, tmp: Path, **kw: Any) -> tuple[list[Any], Coverage]:
    cov = Coverage()
    return list(parse_file(path, scratch=tmp / "scratch", coverage=cov, **kw)), cov


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@corpus
def test_the_real_call_log_against_its_ground_truth(tmp_path: Path) -> None:
    doc = _expected()
    want = {k: v["value"] for k, v in doc["expected"].items()}
    records, cov = _parse(DB, tmp_path)
    calls = [r for r in records if isinstance(r, MessageRecord)]
    # Every table of calls is counted; only Core Data's bookkeeping tables are not units.
    assert set(cov.units) == set(want["tables"]) - {"Z_METADATA", "Z_MODELCACHE", "Z_PRIMARYKEY"}
    assert set(REQUIRED) <= set(want["tables"])
    assert any(n.endswith(f"user_version {want['user_version']}") for n in cov.notes)
    assert cov.units["ZWACDCALLEVENT"].present == want["zwacdcallevent_rows"] == len(calls) == 4
    assert cov.units["ZWACDCALLEVENT"].parsed == want["zwacdcallevent_rows"]
    agg = cov.units["ZWAAGGREGATECALLEVENT"]
    assert agg.present == want["zwaaggregatecallevent_rows"] == agg.ignored  # summaries of the calls
    assert cov.reasons[("ZWAAGGREGATECALLEVENT", IGNORE_AGGREGATE, "ignored")].count == 4
    part = cov.units["ZWACDCALLEVENTPARTICIPANT"]
    assert part.present == want["zwacdcalleventparticipant_rows"] == part.parsed
    assert sum(len(c.raw["participants"]) for c in calls) == want["zwacdcalleventparticipant_rows"]
    assert _z(min(c.time for c in calls)) == want["first_call_utc"]
    assert _z(max(c.time for c in calls)) == want["last_call_utc"]
    assert cov.status() == "complete" and not cov.unaccounted()
    # Two outgoing (voice, video) and two incoming (voice, video), all with the one other person.
    assert [(c.from_me, c.raw["video"]) for c in calls] == [
        (True, False),
        (False, False),
        (True, True),
        (False, True),
    ]
    assert all(c.kind == "call" and c.chat == PEER for c in calls)
    assert [c.sender for c in calls] == [OWNER, PEER, OWNER, PEER]
    assert [round(c.raw["duration"]) for c in calls] == [95, 101, 105, 104]
    assert [c.locator.rsplit("#", 1)[1] for c in calls if c.locator] == [
        f"ZWACDCALLEVENT/{i}" for i in range(1, 5)
    ]
    assert [c.raw["aggregate"] for c in calls] == [1, 2, 3, 4]
    assert "owner: 19195794674@s.whatsapp.net, the starter of all 2 outgoing calls that name one" in cov.notes
    accounts = {a.raw_id: a for a in records if isinstance(a, AccountRecord)}
    assert set(accounts) == {OWNER, PEER} and accounts[OWNER].is_device_owner
    assert accounts[PEER].phone == "+19198887386"
    assert [c.kind for c in records if isinstance(c, ChatRecord)] == ["private"]
    # Evidence untouched: the files still hash as the ground truth records them.
    for name, digest in doc["sha256"].items():
        assert _sha(FOLDER / name) == digest


@corpus
def test_ingest_of_the_folder_puts_calls_in_the_chat_with_the_person(case: CaseHandle) -> None:
    want = {k: v["value"] for k, v in _expected()["expected"].items()}
    res = ingest(case, FOLDER, IngestOptions("J15", kind="phone", workers=0))
    assert res.errors == 0, res.problems
    with case.session() as s:
        src = s.scalars(
            select(m.MessagingSource).where(m.MessagingSource.locator == "/CallHistory.sqlite")
        ).one()
        assert (src.parser, src.status, src.messages) == ("whatsapp-ios-calls", "complete", 4)
        calls = s.scalars(select(m.Message).where(m.Message.kind == "call").order_by(m.Message.time)).all()
        assert len(calls) == want["zwacdcallevent_rows"]
        assert _z(calls[0].time) == want["first_call_utc"] and _z(calls[-1].time) == want["last_call_utc"]
        (chat,) = {c.chat_id for c in calls}
        key = s.get(m.Chat, chat)
        assert key is not None and key.key == PEER
        # The same chat as the person's messages from ChatStorage.sqlite.
        texts = s.scalars(
            select(m.Message.id).where(m.Message.chat_id == chat, m.Message.kind != "call")
        ).all()
        assert texts
        ids = [c.sender_id for c in calls]
        senders = set(s.scalars(select(m.AccountAlias.raw_id).where(m.AccountAlias.account_id.in_(ids))))
        assert {OWNER, PEER} <= senders
        owners = s.scalars(
            select(m.AccountAlias.raw_id).where(m.AccountAlias.raw_id.like("whatsapp:owner@%"))
        ).all()
        assert owners == []  # the owner both databases name, not a placeholder


def test_synthetic_round_trip(tmp_path: Path) -> None:
    truth = write_callhistory(tmp_path / "c")
    records, cov = _parse(truth.path, tmp_path, device_id="S1")
    calls = {int(c.raw["Z_PK"]): c for c in records if isinstance(c, MessageRecord)}
    assert cov.status() == "complete" and not cov.unaccounted()
    assert cov.units["ZWACDCALLEVENT"].parsed == len(truth.calls) == 5
    assert cov.units["ZWAAGGREGATECALLEVENT"].ignored == truth.aggregates == 4  # one holds two calls
    assert cov.units["ZWACDCALLEVENTPARTICIPANT"].parsed == truth.participants
    for want in truth.calls:
        got = calls[want.pk]
        assert got.sender == want.sender and got.from_me == (not want.incoming)
        assert got.time.timestamp() == pytest.approx(want.time, abs=1e-3)
        assert (got.raw["video"], bool(got.raw["missed"]), got.raw["duration"]) == (
            want.video,
            want.missed,
            want.duration,
        )
        assert [p["jid"] for p in got.raw["participants"]] == want.participants
        if want.chat:
            assert got.chat == want.chat
        else:  # an ad-hoc group call: a placeholder chat of its own, never one participant's
            assert got.chat.startswith(f"whatsapp:call-{want.pk}@S1")
            assert sorted(got.targets) == sorted(p for p in want.participants if p != truth.owner)
    assert calls[4].action == "video_call" and calls[3].action == "call"
    chats = {c.raw_id: c.kind for c in records if isinstance(c, ChatRecord)}
    assert chats["120363000000000001@g.us"] == "group"
    accounts = {a.raw_id: a for a in records if isinstance(a, AccountRecord)}
    lid = next(a for a in accounts if a.endswith("@lid"))
    assert accounts[lid].phone is None  # an @lid id is no phone number
    assert accounts[truth.owner].is_device_owner


def test_synthetic_damage_is_named(tmp_path: Path) -> None:
    truth = write_callhistory(tmp_path / "c", damage=True)
    _records, cov = _parse(truth.path, tmp_path)
    assert cov.status() == "partial" and not cov.unaccounted()
    assert cov.units["ZWAAGGREGATECALLEVENT"].skipped == truth.orphan_aggregates == 1
    assert cov.units["ZWACDCALLEVENTPARTICIPANT"].skipped == truth.orphan_participants == 1
    assert "ZWACDCALLEVENTPARTICIPANT skipped: its call event is gone" in (cov.problem() or "")


def test_owner_option_and_placeholder(tmp_path: Path) -> None:
    truth = write_callhistory(tmp_path / "c")
    records, cov = _parse(truth.path, tmp_path, owner="+1 202 555 0001")
    assert "owner: given by the examiner" in cov.notes
    assert (
        next(a for a in records if isinstance(a, AccountRecord) and a.is_device_owner).raw_id == truth.owner
    )
    # Without outgoing calls the database names no owner: the placeholder, never a guess.
    con = sqlite3.connect(truth.path)
    con.execute("DELETE FROM ZWACDCALLEVENT WHERE Z1CALLEVENTS IN (1, 4)")
    con.execute("DELETE FROM ZWAAGGREGATECALLEVENT WHERE Z_PK IN (1, 4)")
    con.commit()
    con.close()
    records, cov = _parse(truth.path, tmp_path, device_id="S2")
    owner = next(a for a in records if isinstance(a, AccountRecord) and a.is_device_owner)
    assert owner.raw_id == "whatsapp:owner@S2" and owner.phone is None


def _without_calls_table(folder: Path) -> Path:
    truth = write_callhistory(folder)
    con = sqlite3.connect(truth.path)
    con.execute("DROP TABLE ZWACDCALLEVENT")
    con.commit()
    con.close()
    return truth.path


def test_missing_call_table_is_a_named_error_and_nothing_is_stored(tmp_path: Path, case: CaseHandle) -> None:
    path = _without_calls_table(tmp_path / "dev")
    assert WhatsAppIOSCallsParser().detect(str(path), path.read_bytes()[:4096])
    with pytest.raises(ParseError, match="CallHistory.sqlite: not a WhatsApp for iOS CallHistory database: "
                       "missing table ZWACDCALLEVENT"):  # fmt: skip
        _parse(path, tmp_path)
    res = ingest(case, tmp_path / "dev", IngestOptions("D1", kind="phone", workers=0))
    with case.session() as s:
        src = s.scalars(select(m.MessagingSource).where(m.MessagingSource.device_id == "D1")).one()
        assert src.status == "failed" and "missing table ZWACDCALLEVENT" in (src.error or "")
        assert s.scalars(select(m.Message).where(m.Message.device_id == "D1")).all() == []
    assert res.errors >= 1


def test_detect_by_name_or_tables_only(tmp_path: Path) -> None:
    p = WhatsAppIOSCallsParser()
    head = b"SQLite format 3\x00" + b"\x00" * 100
    assert p.detect("/x/CallHistory.sqlite", head)
    assert not p.detect("/x/CallHistory.storedata", head)  # iOS's own call log
    assert not p.detect("/x/other.sqlite", head)
    assert p.detect("/x/renamed.db", head + b"CREATE TABLE ZWAAGGREGATECALLEVENT ... ZWACDCALLEVENT")
    assert not p.detect("/x/CallHistory.sqlite", b"not sqlite")


def test_the_inventory_attributes_the_call_log_to_whatsapp_for_ios() -> None:
    assert recognise("/private/var/mobile/Containers/Shared/AppGroup/X/CallHistory.sqlite") is None
    found = app_of_source("whatsapp-ios-calls", "/CallHistory.sqlite")
    assert found is not None and found[1].title == "WhatsApp for iOS"
    shared = "/f.zip!/filesystem2/mobile/Containers/Shared/AppGroup/group.net.whatsapp.WhatsAppSMB.shared/x"
    found = app_of_source("whatsapp-ios-calls", shared + "/CallHistory.sqlite")
    assert found is not None and found[1].title == "WhatsApp Business for iOS"
