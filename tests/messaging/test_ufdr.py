"""The "ufdr-report" parser: Cellebrite report.xml chats, read streamed with full reconciliation.

The real fragment of ../shared/corpus/phones/ufdr/iped (one Chat model cut from a Physical Analyzer
report by IPED's developers, read in place) is checked against every value of its .expected.json;
synthetic reports (``tessera.synth.ufdr``) check the whole document: namespaces, tagged files,
owners, platforms, and a broken report named with its position.
"""

from __future__ import annotations

import hashlib
import json
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging import PARSERS
from tessera.messaging.base import ParseContext
from tessera.messaging.coverage import COMPLETE, Coverage
from tessera.messaging.detect import detect_parser
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.ufdr import parse_file
from tessera.records import Opener
from tessera.store import models as store
from tessera.store.case import CaseHandle
from tessera.synth.msgstore_apps import write_app_tree
from tessera.synth.network import make_network
from tessera.synth.ufdr import Account, Message, example_phone, expected_messages, report_xml, write_ufdr

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared/corpus/phones/ufdr/iped/ufed-model-chat.xml"
needs_corpus = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"the phone corpus is not at {SAMPLE}")


def _parse(path: Path) -> tuple[list[MessagingRecord], Coverage]:
    cov = Coverage()
    return list(parse_file(path, coverage=cov)), cov


def _messages(recs: list[MessagingRecord]) -> list[MessageRecord]:
    return [r for r in recs if isinstance(r, MessageRecord)]


@needs_corpus
def test_corpus_fragment_meets_every_expected_value() -> None:
    want = json.loads(SAMPLE.with_name(SAMPLE.name + ".expected.json").read_text())["expected"]
    assert detect_parser("/x/ufed-model-chat.xml", SAMPLE.read_bytes()[:8192]) == "ufdr-report"
    recs, cov = _parse(SAMPLE)

    chats = [r for r in recs if isinstance(r, ChatRecord)]
    top = want["top_model"]["value"]
    assert [(c.platform, c.raw_id, c.title) for c in chats] == [("whatsapp", top["fields"]["Id"], None)]
    assert chats[0].locator is not None and chats[0].locator.endswith("#model/" + top["id"])

    # Participants: identifiers raw, names, the phone's owner.
    accounts = {r.raw_id: r for r in recs if isinstance(r, AccountRecord)}
    members = [r.account for r in recs if isinstance(r, MembershipRecord)]
    parts = want["participants"]["value"]
    assert members == [p["identifier"] for p in parts]
    for p in parts:
        acc = accounts[p["identifier"]]
        assert acc.display_name == p["name"]
        assert acc.is_device_owner is (p["is_phone_owner"] == "True")
    assert accounts["5511999998888@s.whatsapp.net"].phone == "+5511999998888"

    # Messages: 11 of 14 InstantMessage models; the 3 others are copies inside messages.
    msgs = _messages(recs)
    expected = want["messages"]["value"]
    assert len(msgs) == want["message_count"]["value"] == 11
    assert cov.units["instant messages"].present == want["model_counts"]["value"]["InstantMessage"] == 14
    assert (cov.units["instant messages"].parsed, cov.units["instant messages"].ignored) == (11, 3)
    assert cov.units["instant messages"].skipped == 0 and not cov.unaccounted()
    assert cov.status() == COMPLETE
    for got, exp in zip(msgs, expected, strict=True):
        assert got.raw["model_id"] == exp["id"]
        assert got.raw["time"] == exp["timestamp"]
        assert got.time == datetime.fromisoformat(exp["timestamp"]).astimezone(UTC)
        assert got.raw["from"] == exp["from"]
        assert got.raw["source_application"] == exp["source_application"]
        assert [
            {
                "file_id": a["file_id"],
                "filename": a["filename"],
                "content_type": a["content_type"],
                "attachment_extracted_path": a["extracted_path"] and a["extracted_path"].replace("/", "\\"),
            }
            for a in got.raw["attachments"]
        ] == exp["attachments"]
        if exp["from"] == "System message":
            assert got.sender is None and got.kind == "system" and got.text == exp["body"]
        else:
            assert got.sender == exp["from"] and got.text == exp["body"]
        if exp["attachments"]:
            first = exp["attachments"][0]
            assert got.media is not None and got.media.file_name == first["filename"]
            assert got.media.mime == first["content_type"]
            # A loose report: the file is looked for beside it, under its extracted path.
            assert got.media.path == f"{SAMPLE.parent}/" + first["attachment_extracted_path"].replace(
                "\\", "/"
            )
            assert got.kind == "audio"
    times = sorted(m.time for m in msgs)
    assert times[0] == datetime.fromisoformat(want["first_message_timestamp"]["value"])
    assert times[-1] == datetime.fromisoformat(want["last_message_timestamp"]["value"])
    assert times[0].isoformat() == "2023-10-10T09:53:27+00:00"
    assert times[-1].isoformat() == "2024-11-03T19:47:39+00:00"

    by_id = {m.raw["model_id"]: m for m in msgs}
    owner = "5511999998888@s.whatsapp.net"
    assert all(
        m.from_me == (m.sender == owner or m.raw["model_id"] == "2833f15a-b6e2-4b0e-b7b2-4691528f1ed0")
        for m in msgs
    )
    # The forward: labelled, its content (an image) from the original embedded in it.
    fwd = by_id["5fd44844-5874-47eb-ab1f-0a54a56bdf54"]
    assert (
        fwd.forwarded
        and fwd.kind == "image"
        and fwd.raw["content_from"] == "9cfcb1df-26e3-4ebf-a3e4-da45ad5587fc"
    )
    assert fwd.media is not None and fwd.media.file_name == "IMG-20241103-WA0103.jpg"
    assert fwd.raw["quotes"][0]["quoted_id"] == "9cfcb1df-26e3-4ebf-a3e4-da45ad5587fc"
    # The reply keeps the message it answers, raw.
    reply = by_id["2833f15a-b6e2-4b0e-b7b2-4691528f1ed0"]
    assert reply.raw["quotes"][0]["reply_to"]["id"] == "714a7bda-9349-41f9-842d-27817339c845"
    assert reply.raw["quotes"][0]["reply_to"]["from"] == "1654984910"
    # The join notice: an action on the account it names.
    join = by_id["db1afcb5-e03e-4fca-bb9e-9ebe1c00bf48"]
    assert (join.action, join.targets) == ("joined", ["5860529659"])
    # The shared contact card, kept raw.
    card = by_id["076caedd-17fd-4d81-b6ce-132de4bedfa2"]
    assert card.raw["shared_contacts"] and card.kind == "other"


