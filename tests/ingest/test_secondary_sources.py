"""Secondary messaging sources (``tessera.ingest.secondary``): a UFDR's decoded chats against the
ChatStorage.sqlite the same UFDR holds. Copies are counted as ignored, never stored twice; what only
the report has is stored; the comparison stays within one device. SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.ingest.secondary import is_secondary
from tessera.messaging.coverage import COMPLETE, Coverage
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.phone import (
    WA_CONTAINER,
    IPhone,
    build_iphone,
    decoded_messages,
    write_ffs_zip,
    write_iphone_ufdr,
)
from tessera.synth.ufdr import Message, write_ufdr


@pytest.fixture(scope="module")
def iphone() -> IPhone:
    return build_iphone(seed=5, n_messages=80, lids=False)


def _ingest(case: CaseHandle, source: Path, device: str) -> None:
    res = ingest(case, source, IngestOptions(device, kind="phone", workers=0))
    assert res.errors == 0 and not res.problems, res


def _source(case: CaseHandle, device: str, parser: str) -> m.MessagingSource:
    with case.session() as s:
        src = s.scalar(
            select(m.MessagingSource).where(
                m.MessagingSource.device_id == device, m.MessagingSource.parser == parser
            )
        )
        assert src is not None
        return src


def _messages(case: CaseHandle, device: str, source_id: int | None = None) -> list[m.Message]:
    with case.session() as s:
        q = select(m.Message).where(m.Message.device_id == device)
        if source_id is not None:
            q = q.where(m.Message.source_id == source_id)
        return list(s.scalars(q.order_by(m.Message.id)))


def _first_text(iphone: IPhone) -> tuple[str, Message]:
    chat = next(c for c in iphone.phone.chats if c.kind == "Group")
    return chat.chat_id, next(msg for msg in chat.messages if msg.body)


def test_ufdr_report_parser_is_secondary() -> None:
    assert is_secondary("ufdr-report")
    assert not is_secondary("whatsapp-ios") and not is_secondary("whatsapp-msgstore")
    assert not is_secondary("Signal")  # an app recorded as present, not parsed: no parser


def _report_first(ufdr: Path) -> None:
    """Rewrite the UFDR with report.xml as its first member: the walk meets it before the database."""
    with zipfile.ZipFile(ufdr) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    members.sort(key=lambda x: x[0] != "report.xml")
    with zipfile.ZipFile(ufdr, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)


def test_report_only_messages_are_stored_copies_ignored(
    iphone: IPhone, case: CaseHandle, tmp_path: Path
) -> None:
    chat_id, known = _first_text(iphone)
    carved = Message(known.sender, known.time + timedelta(minutes=7), body="carved from free pages")
    other_text = Message(known.sender, known.time, body="another text, the same second")
    second_copy = Message(known.sender, known.time, body=known.body)  # the report has it twice
    ufdr = write_iphone_ufdr(
        iphone,
        tmp_path / "phone.ufdr",
        report_only=[(chat_id, carved), (chat_id, other_text), (chat_id, second_copy)],
    )
    _report_first(ufdr)
    _ingest(case, ufdr, "P1")

    db = _source(case, "P1", "whatsapp-ios")
    report = _source(case, "P1", "ufdr-report")
    assert db.status == report.status == COMPLETE
    assert db.messages == iphone.truth.messages
    cov = Coverage.from_json(report.coverage)
    unit = cov.units["instant messages"]
    decoded = decoded_messages(iphone)
    assert (unit.present, unit.parsed, unit.ignored, unit.skipped) == (decoded + 3, 3, decoded, 0)
    reasons = {r.reason: r.count for r in cov.reasons.values() if r.kind == "ignored"}
    assert reasons == {f"also in {db.locator}": decoded}

    stored = _messages(case, "P1", report.id)
    assert sorted(msg.text or "" for msg in stored) == sorted(
        ["carved from free pages", "another text, the same second", known.body or ""]
    )
    with case.session() as s:
        sender = s.scalar(select(m.AccountAlias.account_id).where(m.AccountAlias.raw_id == known.sender))
        chat = s.scalar(select(m.Chat.key).where(m.Chat.id == stored[0].chat_id))
    assert chat == chat_id and all(msg.sender_id == sender for msg in stored)
    # Nothing doubled: one row per database message plus the three only the report has.
    assert len(_messages(case, "P1")) == iphone.truth.messages + 3


def test_media_copies_matched_by_hash(iphone: IPhone, case: CaseHandle, tmp_path: Path) -> None:
    """An attachment-only message is a copy when its file's SHA-256 is the one the database's
    message was linked to; another file at the same second is a message of its own."""
    chat = next(c for c in iphone.phone.chats if any(msg.attachment for msg in c.messages))
    pic = next(msg for msg in chat.messages if msg.attachment)
    other = next(f for f in iphone.files if f.device_path.endswith("IMG_0001.JPG"))
    ufdr = write_iphone_ufdr(
        iphone,
        tmp_path / "phone.ufdr",
        report_only=[(chat.chat_id, Message(pic.sender, pic.time, attachment=other.device_path))],
    )
    _ingest(case, ufdr, "P2")
    report = _source(case, "P2", "ufdr-report")
    stored = _messages(case, "P2", report.id)
    assert len(stored) == 1 and stored[0].media_path and stored[0].media_path.endswith("IMG_0001.JPG")
    with_media = [msg for msg in _messages(case, "P2") if msg.media_sha256]
    assert len(with_media) == len({sha for sha in iphone.truth.media_paths.values() if sha}) + 1


def test_copies_are_judged_within_one_device(iphone: IPhone, case: CaseHandle, tmp_path: Path) -> None:
    """Another device's database does not make a report's messages copies: a UFDR without the
    database (only the decoded chats) keeps every message it decodes."""
    write_ffs_zip(iphone, tmp_path / "ffs.zip")
    _ingest(case, tmp_path / "ffs.zip", "P3")
    bare = copy.deepcopy(iphone.phone)
    bare.files = [f for f in bare.files if not f.device_path.startswith(f"{WA_CONTAINER}/C")]
    assert len(bare.files) == len(iphone.files) - 2  # ChatStorage.sqlite and ContactsV2.sqlite out
    write_ufdr(bare, tmp_path / "report-only.ufdr")
    _ingest(case, tmp_path / "report-only.ufdr", "P4")
    report = _source(case, "P4", "ufdr-report")
    assert report.status == COMPLETE and report.messages == decoded_messages(iphone)
    cov = Coverage.from_json(report.coverage)
    assert cov.units["instant messages"].ignored == 0
    with case.session() as s:
        per_device = dict(
            s.execute(select(m.Message.device_id, func.count()).group_by(m.Message.device_id)).all()
        )
    assert per_device == {"P3": iphone.truth.messages, "P4": decoded_messages(iphone)}