def _ctx(path: Path, locator: str, cov: Coverage) -> ParseContext:
    return ParseContext(locator=locator, opener=Opener(path=str(path)), scratch=path.parent, coverage=cov)


def test_synthetic_report_round_trip(tmp_path: Path) -> None:
    phone = example_phone(seed=3, chats=3, messages=6)
    report = tmp_path / "report.xml"
    report.write_text("".join(report_xml(phone)), encoding="utf-8")
    cov = Coverage()
    # As the walk hands it over: a member at the root of a UFDR.
    recs = list(PARSERS.get("ufdr-report").parse(_ctx(report, "/phone.ufdr!/report.xml", cov)))
    msgs = _messages(recs)
    assert len(msgs) == expected_messages(phone) == cov.units["instant messages"].parsed
    assert cov.status() == COMPLETE and cov.units["chats"].parsed == len(phone.chats)
    assert cov.units["user accounts"].parsed == 2
    platforms = {(m.platform, m.chat) for m in msgs}
    assert ("telegram", "5000000777") in platforms
    assert {p for p, _ in platforms} == {"whatsapp", "telegram"}
    # Telegram numeric ids in the form Telegram's own export writes; WhatsApp JIDs raw.
    tg = [m for m in msgs if m.platform == "telegram"]
    assert {m.sender for m in tg} == {"user5000000001", "user5000000777"}
    owners = {r.raw_id for r in recs if isinstance(r, AccountRecord) and r.is_device_owner}
    assert owners == {"34600000001@s.whatsapp.net", "user5000000001"}
    assert all(m.from_me == (m.sender in owners) for m in msgs)
    group = [r for r in recs if isinstance(r, ChatRecord) and r.kind == "group"]
    assert len(group) == 1 and group[0].title == "Group 2"
    # Every attachment points at its file's device path inside the UFDR, with the report's hash.
    with_media = [m for m in msgs if m.media is not None]
    assert with_media
    files = {f.device_path: f for f in phone.files}
    for m in with_media:
        assert m.media is not None and m.media.path is not None
        assert m.media.path.startswith("/phone.ufdr!/private/var/mobile/")
        f = files[m.media.path.removeprefix("/phone.ufdr!")]
        assert m.media.sha256 == hashlib.sha256(f.data).hexdigest()
        assert m.kind == "image"
    for chat in phone.chats:
        sent = [m for m in msgs if m.chat == chat.chat_id]
        assert [m.raw_id for m in sent] == [x.identifier for x in chat.messages]
        assert [m.time for m in sent] == [
            x.time.replace(microsecond=x.time.microsecond // 1000 * 1000) for x in chat.messages
        ]


def test_unsupported_app_and_stray_messages_are_counted(tmp_path: Path) -> None:
    phone = example_phone(seed=4, chats=1, messages=2)
    phone.chats[0].app = "Signal"
    text = "".join(report_xml(phone))
    stray = '<modelType type="InstantMessage"><model type="InstantMessage" id="s1"></model></modelType>'
    text = text.replace("</decodedData>", stray + "</decodedData>")
    report = tmp_path / "report.xml"
    report.write_text(text, encoding="utf-8")
    recs, cov = _parse(report)
    u = cov.units["instant messages"]
    assert u.present == 2 + 3 + 1 and u.parsed == 3 and u.skipped == 3 and not cov.unaccounted()
    reasons = {r.reason for r in cov.reasons.values() if r.kind == "skipped"}
    assert any("Signal" in r for r in reasons) and any("no Chat model" in r for r in reasons)
    assert cov.units["chats"].skipped == 1
    assert cov.status() == "partial"
    assert all(m.platform == "telegram" for m in _messages(recs))


@pytest.mark.parametrize("cut", [5000, 20000])
def test_broken_report_is_a_named_error_with_its_position(tmp_path: Path, cut: int) -> None:
    phone = example_phone(seed=5)
    path = write_ufdr(phone, tmp_path / "p.ufdr", break_report_at=cut)
    report = tmp_path / "report.xml"
    with zipfile.ZipFile(path) as zf:
        report.write_bytes(zf.read("report.xml"))
    with pytest.raises(ParseError, match=r"report\.xml: malformed XML at line \d+, column \d+"):
        _parse(report)


def test_report_is_streamed_not_held(tmp_path: Path) -> None:
    """5,000 messages: the parse's peak memory stays a small fraction of the report (a tree of it
    takes about eight times its size), since each message is dropped once read."""
    phone = example_phone(seed=10, chats=5, messages=1000)
    for chat in phone.chats:  # text only: the file list (held whole, one entry a file) stays small
        for msg in chat.messages:
            msg.attachment, msg.body = None, msg.body or "text"
    phone.files = phone.files[-1:]
    report = tmp_path / "report.xml"
    with report.open("w", encoding="utf-8") as fh:
        for piece in report_xml(phone):
            fh.write(piece)
    size = report.stat().st_size
    tracemalloc.start()
    try:
        n = sum(isinstance(r, MessageRecord) for r in parse_file(report))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == expected_messages(phone)
    assert peak < size / 10, (peak, size)


def test_same_jid_from_msgstore_and_ufdr_is_one_account(case: CaseHandle, tmp_path: Path) -> None:
    """An Android phone's msgstore.db and a UFDR naming one of its contacts by the same JID: one
    account, seen in both sources (identifiers kept raw, the number read from the JID by both)."""
    net = make_network(31, n_people=14, n_items=6, n_posts=60, image_size=(64, 48))
    android = next(s for s in net.seizures if s.kind == "phone" and s.format.startswith("msgstore"))
    root = tmp_path / "dev"
    write_app_tree(net, android, root / "android")
    key = sorted(net.seen_on(android))[0]
    number = net.people[key].phone
    assert number is not None and number.startswith("+")
    jid = number[1:] + "@s.whatsapp.net"
    phone = example_phone(seed=12, chats=1, messages=3)
    phone.accounts.append(Account("WhatsApp", jid, "Shared Contact"))
    phone.chats[0].participants.append(jid)
    phone.chats[0].messages.append(Message(jid, datetime(2024, 4, 1, 8, 0, tzinfo=UTC), body="hello"))
    write_ufdr(phone, root / "phone.ufdr")
    ingest(case, root, IngestOptions("P-JID", kind="phone", workers=0))
    with case.session() as s:
        parsers = dict(s.execute(select(store.MessagingSource.id, store.MessagingSource.parser)).all())
        assert set(parsers.values()) >= {"whatsapp-msgstore", "ufdr-report"}
        acc = s.scalars(select(store.Account).where(store.Account.key == number)).one()
        assert acc.platform == "whatsapp"
        seen = s.scalars(
            select(store.Sighting.source_id).where(
                store.Sighting.entity == "account", store.Sighting.entity_id == acc.id
            )
        ).all()
        assert {parsers[x] for x in seen} >= {"whatsapp-msgstore", "ufdr-report"}
